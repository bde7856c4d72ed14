"""Parameter initialisation: the course's dict of ``W{l}`` (n[l], n[l-1]) and ``b{l}`` (n[l], 1).

Biases start at zero.

Weights are standard normal draws times a per-layer scale chosen by ``scheme``:

=========  ===========================  ===============================================
scheme     scale of W{l}                where it comes from
=========  ===========================  ===============================================
"small"    0.01                         the course's step-by-step assignment
"scaled"   1 / sqrt(n[l-1])             the course's cat application (L_layer_model)
"he"       sqrt(2 / n[l-1])             He et al. 2015, for ReLU networks
=========  ===========================  ===============================================

The draws come from a ``jax.random`` key, or, in the course-compatible mode, from numpy's legacy
global generator exactly as the course draws them: ``np.random.seed(numpy_seed)`` then one
``np.random.randn(n[l], n[l-1])`` per layer, in layer order (biases draw nothing). That mode
reproduces the course's printed values bit for bit (in float64); it reseeds numpy's global
generator, like the course does.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputTypeError, NameLookupError, OptionError
from . import checks as check
from . import layout, limits, numeric

SCHEMES = {
    "small": lambda W, n_prev: W * 0.01,
    "scaled": lambda W, n_prev: W / math.sqrt(n_prev),
    "he": lambda W, n_prev: W * math.sqrt(2 / n_prev),
}
"""Each scheme scales a standard normal draw W given the layer's fan-in n[l-1], with the same
operation the course uses (so the numpy mode matches it bit for bit)."""


def initialize_parameters_deep(layer_dims, key=None, *, scheme="small", numpy_seed=None,
                               dtype=None):
    """Parameters for a network with sizes ``layer_dims = [n[0], n[1], ..., n[L]]``.

    Args:
      layer_dims: input size, then the size of every layer.
      key: a ``jax.random`` key. Give this or ``numpy_seed``.
      scheme: ``"small"``, ``"scaled"`` or ``"he"`` (see the module docstring).
      numpy_seed: draw with numpy's legacy ``np.random.seed(numpy_seed)``/``randn``, as the course.
      dtype: of the arrays; default float32, or float64 when x64 is enabled.

    Returns:
      ``{"W1": (n[1], n[0]), "b1": (n[1], 1), ..., "WL", "bL"}``.

    >>> p = initialize_parameters_deep([5, 4, 3], numpy_seed=3)
    >>> p["W1"].shape, p["b2"].shape
    ((4, 5), (3, 1))
    """
    dims = check.layer_dims(layer_dims)
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise NameLookupError(
            f"unknown initialisation scheme {scheme!r}; expected one of: {', '.join(SCHEMES)}"
        )
    if (key is None) == (numpy_seed is None):
        raise OptionError("give exactly one source of randomness: key=... or numpy_seed=...")
    if numpy_seed is not None:
        numeric.seed(numpy_seed, "numpy_seed")
    if key is not None and not numeric.is_key(key):
        raise InputTypeError(f"key must be a jax.random key (jax.random.PRNGKey(0) or "
                             f"jax.random.key(0)); got {key!r}")
    dtype = _float_dtype(dtype)
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise OptionError("dtype float64 needs x64: call "
                          "jax.config.update('jax_enable_x64', True) first")
    limits.fits_in_memory(dims, jnp.dtype(dtype).itemsize)
    shapes = list(zip(dims[1:], dims[:-1], strict=True))
    if key is None:
        np.random.seed(numpy_seed)
        draws = [np.random.randn(*shape) for shape in shapes]  # scaled in float64, as the course
    else:
        keys = jax.random.split(key, len(shapes))
        draws = [jax.random.normal(k, shape, dtype) for k, shape in zip(keys, shapes, strict=True)]
    return layout.to_dict([(layout.device_array(SCHEMES[scheme](draw, n_prev), dtype),
                             layout.device_array(np.zeros((n, 1)), dtype))
                            for draw, (n, n_prev) in zip(draws, shapes, strict=True)])


def _float_dtype(dtype):
    """The floating dtype named by ``dtype`` (default: jax's default float)."""
    if dtype is None:
        return jax.dtypes.canonicalize_dtype(jnp.float64)
    try:
        dtype = jnp.dtype(dtype)
    except TypeError:
        raise InputTypeError(f"dtype {dtype!r} is not a dtype; use 'float32' or "
                             f"'float64'") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise InputTypeError(f"dtype must be a floating-point type; got {dtype}")
    return dtype


def initialize_parameters(n_x, n_h, n_y, key=None, *, scheme="small", numpy_seed=None,
                          dtype=None):
    """Parameters of the two-layer network ``n_x -> n_h -> n_y``.

    Same as ``initialize_parameters_deep([n_x, n_h, n_y], ...)``, which draws in the course's
    order (W1, then W2).
    """
    return initialize_parameters_deep(
        [n_x, n_h, n_y], key, scheme=scheme, numpy_seed=numpy_seed, dtype=dtype
    )
