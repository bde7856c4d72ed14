"""The ``jaxdnn`` console script, and ``python -m jaxdnn``. Until :mod:`jaxdnn.app.cli` has
loaded (jax takes a second to import) a SIGINT or SIGTERM ends the process with one line and exit
code 128 + signum instead of a ``KeyboardInterrupt`` traceback from inside an import;
:func:`jaxdnn.app.cli.main` then handles them (:mod:`jaxdnn.app.signals`). The process ends with
``os._exit`` once the command is done: Python resets the handlers to the default before it
finalises (and jax's teardown takes a moment), so a signal then would kill it without a word."""

import _signal  # first: the signal module itself takes a while to import
import os
import sys


def _starting(signum, frame):
    name = {_signal.SIGINT: "SIGINT", _signal.SIGTERM: "SIGTERM"}[signum]
    os.write(2, f"jaxdnn: interrupted by {name}\n".encode())
    os._exit(128 + signum)


for _signum in (_signal.SIGINT, _signal.SIGTERM):
    if _signal.getsignal(_signum) != _signal.SIG_IGN:  # a background job's stays ignored
        _signal.signal(_signum, _starting)

def main():
    """``jaxdnn``: :func:`jaxdnn.app.cli.main`, then the process ends with its exit code.
    ``--help`` and ``--version`` answer before jax is imported."""
    try:
        if _answered_without_jax(sys.argv[1:]):
            code = 0
        else:
            from jaxdnn.app import cli  # after the handlers, on purpose

            code = cli.main()
    except SystemExit as e:  # argparse: --help, a usage error
        code = e.code
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def _answered_without_jax(argv):
    """``jaxdnn``, ``jaxdnn --help`` and ``jaxdnn --version``: the top-level parser's answer,
    which needs no jax (a command's own ``--help`` builds its parser, which does)."""
    if argv[:1] not in ([], ["-h"], ["--help"], ["--version"]):
        return False
    from jaxdnn.app import commands

    commands.top_parser()[0].parse_args(argv)  # prints and exits, or a usage error: no command
    return True


if __name__ == "__main__":
    main()
