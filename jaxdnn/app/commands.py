"""The ``jaxdnn`` command's top-level parser: its description, ``--version`` and the list of
commands, built without importing jax (``jaxdnn --help`` answers at once); their options are
added by :mod:`jaxdnn.app.parser`."""

import argparse
from importlib.metadata import PackageNotFoundError, version

DESCRIPTION = """\
Train, evaluate and verify L-layer networks whose backward pass is written by hand.

Start with: jaxdnn train, then jaxdnn evaluate --params runs/latest/model.npz.
"jaxdnn COMMAND --help" lists a command's options."""

COMMANDS = {
    "train": "train a classifier; writes model, metrics and figures into a new folder "
             "runs/<dataset>-<date>-<n> (runs/latest points at the newest)",
    "evaluate": "accuracy of a saved model on the data it was trained on",
    "predict": "classify images or rows of features (.csv, .npy) with a saved model",
    "sweep": "the hidden-layer-size study on the planar data",
    "compare": "the hidden-activation study of the cat model, over many seeds",
    "check": "verify the hand-written backward pass against three witnesses",
    "plot-activations": "draw the activations and their derivatives",
}


def csv(items):
    """A list as the command line writes it: comma-separated."""
    return ",".join(map(str, items))


def package_version():
    try:
        return version("jaxdnn")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "(not installed)"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", Help)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"jaxdnn: error: {message}\n")


class Help(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; every option's default shown, unless its help says it or it
    has none (a list as its comma-separated items)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "default" in text or any(default is v for v in (None, False, argparse.SUPPRESS)) \
                or not action.option_strings:  # (0 is a default to show: not ``in``)
            return text
        shown = (csv(default) if isinstance(default, list) else str(default)).replace("%", "%%")
        return f"{text} (default: {shown})".strip()


def top_parser():
    """``(parser, {command: its subparser})``: the top level, each command with its help and
    no options yet."""
    parser = Parser(prog="jaxdnn", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"jaxdnn {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser,
                                metavar="COMMAND", title="commands")
    return parser, {name: sub.add_parser(name, help=text, description=text[0].upper() + text[1:]
                                         + ".")
                    for name, text in COMMANDS.items()}
