"""The documentation site's sources hold together without building it (CI builds it with
``mkdocs build --strict``): the API page documents every public name, each with a docstring of
its own; every page is in the navigation; the README's links work on a package index."""

import ast
import importlib
import pathlib
import re
import types

import jaxdnn
import jaxdnn.testing

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API = DOCS / "api.md"


def api_entries():
    """``{public name: dotted path where it is defined}`` from the API page's ``:::`` lines."""
    return {path.rsplit(".", 1)[-1]: path
            for path in re.findall(r"^::: ([\w.]+)$", API.read_text(), re.M)}


def attribute_docstring(module, name):
    """The string literal right after ``name = ...`` at the top of ``module`` (griffe's
    attribute docstring), or None."""
    body = ast.parse(pathlib.Path(module.__file__).read_text()).body
    for statement, following in zip(body, body[1:] + [None], strict=True):
        targets = (statement.targets if isinstance(statement, ast.Assign)
                   else [statement.target] if isinstance(statement, ast.AnnAssign) else [])
        if any(getattr(t, "id", None) == name for t in targets):
            if (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)):
                return following.value.value
            return None
    return None


def public_names():
    return [(module, name) for module in (jaxdnn, jaxdnn.testing) for name in module.__all__]


def test_the_api_page_documents_every_public_name_where_it_is_defined():
    entries = api_entries()
    missing = [f"{m.__name__}.{n}" for m, n in public_names() if n not in entries]
    assert missing == []
    for module, name in public_names():
        where, _, attribute = entries[name].rpartition(".")
        assert getattr(importlib.import_module(where), attribute) is getattr(module, name), name


def test_every_public_name_has_a_docstring_of_its_own():
    entries = api_entries()
    undocumented = []
    for module, name in public_names():
        obj = getattr(module, name)
        if isinstance(obj, type | types.FunctionType):
            doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
        else:  # a constant: documented by the string after its assignment
            where = importlib.import_module(entries[name].rpartition(".")[0])
            doc = attribute_docstring(where, name)
        if not (doc or "").strip():
            undocumented.append(f"{module.__name__}.{name}")
    assert undocumented == []


def test_every_page_is_in_the_navigation():
    config = (ROOT / "mkdocs.yml").read_text()
    nav = set(re.findall(r"^  - [^:]+: ([\w-]+\.md)$", config, re.M))
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages == nav


def test_the_readme_links_work_on_a_package_index():
    """A package index shows the README without the repository around it: every link is an
    absolute URL, and those into the documentation name a page that exists."""
    site = re.search(r"^site_url: (\S+)$", (ROOT / "mkdocs.yml").read_text(), re.M).group(1)
    links = re.findall(r"\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert links and [link for link in links if not link.startswith("https://")] == []
    for link in links:
        if link.startswith(site):
            page = link[len(site):].split("#")[0].strip("/") or "index"
            assert (DOCS / f"{page}.md").exists(), link
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'Documentation = "{site}"' in pyproject


def test_ci_runs_exactly_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The two commands"):readme.index("## Ten lines")]
    test_command = re.findall(r"```bash\n(.*?)\n```", section, re.S)[1]
    install, run = test_command.split(" && ")[2:]
    ci = [line.replace("python -m pip", "pip").replace(" --quiet", "")
          for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install in ci and run in ci
