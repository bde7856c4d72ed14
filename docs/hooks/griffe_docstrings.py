"""A griffe extension for the API reference: the package's docstrings are reStructuredText-ish
(``:func:`name```, doctest blocks in the text); mkdocstrings renders Markdown. Before griffe
parses a docstring, cross-reference roles become code spans and each doctest block becomes a
fenced ``pycon`` block, so the reference shows them as written and no ``[0, 0]`` of an example
is taken for a Markdown link."""

import re

import griffe

ROLE = re.compile(r":(?:func|class|data|mod|meth|attr|exc|obj):`~?([^`]+)`")


def _short(match):
    target = match.group(1)
    return f"`{target.rsplit('.', 1)[-1]}`" if "`~" in match.group(0) else f"`{target}`"


def markdown(text):
    """``text`` with roles as code spans and doctest blocks fenced."""
    out, in_example = [], False
    for line in ROLE.sub(_short, text).split("\n"):
        if line.lstrip().startswith(">>>") and not in_example:
            out += ["```pycon"]
            in_example = True
        elif in_example and not line.strip():
            out += ["```"]
            in_example = False
        out.append(line)
    return "\n".join(out + (["```"] if in_example else []))


class Docstrings(griffe.Extension):
    """Rewrite every docstring before it is parsed."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
