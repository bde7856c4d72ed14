"""HDF5 data sets stored in every hostile way, shared by the data, stream and fuzz tests.

``STORAGE[kind](f, key, value, folder)`` writes the data set ``key`` of the open file ``f``
holding ``value`` (or only declaring its shape and dtype), stored that way; files it points to
go in ``folder``, which the caller keeps outside the data's own folder. ``OUTSIDE`` are the kinds
that read another file (refused unless the caller opts in with ``allow_external=True``);
``UNWRITTEN`` those that hold fewer bytes than they declare (always refused).
"""

import os

import h5py
import numpy as np


def _other_file(folder, key, value):
    path = os.path.join(folder, f"elsewhere-{key}.h5")
    with h5py.File(path, "w") as other:
        other["data"] = value
    return path


def _external_storage(f, key, value, folder):
    raw = os.path.join(folder, f"{key}.raw")
    np.ascontiguousarray(value).tofile(raw)
    f.create_dataset(key, value.shape, value.dtype, external=[(raw, 0, h5py.h5f.UNLIMITED)])


def _fifo_storage(f, key, value, folder):
    """External storage in a FIFO that nothing writes to: a read of it never returns."""
    fifo = os.path.join(folder, f"{key}.fifo")
    os.mkfifo(fifo)
    f.create_dataset(key, value.shape, value.dtype, external=[(fifo, 0, h5py.h5f.UNLIMITED)])


def _external_link(f, key, value, folder):
    f[key] = h5py.ExternalLink(_other_file(folder, key, value), "/data")


def _soft_link_into_an_external_group(f, key, value, folder):
    f[f"{key}-group"] = h5py.ExternalLink(_other_file(folder, key, value), "/")
    f[key] = h5py.SoftLink(f"/{key}-group/data")


def _virtual(f, key, value, folder):
    layout = h5py.VirtualLayout(value.shape, value.dtype)
    layout[...] = h5py.VirtualSource(_other_file(folder, key, value), "data", shape=value.shape)
    f.create_virtual_dataset(key, layout)


def _never_written(f, key, value, folder):
    f.create_dataset(key, value.shape, value.dtype)


def _never_written_chunks(f, key, value, folder):
    f.create_dataset(key, value.shape, value.dtype, chunks=(1, *value.shape[1:]))


def _half_written_chunks(f, key, value, folder):
    dataset = f.create_dataset(key, value.shape, value.dtype, chunks=(1, *value.shape[1:]))
    dataset[: len(value) // 2] = value[: len(value) // 2]


OUTSIDE = {
    "external storage": (_external_storage, "external storage in"),
    "external storage in a FIFO": (_fifo_storage, "external storage in"),
    "external link": (_external_link, "is an external link to '/data'"),
    "soft link into an external group": (_soft_link_into_an_external_group,
                                         "is an external link to '/'"),
    "virtual data set": (_virtual, "is a virtual data set, mapped from"),
}
UNWRITTEN = {
    "never written": (_never_written, "none of it was ever written"),
    "no chunk written": (_never_written_chunks, "only 0 of its"),
    "half of its chunks written": (_half_written_chunks, "chunks were ever written"),
}
STORAGE = {kind: write for kind, (write, _) in {**OUTSIDE, **UNWRITTEN}.items()}
SAYS = {kind: says for kind, (_, says) in {**OUTSIDE, **UNWRITTEN}.items()}
