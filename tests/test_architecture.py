"""The package's shape, as docs/architecture.md states it: floors as folders that
import only the floors below them, every module listed there, no private name imported across
modules, modules and functions a reader can hold in view, and no process-global JAX setting
changed outside the command."""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jaxdnn"
FLOORS = ["errors", "core", "io", "train", "verify", "course", "app"]
"""Bottom to top: a module may import its own floor and the floors before it."""
FACES = {"__init__", "testing", "__main__"}
"""The top-level faces: the public names, jaxdnn.testing over verify/testing.py, and the console
script (``python -m jaxdnn``)."""
MAX_LINES = 400
MAX_FUNCTION_LINES = 60
DECLARATIVE = {("app/parser.py", "build_parser")}
"""Functions that only declare (the command's options), exempt from the length."""


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p.name != "__init__.py" or p.parent != PACKAGE)


def floor(path):
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_floors(path):
    """(floor, line) of every jaxdnn module ``path`` imports, relative or absolute."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                parts = [*base, *(node.module.split(".") if node.module else [])]
            else:
                parts = node.module.split(".") if node.module else []
            if parts[:1] != ["jaxdnn"]:
                continue
            if len(parts) == 1:  # from . import x, y: each name is a module of this package
                targets = [[*parts, alias.name] for alias in node.names]
            else:
                targets = [parts]
            for target in targets:
                if len(target) > 1:
                    yield target[1], node.lineno


@pytest.mark.parametrize("path", [p for p in modules() if floor(p) not in FACES],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_floor_imports_only_the_floors_below_it(path):
    own = FLOORS.index(floor(path))
    for target, line in imported_floors(path):
        if target in FACES:
            continue
        assert FLOORS.index(target) <= own, (
            f"{path.relative_to(ROOT)}:{line} imports {target}, a floor above {floor(path)}")


def test_no_private_name_is_imported_across_modules():
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(
                    "jaxdnn")):
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}"
                          for alias in node.names if alias.name.startswith("_")]
    assert not found


def test_modules_and_functions_stay_short():
    long_modules = {str(p.relative_to(PACKAGE)): n for p in modules()
                    if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long_modules
    long_functions = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                lines = node.end_lineno - node.lineno + 1
                where = (str(path.relative_to(PACKAGE)), node.name)
                if lines > MAX_FUNCTION_LINES and where not in DECLARATIVE:
                    long_functions.append((*where, lines))
    assert not long_functions


def test_only_the_command_changes_jax_settings():
    """A library function leaves process-global JAX settings alone: x64 and the compilation
    cache are the command's to set, once, at its start (a script may call cache.enable)."""
    setters = {str(p.relative_to(PACKAGE)) for p in modules()
               if re.search(r"^\s*jax\.config\.update\(", p.read_text(), re.M)}
    assert setters == {"app/cli.py", "app/cache.py"}


def test_the_docs_list_every_module_of_its_floor():
    page = (ROOT / "docs" / "architecture.md").read_text()
    section = page[page.index("## Floors as folders"):]
    section = section[:section.index("\n## ", 1)]
    for path in modules():
        if path.name == "__init__.py":
            continue
        name = str(path.relative_to(PACKAGE))
        assert f"`{path.stem}`" in section or name in section, name
    for name in FLOORS[1:]:
        assert f"`{name}/`" in section, name
