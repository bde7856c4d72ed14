"""The package's metadata tells the truth: every declared floor is the version the floors' CI
step installs (.ci/minimum-constraints.txt), and the licence the metadata names ships."""

import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONSTRAINTS = ROOT / ".ci" / "minimum-constraints.txt"


def version(text):
    """``"2.0"`` -> ``(2, 0, 0)``: releases compared as numbers, missing parts as zeros."""
    parts = tuple(int(p) for p in text.split("."))
    return parts + (0,) * (3 - len(parts))


def floors():
    """``{name: minimum}`` of the dependencies and of the ``test`` and ``plot`` extras."""
    project = PYPROJECT["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["test"],
                    *project["optional-dependencies"]["plot"]]
    found = {}
    for requirement in requirements:
        name, minimum = re.fullmatch(r"([\w-]+)(?:\[\w+\])?>=([\d.]+)", requirement).groups()
        found[name.lower()] = version(minimum)
    return found


def pins():
    found = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, pinned = line.split("==")
            found[name.strip().lower()] = version(pinned.strip())
    return found


def test_every_floor_is_the_version_ci_installs():
    pinned = pins()
    assert {name: pinned.get(name) for name in floors()} == floors()


def test_the_licence_ships():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) 2026 the jaxdnn")
