"""JAX's persistent compilation cache for the ``jaxdnn`` command: compiled programs kept on disk,
so a new process loads them instead of compiling again.

Only :func:`enable` turns it on (``jaxdnn.cli.main`` calls it; a script may too): importing
jaxdnn changes no JAX setting. The folder is ``$JAXDNN_CACHE_DIR`` if set, else
``$XDG_CACHE_HOME/jaxdnn/xla``, else ``~/.cache/jaxdnn/xla``; ``JAXDNN_CACHE_DIR`` set to ``off``
(or empty) leaves the cache off.

Two processes may share the folder. JAX's file cache (jax 0.10) writes an entry with a plain
``write_bytes`` unless the cache has a size limit; with one it takes a ``filelock`` lock around
every read and write, so no process reads a half-written entry. :data:`MAX_BYTES` sets that
limit (least recently used entries go first beyond it).

What protects a run from an entry that is not what its name says (:func:`heal`, at the start
and the end of every command): the folder is keyed by the versions of jaxdnn, jax and jaxlib
(``<folder>/jaxdnn-<v>-jax-<v>-jaxlib-<v>``), so another version's programs are never read; it
must be this user's and writable by no one else (a folder another user owns, or that a group or
everyone may write, turns the cache off), since whoever can write it could plant a program;
every entry gets a record (``<entry>.sha256``: its SHA-256, size and modification time) when it
is first seen whole, and an entry that does not decompress, or has changed since (its size or
time differ and so does its hash: corrupted, cut short by a full disk, or swapped for another
program), is removed before JAX can read it, so the program is
compiled again and the entry rewritten. A cache that cannot be used (the path is a file, the
folder cannot be written, the disk has less than :data:`MIN_FREE_BYTES` free) is turned off for
the run with one line on stderr, instead of JAX's warnings at every compilation.
"""

import fcntl
import hashlib
import importlib
import os
import stat
import sys
import time
from importlib.metadata import version

import jax
import jaxlib

MAX_BYTES = 1 << 30
"""The cache folder's size limit; it also turns on JAX's file lock (see above)."""
MIN_FREE_BYTES = 64 << 20
"""Below this much free space on its disk the cache is off (an entry is up to a few MiB)."""
LOCK_FILE = ".lockfile"
"""The file JAX's cache locks (``jax._src.lru_cache``) around every read and write."""


def folder(environ=os.environ):
    """The cache folder :func:`enable` uses, or None when ``JAXDNN_CACHE_DIR`` turns it off."""
    given = environ.get("JAXDNN_CACHE_DIR")
    if given is not None:
        return None if given.strip().lower() in ("", "off") else os.path.expanduser(given)
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxdnn", "xla")


def enable(note=None):
    """Turn on the persistent compilation cache in :func:`folder` for this process (every
    program, however quick to compile), in its subfolder for these versions, once it is usable
    (:func:`usable`) and healed (:func:`heal`). Returns the subfolder, or None if the cache
    stays off; ``note(text)`` (default: a line on stderr) hears why it is off."""
    path = folder()
    if path is None:
        return None
    path = versioned(path)
    problem = usable(path)
    if problem is not None:
        (note or _stderr)(f"jaxdnn: note: the compilation cache {path} {problem}; it is off "
                          f"for this run (JAXDNN_CACHE_DIR=off turns it off for good)")
        return None
    heal(path)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    # jaxdnn's loops compile in 0.3-1.5 s: below JAX's default threshold of 1 s, most would
    # never be written.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path


def versioned(path):
    """The subfolder of the cache folder ``path`` that this jaxdnn, jax and jaxlib use."""
    return os.path.join(path, f"jaxdnn-{version('jaxdnn')}-jax-{jax.__version__}-jaxlib-"
                              f"{jaxlib.__version__}")


def _stderr(text):
    print(text, file=sys.stderr)


def usable(path):
    """None if the cache folder ``path`` (made here, private, if missing) can be used, else
    what is wrong with it."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
        free = os.statvfs(path)
    except FileExistsError:
        return "is not a folder"
    except OSError as e:
        return f"cannot be made ({e.strerror})"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return ("is another user's" if info.st_uid != os.geteuid() else
                "may be written by others (chmod go-w it)")
    if not os.access(path, os.W_OK | os.X_OK):
        return "cannot be written"
    if free.f_bavail * free.f_frsize < MIN_FREE_BYTES:
        return f"has under {MIN_FREE_BYTES >> 20} MiB free on its disk"
    return None


def heal(path, timeout=5.0):
    """Check every entry of the cache folder ``path`` under JAX's lock (skipped if another
    process holds it for ``timeout`` s): record the SHA-256 of one seen whole for the first
    time, and remove one that does not decompress or no longer matches its record (with its
    access time and record), so that it is compiled and written again. Returns the names
    removed."""
    removed = []
    try:
        fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return removed
    try:
        if not _lock(fd, timeout):  # no JAX write in progress meanwhile
            return removed
        names = set(os.listdir(path))
        for name in names:
            if name.endswith("-cache.sha256") and name[:-len(".sha256")] not in names:
                os.unlink(os.path.join(path, name))  # an evicted entry's: a new one is new
        for name in sorted(names):
            if name.endswith("-cache") and not _whole(os.path.join(path, name)):
                removed.append(name)
                for stale in (name, name[:-len("-cache")] + "-atime", name + ".sha256"):
                    try:
                        os.unlink(os.path.join(path, stale))
                    except OSError:
                        pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return removed


def _whole(entry):
    """Whether the cache entry ``entry`` is what it was when first seen whole: its record holds
    its SHA-256, size and modification time; an entry whose size and time are the recorded
    ones is not read again (a cache near :data:`MAX_BYTES` would take seconds to hash)."""
    info = os.stat(entry)
    stamp = f"{info.st_size} {info.st_mtime_ns}"
    try:
        with open(entry + ".sha256") as f:
            recorded = f.read().split()
    except FileNotFoundError:
        recorded = None
    if recorded is not None and " ".join(recorded[1:]) == stamp:
        return True
    with open(entry, "rb") as f:
        content = f.read()
    digest = hashlib.sha256(content).hexdigest()
    if recorded is not None and recorded[0] != digest:
        return False
    try:
        importlib.import_module("jax._src.compilation_cache").decompress_executable(content)
    except AttributeError:  # a jax without it: the record alone
        pass
    except Exception:
        return False
    with open(entry + ".sha256", "w") as f:  # a new record, or one with the entry's new time
        f.write(f"{digest} {stamp}\n")
    return True


def wait_for_writes(path, timeout=5.0):
    """Hold the cache folder ``path``'s lock (waiting at most ``timeout`` s for a write in
    progress to end) until the process exits: called just before a signal ends the process at
    once, since JAX writes an entry with a plain ``write_bytes`` under that lock and a process
    ended halfway would leave a truncated entry that later runs warn about."""
    try:
        fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return  # no cache folder yet: nothing is being written
    _lock(fd, timeout)  # kept: the kernel releases it when the process ends


def _lock(fd, timeout):
    """Take the lock of ``fd``, waiting at most ``timeout`` s; whether it was taken."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
