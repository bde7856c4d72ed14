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
- a second signal while a file is being saved (:func:`saving`: a checkpoint, the outputs) is
  ignored: the save completes, and a run already asked to stop then stops there, with its one
  line, always the same way;
- the same SIGTERM delivered twice (``timeout`` signals the process and then its group) is one
  request: a repeated SIGTERM is ignored, as is any signal repeated within
  :data:`DUPLICATE_SECONDS` (a process manager's way to end a process at once is SIGKILL);
- any other signal writes one line to stderr and ends the process with ``os._exit(128 + signum)``.
  Nothing unwinds through jax, and every file jaxdnn writes is complete or absent (a temporary
  name, then a rename), so the last checkpoint is kept.

:func:`handled` turns this on for a block (the ``jaxdnn`` command: its whole run) and restores the
previous handlers after it; only the main thread can. A signal the process was started
ignoring (``SIG_IGN``: a background job of a shell) stays ignored.
"""

import os
import signal
import threading
import time
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
DUPLICATE_SECONDS = 0.05
"""A signal equal to the one recorded and this soon after it is the same delivery."""


class Deferred:
    """The first signal while deferred (``signum``, else None); ``note()`` ends the line that a
    second signal prints."""

    def __init__(self, note):
        self.signum, self.note, self.at = None, note, None


_deferred = [None]  # the innermost Deferred, read by the watcher thread
_active = [False]
_saving = [0]  # how many saves are in progress (saving())
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
            deferred.signum, deferred.at = signum, time.monotonic()
            continue
        if deferred is not None and (_saving[0] or _repeated(deferred, signum)):
            continue  # a save completes first; one request delivered twice is one
        while _saving[0]:  # not deferred: a save in progress completes first
            time.sleep(0.01)
        note = deferred.note() if deferred is not None else ""
        for wait in _before_exit:
            wait()
        os.write(2, f"jaxdnn: interrupted by {signal.Signals(signum).name}{note}\n".encode())
        os._exit(128 + signum)


def _repeated(deferred, signum):
    return signum == deferred.signum and (
        signum == signal.SIGTERM or time.monotonic() - deferred.at < DUPLICATE_SECONDS)


@contextmanager
def saving():
    """A signal during this block (a checkpoint or the outputs being written) never cuts it:
    inside :func:`deferred` the first is recorded as ever and any other ignored; elsewhere the
    process ends once the block is over."""
    _saving[0] += 1
    try:
        yield
    finally:
        _saving[0] -= 1


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
    # one set outside Python (None here), or one the process started ignoring, is left alone
    previous = {s: signal.signal(s, _nothing) for s in SIGNALS
                if signal.getsignal(s) not in (None, signal.SIG_IGN)}
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
