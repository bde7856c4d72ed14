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
"""

import fcntl
import os
import time

import jax

MAX_BYTES = 1 << 30
"""The cache folder's size limit; it also turns on JAX's file lock (see above)."""
LOCK_FILE = ".lockfile"
"""The file JAX's cache locks (``jax._src.lru_cache``) around every read and write."""


def folder(environ=os.environ):
    """The cache folder :func:`enable` uses, or None when ``JAXDNN_CACHE_DIR`` turns it off."""
    given = environ.get("JAXDNN_CACHE_DIR")
    if given is not None:
        return None if given.strip().lower() in ("", "off") else os.path.expanduser(given)
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxdnn", "xla")


def enable():
    """Turn on the persistent compilation cache in :func:`folder` for this process (every
    program, however quick to compile). Returns the folder, or None if it stays off."""
    path = folder()
    if path is None:
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    # jaxdnn's loops compile in 0.3-1.5 s: below JAX's default threshold of 1 s, most would
    # never be written.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path


def wait_for_writes(path, timeout=5.0):
    """Hold the cache folder ``path``'s lock (waiting at most ``timeout`` s for a write in
    progress to end) until the process exits: called just before a signal ends the process at
    once, since JAX writes an entry with a plain ``write_bytes`` under that lock and a process
    ended halfway would leave a truncated entry that later runs warn about."""
    try:
        fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return  # no cache folder yet: nothing is being written
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return  # kept: the kernel releases it when the process ends
        except BlockingIOError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
