"""SIGINT and SIGTERM, safe while XLA runs.

Python runs a signal handler in the main thread between two bytecodes: never while that thread
waits inside XLA (so a second Ctrl-C waited for the whole segment), and a ``KeyboardInterrupt``
raised from it unwinds through jax wherever it happens to be (a dispatch, a gc callback), which
ended in tracebacks, a swallowed interrupt or a segmentation fault. Here the Python handler does
nothing. The interpreter's C handler writes the signal's number to a pipe
(:func:`signal.set_wakeup_fd`) and a watcher thread wakes on it at once, even while the main thread
waits inside XLA:

- inside :func:`deferred`, the first signal is only recorded (``signum``) for the caller to stop at
  a safe point (a training loop: its next checkpoint);
- any other signal writes one line to stderr and ends the process with ``os._exit(128 + signum)``.
  Nothing unwinds through jax, and every file jaxdnn writes is complete or absent (a temporary
  name, then a rename), so the last checkpoint is kept.

:func:`handled` turns this on for a block (the ``jaxdnn`` command: its whole run) and restores the
previous handlers after it; only the main thread can.
"""

import os
import signal
import threading
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Deferred:
    """The first signal while deferred (``signum``, else None); ``note()`` ends the line that a
    second signal prints."""

    def __init__(self, note):
        self.signum, self.note = None, note


_deferred = [None]  # the innermost Deferred, read by the watcher thread
_active = [False]
_before_exit = []  # what waits for a write in progress before the process ends at once


def _nothing(signum, frame):
    """Installed so that the C handler runs (and writes the wakeup pipe); the watcher acts."""


def _watch(fd):
    while True:
        byte = os.read(fd, 1)
        if not byte:  # the write end was closed: handled() ended
            os.close(fd)
            return
        signum = byte[0]
        if signum not in SIGNALS:
            continue
        deferred = _deferred[0]
        if deferred is not None and deferred.signum is None:
            deferred.signum = signum
            continue
        note = deferred.note() if deferred is not None else ""
        for wait in _before_exit:
            wait()
        os.write(2, f"jaxdnn: interrupted by {signal.Signals(signum).name}{note}\n".encode())
        os._exit(128 + signum)


@contextmanager
def handled(before_exit=None):
    """Inside this block (nested ones share it) a SIGINT or SIGTERM ends the process at once with
    one line and exit code 128 + signum, unless :func:`deferred`; ``before_exit()`` first waits
    for what must not be cut in half (the compilation cache's writes). Outside the main thread
    it changes nothing. Yields a :class:`Deferred` that records nothing."""
    if _active[0] or threading.current_thread() is not threading.main_thread():
        yield Deferred(None)  # an outer block handles them, or none can
        return
    read, write = os.pipe()
    os.set_blocking(write, False)  # the C handler must never block
    previous = {s: signal.signal(s, _nothing) for s in SIGNALS  # one set outside Python
                if signal.getsignal(s) is not None}                 # (None here) is left alone
    previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read,), daemon=True, name="jaxdnn-signals").start()
    _active[0] = True
    _before_exit[:] = [before_exit] if before_exit else []
    try:
        yield Deferred(None)
    finally:
        _active[0] = False
        _before_exit.clear()
        signal.set_wakeup_fd(previous_fd)
        for s, handler in previous.items():
            signal.signal(s, handler)
        os.close(write)


@contextmanager
def deferred(note=lambda: ""):
    """Inside :func:`handled` (entered here if need be): the first signal is recorded in the
    :class:`Deferred` this yields, for the caller to stop at a safe point; a second one ends the
    process, with ``note()`` at the end of its line. Outside the main thread nothing is
    recorded."""
    state = Deferred(note)
    with handled():
        if threading.current_thread() is not threading.main_thread():
            yield state
            return
        outer, _deferred[0] = _deferred[0], state
        try:
            yield state
        finally:
            _deferred[0] = outer
