"""The folders a command writes into: one run at a time in each, under an OS lock; a new folder
per run under ``runs/``, with ``runs/latest`` pointing at the newest."""

import datetime
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


RUNS = "runs"
"""Where ``jaxdnn train`` without ``--out`` makes a folder per run."""
LATEST = "latest"
"""The name, in :data:`RUNS`, that points at the newest run: a symbolic link, or a text file
holding the run folder's name where links cannot be made."""


def new_run(dataset, root=RUNS, today=None):
    """Make and return a new, empty folder ``root/<dataset>-<YYYYMMDD>-<n>``, n one more than
    the largest of that day's folders of the data set (made atomically: two runs started at
    once get two folders)."""
    stamp = (today or datetime.date.today()).strftime("%Y%m%d")
    prefix = f"{dataset}-{stamp}-"
    try:
        os.makedirs(root, exist_ok=True)
        taken = [name[len(prefix):] for name in os.listdir(root) if name.startswith(prefix)]
    except OSError as e:
        raise OptionError(f"cannot make a run folder in {root}: {e.strerror}") from None
    n = max([int(t) for t in taken if t.isdigit()], default=0) + 1
    while True:
        folder = os.path.join(root, f"{prefix}{n}")
        try:
            os.mkdir(folder)
            return folder
        except FileExistsError:
            n += 1
        except OSError as e:
            raise OptionError(f"cannot make the run folder {folder}: {e.strerror}") from None


def point_latest(folder, root=RUNS):
    """Point ``root/latest`` at ``folder`` (a run folder inside ``root``): a relative symbolic
    link replaced atomically, else a text file holding its name. Returns the path of latest,
    or None where an older layout's real folder ``runs/latest`` is in the way (left as is)."""
    latest = os.path.join(root, LATEST)
    if os.path.isdir(latest) and not os.path.islink(latest):
        return None
    name = os.path.relpath(folder, root)
    staged = os.path.join(root, f".{LATEST}-{os.getpid()}")
    try:
        try:
            os.symlink(name, staged, target_is_directory=True)
        except (OSError, NotImplementedError):  # no links here: a file naming the folder
            with open(staged, "w") as f:
                f.write(name + "\n")
        os.replace(staged, latest)
    except OSError:
        if os.path.lexists(staged):
            os.unlink(staged)
        return None
    return latest


def resolve(folder):
    """``folder``, or the run folder that a ``latest`` text file names."""
    if os.path.basename(os.path.normpath(folder)) == LATEST and os.path.isfile(folder):
        try:
            with open(folder) as f:
                name = f.read().strip()
        except OSError:
            return folder
        if name and os.sep not in name and name not in (".", ".."):
            return os.path.join(os.path.dirname(folder), name)
    return folder


OUTPUTS = ("model.npz", "metrics.json", "costs.png", "learning_curves.png",
           "decision_boundary.png", "mislabeled.png")
"""The files a finished run writes besides its checkpoint."""


def finished_outputs(out):
    """The outputs of a finished run that ``out`` holds."""
    return [name for name in OUTPUTS if os.path.isfile(os.path.join(out, name))]
