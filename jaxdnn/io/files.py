"""Files: paths checked before they are opened, and writes that are atomic.

A write goes to a temporary file in the same folder, is flushed and fsynced, then renamed over
the target, so a crash leaves either the old file or the new one; :func:`write_files` does the
same for a set of files, all or none. Only a regular file is opened for reading: a folder, FIFO
or device is refused first (reading a FIFO would wait forever).
"""

import os
import shutil
import stat
import tempfile

from ..errors import DataError, InputTypeError


def path(p, name="path"):
    """``p`` must be a path: a str or an ``os.PathLike``."""
    if not isinstance(p, (str, os.PathLike)):
        raise InputTypeError(f"{name} must be a path (a str or os.PathLike); got "
                             f"{type(p).__name__}")
    return p


def regular_file(p, what="file", name="path"):
    """``p`` must name an existing regular file: a folder, FIFO or device is refused before it
    is opened (reading a FIFO would wait forever)."""
    path(p, name)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise DataError(f"{p}: no such {what}") from None
    except OSError as e:
        raise DataError(f"{p}: cannot read the {what} ({e.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device or socket")
        raise DataError(f"{p}: not a regular file ({kind}); a {what} must be a regular file")
    return p


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, rename it to ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary name only
        with os.fdopen(fd, "wb") as f:
            _write_synced(f, write)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def check_targets(folder, names, error=DataError):
    """``folder`` must be a folder (or a path where one can be made) in which every file of
    ``names`` can be written: a file in the folder's place, or a target that exists and is not
    a regular file (a folder named ``model.npz``, a link), is an ``error`` naming it. Called
    before anything is written, so a set of outputs is never left half written."""
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise error(f"{folder} exists and is not a folder: cannot write {', '.join(names)} "
                    f"into it")
    for name in names:
        target = os.path.join(folder, name)
        if os.path.islink(target) or (os.path.lexists(target) and not os.path.isfile(target)):
            kind = ("a link" if os.path.islink(target) else
                    "a folder" if os.path.isdir(target) else "not a regular file")
            raise error(f"{target} is {kind}: jaxdnn writes its {name} there; move it away")


def write_files(folder, files):
    """Write every ``name: write(file)`` of ``files`` into ``folder``, all or none: every target
    is checked first (:func:`check_targets`), then each is written into a staging folder inside
    ``folder`` (the target's own filesystem, even when ``folder`` is a mount point or a link to
    another one), then moved in by an atomic rename; a file it replaces is kept aside until every
    rename has succeeded, and put back if one fails. A failure leaves ``folder`` as it was (and
    removes it if it was created here)."""
    check_targets(folder, list(files))
    created = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    staging = tempfile.mkdtemp(dir=folder, prefix=".jaxdnn-staging-")
    moved = []  # (target, the file it replaced kept aside, or None), once renamed
    try:
        for name, write in files.items():
            with open(os.path.join(staging, name), "wb") as f:
                _write_synced(f, write)
        for name in files:
            target, kept = os.path.join(folder, name), os.path.join(staging, ".old-" + name)
            if os.path.lexists(target):
                _keep(target, kept)  # the old file stays at its name until replaced
            os.replace(os.path.join(staging, name), target)
            moved.append((target, kept if os.path.lexists(kept) else None))
    except BaseException:
        _restore(moved)
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _keep(target, kept):
    """A second name (a hard link, else a copy) for the file ``target`` before it is replaced."""
    try:
        os.link(target, kept)
    except OSError:
        shutil.copy2(target, kept)


def _restore(moved):
    """Undo :func:`write_files`' renames: each target back to the file it replaced, or gone."""
    for target, kept in reversed(moved):
        try:
            if kept is None:
                os.unlink(target)
            else:
                os.replace(kept, target)
        except OSError:
            pass


def _write_synced(f, write):
    write(f)
    f.flush()
    os.fsync(f.fileno())
