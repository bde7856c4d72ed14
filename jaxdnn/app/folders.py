"""The folders a command writes into: one run at a time in each, under an OS lock."""

import fcntl
import os
from contextlib import contextmanager

from ..errors import OptionError

LOCK = ".jaxdnn.lock"


@contextmanager
def exclusive(out):
    """Hold an OS lock on ``out`` for the run: a second run into the same folder is refused
    (the kernel releases the lock of a run that crashed or was killed). ``out`` must be a
    writable folder or a path where one can be made; one made here is removed again if the run
    leaves nothing in it. A lock file that is a symbolic link is refused (its target is never
    created)."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise OptionError(f"--out {out} exists and is not a folder")
    created = not os.path.exists(out)
    path = os.path.join(out, LOCK)
    try:
        os.makedirs(out, exist_ok=True)
        if os.path.islink(path):  # never followed: a link could make jaxdnn create its target
            raise OptionError(f"{path} is a symbolic link, not jaxdnn's lock file: remove it")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise OptionError(f"cannot write into --out {out}: {e.strerror}") from None
    held = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = os.path.exists(path) and os.fstat(fd).st_ino == os.stat(path).st_ino
        except BlockingIOError:
            pass
        if not held:  # locked, or unlinked by a run that ended meanwhile
            raise OptionError(f"another jaxdnn run is writing to {out}: wait for it, or choose "
                              f"another --out")
        yield
    finally:
        if held:
            os.unlink(path)
        os.close(fd)
        if created and os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)
