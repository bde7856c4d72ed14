"""The second order of a hand-written pair: the backward differentiated in its turn.

``g(x) = backward(d, forward(x)[1])`` is the hand gradient as a function of the point. A
correct first order does not make its derivative right: a ``jax.lax.stop_gradient`` on the
cache, a helper with a wrong ``jax.custom_jvp`` rule, or a cache computed outside JAX gives the
right gradient whose own derivative (what ``jax.hessian``, a Newton step or a
gradient-penalty loss differentiate) is wrong. Two witnesses, per gradient leaf, along random
directions ``v`` of every input at once:

* ``hvp``: ``jax.jvp`` of ``g`` against ``jax.jvp`` of ``x -> jax.vjp(f, x)[1](d)`` (the
  Hessian-vector product of ``<d, f>`` from jax's own rules), in the inputs' dtype;
* ``hvp fd``: ``jax.jvp`` of ``g`` against float64 central differences of ``g`` along ``v``
  (ground truth, needing no rule of jax's).

Forward mode needs a backward jax can trace (pure JAX); asked of any other it refuses.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import OptionError
from . import diagnose
from . import witnesses as w
from .tolerances import FD_STEP

FD_RTOL = 1e-6
"""``hvp fd``: the float64 differences of the gradient carry about 1e-10 of ``||g||``."""

FIT_TOL = 1e-2
"""As :data:`~.judge.FIT_TOL`: what a pattern may leave unexplained."""


def _f64(a):
    return np.asarray(a, np.float64)


def _relative(a, b, floor=0.0):
    diff = np.linalg.norm(a - b)
    scale = max(np.linalg.norm(a), np.linalg.norm(b), floor)
    return 0.0 if diff == 0 else float(diff / scale) if scale > 0 else np.inf


def hand_tangent(forward, backward, x, d, v):
    """``(g(x), jax.jvp of g along v)``, ``g`` the hand backward as a function of the point."""
    count = len(x)
    g = lambda *x: w.as_grads(backward(d, forward(*x)[1]), count)  # noqa: E731
    return jax.jvp(g, tuple(x), tuple(v))


def reference_tangent(forward, x, d, v):
    """jax's Hessian-vector product of ``<d, f>`` along ``v``: forward over reverse."""
    def pullback(*x):
        return jax.vjp(lambda *x: forward(*x)[0], *x)[1](d)
    return jax.jvp(pullback, tuple(x), tuple(v))[1]


def _traced(what, call):
    try:
        return call()
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError,
            TypeError) as e:
        raise OptionError(f"second_order=True needs {what} that jax can differentiate in "
                          f"forward mode (pure JAX); it raised {type(e).__name__}: "
                          f"{str(e).splitlines()[0]}") from None


def _differences(forward, backward, x, d, v):
    """Float64 central differences of the hand gradient along ``v``, and its jvp, leaves."""
    up = lambda t: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), t)  # noqa: E731
    x, d, v = up(x), up(d), up(v)
    count = len(x)
    g = lambda t: [_f64(a) for a in jax.tree.leaves(w.as_grads(backward(  # noqa: E731
        d, forward(*jax.tree.map(lambda a, b: a + t * b, x, v))[1]), count))]
    _, tangent = hand_tangent(forward, backward, x, d, v)
    central = [(p - m) / (2 * FD_STEP) for p, m in zip(g(FD_STEP), g(-FD_STEP), strict=True)]
    return central, [_f64(a) for a in jax.tree.leaves(tangent)], g(0.0)


def check(forward, backward, x, rng, bound, names):
    """``(hvp errors, hvp fd errors, finding or None)`` at the point ``x`` (no kinks), one
    error per gradient leaf; a finding is ``(class, leaf, element, values, why)``."""
    out = forward(*x)[0]
    d = w.draw_like(out, rng)
    v = w.draw_like(x, rng)
    grads, tangent = _traced("a backward", lambda: hand_tangent(forward, backward, x, d, v))
    reference = _traced("a forward", lambda: reference_tangent(forward, x, d, v))
    hand = [_f64(a) for a in jax.tree.leaves(tangent)]
    ref = [_f64(a) for a in jax.tree.leaves(reference)]
    floors = [np.linalg.norm(_f64(a)) * 1e-3 for a in jax.tree.leaves(grads)]
    hvp = [_relative(h, r, f) for h, r, f in zip(hand, ref, floors, strict=True)]
    with jax.enable_x64(True):
        central, tangent64, g64 = _differences(forward, backward, x, d, v)
    fd = [_relative(t, c, np.linalg.norm(g)) for t, c, g in zip(tangent64, central, g64,
                                                               strict=True)]
    for i, (h, r) in enumerate(zip(hand, ref, strict=True)):
        if not (hvp[i] <= 4 * bound and fd[i] <= FD_RTOL):
            worst = np.unravel_index(np.argmax(np.nan_to_num(np.abs(h - r), nan=np.inf)),
                                     h.shape) if h.ndim else ()
            bug, why = diagnose.pattern(h, r, [_f64(a) for a in jax.tree.leaves(d)], FIT_TOL,
                                        4 * bound * np.linalg.norm(r))
            values = {"jvp of the backward": float(h[worst]), "hvp": float(r[worst]),
                      "hvp error": hvp[i], "against float64 differences": fd[i]}
            return hvp, fd, (bug, names[i], worst, values,
                             f"second order: jax.jvp through the backward differs from the "
                             f"Hessian-vector product ({why})")
    return hvp, fd, None
