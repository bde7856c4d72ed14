"""Bounds a correct backward pass stays within, derived, not fixed.

A hand-written backward and its reference are two evaluations of the same sums in a different
order; their normwise relative difference is about ``eps * sqrt(K)`` (K the reduction length,
rounding errors adding like a random walk). The unit roundoff ``eps`` is the dtype's, or, for
float32 matmuls, that of the precision in force (``jax.default_matmul_precision``): TF32 on
NVIDIA GPUs (10-bit mantissa), bfloat16 passes on TPUs (8 bits). :func:`rounding` states which.

* :func:`vjp_bound`: hand vs ``jax.vjp``, relative, per leaf: ``SAFETY * eps * sqrt(K)``.
* :data:`FD_RTOL`: hand (run in float64) vs float64 finite differences.
* :func:`require` refuses a dtype JAX would silently downgrade (float64 with x64 off).
"""

import jax
import numpy as np

from ..errors import OptionError

SAFETY = 16.0
"""Measured worst cases of correct layers sit below 2 eps sqrt(K); 16 leaves a margin of 8x
while a bug of a relative 1e-2 (float32) or 1e-10 (float64) is still seen."""

FD_STEP = 2.0**-17
"""The central-difference step (about 7.6e-6, near float64's eps ** (1/3)): truncation
(step^2 f''') and rounding (eps / step) both about 1e-11 of the slope."""

FD_RTOL = 1e-7
"""Hand (in float64) vs float64 central differences, relative to ``|<v, g>| + ||v|| ||g||``:
the differences carry about 1e-10; a bug is off by order 1."""

UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "bfloat16": 2.0**-8,
                 "float16": 2.0**-11}
"""Half an ulp of 1 per dtype."""

MATMUL_ROUNDOFF = {"tensorfloat32": 2.0**-11, "bfloat16": 2.0**-8, "bfloat16_3x": 2.0**-17,
                   "float32": 2.0**-24, "highest": 2.0**-24, "high": 2.0**-17}
"""float32 matmuls' unit roundoff per ``jax.default_matmul_precision`` name."""

BACKEND_DEFAULT = {"cpu": "float32", "gpu": "tensorfloat32", "cuda": "tensorfloat32",
                   "rocm": "tensorfloat32", "tpu": "bfloat16"}
"""What float32 matmuls do under the ``default`` precision, per backend."""


def require(dtype):
    """``dtype`` as a numpy dtype, refusing one JAX would silently store as another.

    Raises:
      OptionError: float64 asked for while x64 is off (every array would be float32 and the
        check a second float32 check).
    """
    name = np.dtype(dtype).name if dtype != "bfloat16" else "bfloat16"
    if name not in UNIT_ROUNDOFF:
        raise OptionError(f"a check runs in one of {', '.join(UNIT_ROUNDOFF)}; got {dtype!r}")
    if name == "float64" and not jax.config.jax_enable_x64:
        raise OptionError("a float64 check needs x64, which is off: every array would silently "
                          "be float32. Call jax.config.update('jax_enable_x64', True) first "
                          "(in a test suite: in conftest.py), or check float32 only")
    return jax.numpy.dtype(name)


def precision_in_force():
    """``(name, backend)``: the ``jax.default_matmul_precision`` in force (``"default"`` when
    unset) and the backend it applies to."""
    return jax.config.jax_default_matmul_precision or "default", jax.default_backend()


def rounding(dtype):
    """``(eps, what)``: the unit roundoff a ``dtype`` computation has under the matmul precision
    in force, and a line saying which (e.g. ``"float32, matmuls tensorfloat32 (default on
    gpu)"``)."""
    name = jax.numpy.dtype(dtype).name
    eps = UNIT_ROUNDOFF[name]
    precision, backend = precision_in_force()
    if name != "float32":
        return eps, f"{name}, matmul precision {precision} on {backend}"
    kind = BACKEND_DEFAULT.get(backend, "float32") if precision in ("default", "fastest") \
        else precision
    matmul = MATMUL_ROUNDOFF.get(kind, UNIT_ROUNDOFF["bfloat16"])
    return max(eps, matmul), f"float32, matmuls {kind} ({precision} on {backend})"


def vjp_bound(dtype, reduction):
    """The relative error per leaf a correct backward stays within against ``jax.vjp``:
    ``SAFETY * eps * sqrt(reduction)``, at most 1 (beyond that nothing is resolved)."""
    eps, _ = rounding(dtype)
    return min(1.0, SAFETY * eps * float(np.sqrt(max(reduction, 1))))


def resolvable(dtype, reduction, rtol):
    """A requested ``rtol`` at or above what the check resolves; raises otherwise."""
    floor = vjp_bound(dtype, reduction)
    if rtol is None:
        return floor
    if not rtol >= floor:
        raise AssertionError(
            f"precision: rtol {rtol:g} is below what a {rounding(dtype)[1]} check resolves "
            f"({floor:.2g} for reductions of length {reduction}); the check refuses to pass")
    return float(rtol)
