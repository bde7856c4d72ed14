"""Checks of numbers and options at the API boundary: counts, seeds, rates, probabilities,
keys. Each returns the value as the caller needs it, or raises a :mod:`jaxdnn.errors` type that
names the argument."""

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputTypeError, OptionError, ShapeError
from . import limits


def count(n, name):
    """``n`` must be a non-negative integer (not a bool, a float or a string)."""
    if isinstance(n, (bool, np.timedelta64)) or not isinstance(n, (numbers.Integral, np.integer)):
        raise InputTypeError(f"{name} must be an integer; got {n!r} ({type(n).__name__})")
    if n < 0:
        raise OptionError(f"{name} must not be negative; got {n}")
    return int(n)


def iterations(n, name="num_iterations"):
    """A count of at most :data:`~jaxdnn.core.limits.MAX_ITERATIONS` (the loops count in int32)."""
    if count(n, name) > limits.MAX_ITERATIONS:
        raise OptionError(f"{name} must be at most {limits.MAX_ITERATIONS} (2**31 - 1: "
                          f"iterations are counted in int32); got {n}")
    return int(n)


def seed(n, name="seed"):
    """A count below 2**32 (numpy's legacy seeds)."""
    if count(n, name) >= 2**32:
        raise OptionError(f"{name} must be below 2**32; got {n}")
    return int(n)


def real(x, name):
    """``x`` must be a real number (a Python or numpy scalar, or a 0-d array, maybe traced);
    returns its value as a float, or None when it is traced."""
    dtype = getattr(x, "dtype", None)
    real_array = dtype is not None and getattr(x, "ndim", None) == 0 and real_kind(dtype)
    if isinstance(x, (bool, np.bool_)) or not (isinstance(x, numbers.Real) or real_array):
        raise InputTypeError(f"{name} must be a real number; got {x!r} ({type(x).__name__})")
    if isinstance(x, jax.core.Tracer):
        return None
    try:
        return float(x)
    except OverflowError:
        raise OptionError(f"{name} is too large for a float: {x!r}") from None


def rate(x, name="learning_rate"):
    """A real number that, when known (not traced), is finite and positive."""
    value = real(x, name)
    if value is not None and not (math.isfinite(value) and value > 0):
        raise OptionError(f"{name} must be finite and positive; got {x!r}")


def real_kind(dtype):
    """Floating or integer, not boolean, complex or a date/time difference."""
    if getattr(dtype, "kind", None) in ("m", "M"):
        return False
    return bool(jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer))


def nonnegative(x, name):
    """A concrete real number, finite and not negative; returns it as a float."""
    value = real(x, name)
    if value is None or not (math.isfinite(value) and value >= 0):
        raise OptionError(f"{name} must be a finite number, not negative; got {x!r}")
    return value


def penalty(lambd, name="lambd", *, concrete=False):
    """The L2 penalty's weight: a real number that, when known, is finite and not negative
    (``concrete``: it must be known, as training compiles it in)."""
    value = real(lambd, name)
    if concrete and value is None:
        raise OptionError(f"{name} must be a concrete number in training: it is compiled in")
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise OptionError(f"{name} (the L2 penalty) must be finite and not negative; "
                          f"got {lambd!r}")


def keep_prob(keep_prob, key, L):
    """Dropout's keep probabilities: one number in (0, 1] or L - 1 of them (static), and a
    ``jax.random`` key when one is below 1. Returns the tuple, () without dropout."""
    given = isinstance(keep_prob, (list, tuple))
    values = list(keep_prob) if given else [keep_prob]
    for p in values:
        if real(p, "keep_prob") is None:
            raise OptionError("keep_prob must be concrete numbers: they shape the program")
        probability(p, "keep_prob")
    if given and len(values) != L - 1:
        raise ShapeError(f"keep_prob lists {len(values)} probabilities but the network has "
                         f"{L - 1} hidden layers")
    probs = tuple(float(p) for p in values) if given else (float(keep_prob),) * (L - 1)
    if L == 1 and not given and keep_prob != 1:
        raise OptionError("dropout needs a hidden layer: the output layer is never dropped")
    if all(p == 1 for p in probs):
        return ()
    if not is_key(key):
        raise InputTypeError(f"dropout (keep_prob < 1) needs key=jax.random.PRNGKey(...); "
                             f"got key={key!r}")
    return probs


def mini_batch_size(size, m):
    """A batch size: None (all m examples) or an integer from 1 to m. Returns it (m for None)."""
    if size is None:
        return m
    if not 1 <= count(size, "mini_batch_size") <= m:
        raise OptionError(f"mini_batch_size must be between 1 and m = {m} (the examples); "
                          f"got {size}")
    return int(size)


def shuffle_key(key):
    """Mini-batch training needs a ``jax.random`` key to shuffle with."""
    if not is_key(key):
        raise InputTypeError(f"mini-batch training shuffles the examples with "
                             f"key=jax.random.PRNGKey(...); got key={key!r}")


def is_key(key):
    """Whether ``key`` is a ``jax.random`` key (new-style or a raw uint32[2])."""
    if not isinstance(key, jax.Array):
        return False
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key.shape == ()
    return key.dtype == jnp.uint32 and key.shape == (2,)


def probability(p, name):
    """A keep probability: a real number in (0, 1] (or traced)."""
    value = real(p, name)
    if value is not None and not 0 < value <= 1:
        raise OptionError(f"{name} must be in (0, 1]; got {p!r}")


def momentum_coefficient(mu, name="momentum"):
    """Heavy-ball momentum: a real number in [0, 1) (or traced)."""
    value = real(mu, name)
    if value is not None and not (math.isfinite(value) and 0 <= value < 1):
        raise OptionError(f"{name} must be in [0, 1); got {mu!r}")
