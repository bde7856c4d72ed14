"""The smallest failing input: a failing draw shrunk while the same property still fails with
the same class in the same leaf.

:func:`shrink` tries :func:`candidates` of the failing point greedily (the first that still
fails is kept and the search starts again from it), at most :data:`MAX_TRIES` re-runs of the
property (a new shape costs JAX a compilation of every operation). Candidates, in order: every
axis of one length ``n`` cut to 1 or ``n // 2`` in every input at once (inputs that share a
length keep sharing it: a weight matrix, its input and its bias shrink together); then the
values: all rounded to integers, all replaced by their signs, half of each leaf's nonzero
entries zeroed, one entry zeroed (the first two of each leaf).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

MAX_TRIES = 16
"""Re-runs of the failing property a shrink may spend."""

SHOWN = 16
"""A counterexample with at most this many entries in all is printed whole."""


class Counterexample(NamedTuple):
    """The failing input: its arrays, how it was found (``"shrunk"``, ``"hypothesis"`` or
    ``"drawn"``), the shapes it started from and the steps kept."""

    inputs: tuple
    how: str
    start: tuple
    steps: int

    def __str__(self):
        shapes = ", ".join(str(np.shape(a)) for a in jax.tree.leaves(self.inputs))
        head = {"shrunk": f"smallest failing input found ({self.steps} steps of shrinking "
                          f"from shapes {', '.join(map(str, self.start))}): shapes {shapes}",
                "hypothesis": f"the input hypothesis drew and shrank: shapes {shapes}",
                "drawn": f"the failing input, not shrunk: shapes {shapes}"}[self.how]
        leaves = jax.tree_util.tree_flatten_with_path(self.inputs)[0]
        if sum(np.size(a) for _, a in leaves) > SHOWN:
            return head
        text = lambda a: np.array2string(np.asarray(a, np.float64), precision=6,  # noqa: E731
                                         separator=", ")
        shown = "; ".join(f"d{p[0].idx}{jax.tree_util.keystr(p[1:])} = {text(a)}"
                          for p, a in leaves)
        return f"{head}: {shown}".replace("\n", "")


def _cut(x, length, to):
    """``x`` with every axis of ``length`` cut to its first ``to`` entries."""
    def one(a):
        index = tuple(slice(0, to) if n == length else slice(None) for n in a.shape)
        return a[index]
    return jax.tree.map(one, x)


def _values(x, change):
    """``x`` with each leaf's values (as float64 numpy) replaced by ``change(values)``."""
    return jax.tree.map(lambda a: jnp.asarray(change(np.asarray(a, np.float64)).astype(
        np.float64 if a.dtype == np.float64 else np.float32), a.dtype), x)


def _zero_half(v):
    v = v.copy()
    nonzero = np.flatnonzero(v)
    v.flat[nonzero[: (len(nonzero) + 1) // 2]] = 0.0
    return v


def candidates(x):
    """Smaller or simpler versions of the point ``x`` (a tuple of inputs), in trying order."""
    lengths = sorted({n for a in jax.tree.leaves(x) for n in np.shape(a) if n > 1},
                     reverse=True)
    for length in lengths:
        for to in sorted({1, length // 2}):
            yield _cut(x, length, to)
    yield _values(x, np.round)
    yield _values(x, np.sign)
    yield _values(x, _zero_half)
    flat = [np.flatnonzero(np.asarray(a)) for a in jax.tree.leaves(x)]
    for leaf, nonzero in enumerate(flat):
        for k in nonzero[:2]:
            yield _zero_one(x, leaf, int(k))


def _zero_one(x, leaf, k):
    leaves, treedef = jax.tree.flatten(x)
    a = np.asarray(leaves[leaf]).copy()
    a.flat[k] = 0
    leaves[leaf] = jnp.asarray(a, leaves[leaf].dtype)
    return jax.tree.unflatten(treedef, leaves)


def _same(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return all(np.shape(p) == np.shape(q) and np.array_equal(np.asarray(p), np.asarray(q))
               for p, q in zip(la, lb, strict=True))


def shrink(x, fails, tries=MAX_TRIES):
    """``(smallest point, steps kept)``: ``fails(point)`` is whether the property still fails
    the same way there (an exception counts as no)."""
    steps, spent = 0, 0
    improved = True
    while improved and spent < tries:
        improved = False
        for candidate in candidates(x):
            if _same(candidate, x):
                continue
            if spent >= tries:
                break
            spent += 1
            try:
                still = fails(candidate)
            except Exception:  # noqa: BLE001 - a candidate the user's layer cannot take
                still = False
            if still:
                x, steps, improved = candidate, steps + 1, True
                break
    return x, steps
