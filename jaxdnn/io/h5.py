"""HDF5 data files: a data set is read from the file that names it, and only as it was written.

An HDF5 file can point outside itself: an external link (an object of another file), a virtual
data set (mapped from data sets of other files) or external storage (a data set whose bytes lie
in raw files elsewhere: a FIFO among them would block a read forever). None is followed unless
the caller opts in with ``allow_external=True``, so a data file reads nothing but its own bytes.
Also refused, whatever the caller: a data set some of whose storage was never written (it reads
as its fill value, zeros), and a file that shrinks while it is read (HDF5 reads the missing
bytes as zeros too).
"""

import math
import os

import h5py

from ..core import limits
from ..errors import DataError

_OPT_IN = "pass allow_external=True to read it"


def find(f, key, name, allow_external=False):
    """The object ``key`` names in the open file ``f``, None if nothing does. Its path is walked a
    link at a time, so an external link is refused before the file it names is opened (unless
    ``allow_external``); ``name`` is how messages name ``key``."""
    if allow_external:
        return f.get(key)
    node, parts, links = f["/"] if key.startswith("/") else f, _parts(key), 0
    while parts:
        part = parts.pop(0)
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            return None
        if isinstance(link, h5py.ExternalLink):
            raise DataError(f"{name} is an external link to {link.path!r} in {link.filename!r}, "
                            f"another file: {_OPT_IN}")
        if isinstance(link, h5py.SoftLink):
            links += 1
            if links > limits.MAX_H5_LINKS:
                raise DataError(f"{name}: too many links (more than {limits.MAX_H5_LINKS} soft "
                                f"links: a loop; MAX_H5_LINKS)")
            node = f["/"] if link.path.startswith("/") else node
            parts = _parts(link.path) + parts
            continue
        node = node[part]
    return node


def _parts(path):
    return [part for part in path.split("/") if part and part != "."]


def check_storage(dataset, name, allow_external=False):
    """``dataset`` must hold its own bytes (not virtual, no external storage, unless
    ``allow_external``), every one of them written."""
    plist = dataset.id.get_create_plist()
    if dataset.is_virtual or plist.get_external_count():
        if allow_external:
            return
        if dataset.is_virtual:
            sources = sorted({source.file_name for source in dataset.virtual_sources()})
            raise DataError(f"{name} is a virtual data set, mapped from {', '.join(sources)}: "
                            f"{_OPT_IN}")
        outside = plist.get_external(0)[0].decode(errors="replace")
        raise DataError(f"{name} keeps its data outside the file (external storage in "
                        f"{outside!r}): {_OPT_IN}")
    declared = dataset.size * dataset.dtype.itemsize
    if not declared or plist.get_layout() == h5py.h5d.COMPACT:
        return
    if dataset.chunks is None:
        written = dataset.id.get_storage_size() >= declared
        what = "none of it was ever written (it would read as zeros)"
    else:
        chunks = math.prod(math.ceil(n / c) for n, c in zip(dataset.shape, dataset.chunks,
                                                            strict=True))
        stored = dataset.id.get_num_chunks()
        written = stored >= chunks
        what = (f"only {stored:,} of its {chunks:,} chunks were ever written (the rest would "
                f"read as zeros)")
    if not written:
        raise DataError(f"{name} declares shape {dataset.shape} ({declared:,} bytes) but "
                        f"{what}")


def file_size(path):
    """The size of ``path`` now, to compare with after reading (:func:`not_truncated`)."""
    return os.stat(path).st_size


def not_truncated(path, size, name):
    """``path``, ``size`` bytes when opened, must not have shrunk: HDF5 reads the bytes cut off
    as zeros, with no error."""
    try:
        now = file_size(path)
    except OSError as err:
        raise DataError(f"{name}: the file went away while it was read ({err.strerror})") \
            from None
    if now < size:
        raise DataError(f"{name}: the file was truncated while it was read ({now:,} bytes, "
                        f"{size:,} when opened): what was cut off would read as zeros")
