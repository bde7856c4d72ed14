"""The ``jaxdnn`` console script. Until :mod:`jaxdnn.app.cli` has loaded (jax takes a second to
import) a SIGINT or SIGTERM ends the process with one line and exit code 128 + signum instead of a
``KeyboardInterrupt`` traceback from inside an import; :func:`jaxdnn.app.cli.main` then handles them
(:mod:`jaxdnn.app.signals`). The process ends with ``os._exit`` once the command is done: Python
resets the handlers to the default before it finalises (and jax's teardown takes a moment), so a
signal then would kill it without a word."""

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

from jaxdnn.app import cli  # noqa: E402, I001  (after the handlers, on purpose)


def main():
    """``jaxdnn``: :func:`jaxdnn.app.cli.main`, then the process ends with its exit code."""
    try:
        code = cli.main()
    except SystemExit as e:  # argparse: --help, a usage error
        code = e.code
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)
