"""The witnesses of any hand-written pair ``forward(*inputs) -> (out, cache)``,
``backward(d_out, cache) -> grads`` (one gradient per input; inputs may be pytrees).

Each takes one drawn point (inputs ``x``, cotangent ``d``) and returns numbers, never a verdict:

* :func:`vjp_errors`: the hand grads against ``jax.vjp`` of the forward, leaf by leaf.
* :func:`transpose_errors`: the dot-product test ``<d, J v> == <g, v>`` with ``J v`` from
  ``jax.jvp`` (forward mode: no reverse rule involved), for random v in each leaf.
* :func:`slopes`: float64 differences of ``phi(t) = <d, f(x + t v)>``, central and one-sided
  (a kink shows as two one-sided slopes that differ), along any direction v.
* :func:`linearity_error`: ``g(a d1 + b d2)`` against ``a g(d1) + b g(d2)``.
* :func:`chain_errors`: the pair inside a chain (``jax.custom_vjp``, between a scaling before
  and a tanh readout after) against ``jax.grad`` of the same chain through the plain forward.

Leaves are named by position and path: ``d0``, ``d1['gamma']``.
"""

import jax
import jax.numpy as jnp
import numpy as np

from .tolerances import FD_STEP


def leaf_names(inputs):
    """``d0``, ``d1['gamma']``, ...: one name per leaf of the tuple of inputs."""
    return [f"d{path[0].idx}{jax.tree_util.keystr(path[1:])}"
            for path, _ in jax.tree_util.tree_flatten_with_path(tuple(inputs))[0]]


SUBNORMALS = 0.125
"""The fraction of entries made subnormal when :func:`draw_inputs` is asked for them."""


def subnormal_values(shape, dtype, rng):
    """Subnormal values of ``dtype``, both signs, log-uniform over the subnormal range (from
    just below the smallest normal down to a few units of the smallest subnormal)."""
    info = jnp.finfo(dtype)
    tiny = float(info.smallest_normal)
    return rng.choice([-1.0, 1.0], shape) * tiny * 2.0 ** -rng.uniform(0.01, info.nmant - 1,
                                                                        shape)


def draw_inputs(examples, rng, zeros=0.25, ties=True, subnormals=False):
    """Inputs like ``examples`` (same pytree, shapes, dtypes): standard normal entries, a
    fraction ``zeros`` of them exactly 0 (kinks and exact zeros on purpose), one tie per leaf
    (two equal entries: a max's kink); with ``subnormals``, a fraction :data:`SUBNORMALS` (at
    least one entry per leaf) subnormal in the leaf's dtype."""
    def one(example):
        example = jnp.asarray(example)
        values = rng.standard_normal(example.shape)
        values[rng.random_sample(example.shape) < zeros] = 0.0
        if subnormals and values.size:
            chosen = rng.random_sample(example.shape) < SUBNORMALS
            chosen.flat[rng.randint(values.size)] = True
            values[chosen] = subnormal_values(int(chosen.sum()), example.dtype, rng)
        if ties and values.size > 2:
            values.flat[1] = values.flat[2]
        return jnp.asarray(values.astype(np.float64 if example.dtype == np.float64
                                         else np.float32), example.dtype)
    return jax.tree.map(one, tuple(examples))


def draw_like(tree, rng):
    """Standard normal arrays shaped like ``tree``'s leaves, in their dtypes."""
    return jax.tree.map(lambda a: jnp.asarray(rng.standard_normal(jnp.shape(a)).astype(
        np.float32), jnp.asarray(a).dtype), tree)


def as_grads(grads, count):
    """The backward's result as a tuple of one gradient per input (a single input's gradient
    may come bare)."""
    if count == 1 and not (isinstance(grads, (tuple, list)) and len(grads) == 1):
        return (grads,)
    return tuple(grads) if isinstance(grads, (tuple, list)) else grads


def hand(forward, backward, x, d):
    """``(out, grads)`` of the hand-written pair at ``x`` with cotangent ``d``."""
    out, cache = forward(*x)
    return out, as_grads(backward(d, cache), len(x))


def reference(forward, x, d):
    """``jax.vjp`` of the forward's output at ``x``, applied to ``d``."""
    _, pullback = jax.vjp(lambda *x: forward(*x)[0], *x)
    return pullback(d)


def _f64(a):
    return np.asarray(a, np.float64)


def vjp_errors(grads, ref, floors):
    """Per leaf ``||h - r|| / max(||h||, ||r||, floor)`` in float64."""
    errors = []
    for h, r, floor in zip(jax.tree.leaves(grads), jax.tree.leaves(ref), floors, strict=True):
        h, r = _f64(h), _f64(r)
        scale = max(np.linalg.norm(h), np.linalg.norm(r), floor)
        diff = np.linalg.norm(h - r)
        errors.append(0.0 if diff == 0 else float(diff / scale) if scale > 0 else np.inf)
    return errors


def leaf_tangents(x, leaf, directions, rng):
    """``directions`` random tangents, normal in leaf number ``leaf`` and zero elsewhere."""
    flat, treedef = jax.tree.flatten(x)
    return [jax.tree.unflatten(treedef, [
        jnp.asarray(rng.standard_normal(a.shape), a.dtype) if i == leaf else jnp.zeros_like(a)
        for i, a in enumerate(flat)]) for _ in range(directions)]


def transpose_errors(forward, x, d, grads, directions, rng):
    """The dot-product test per leaf: ``(errors, natural scales)``. A leaf's error is the
    largest ``|<d, J v> - <g, v>| / max(|<d, J v>|, |<g, v>|, ||v|| ||g||, ||d|| ||J v||)``;
    its natural scale ``||d|| max ||J v|| / ||v||`` is the size rounding in the reference
    has (the floor of a leaf whose true gradient is 0). None when forward mode cannot
    differentiate the forward (a ``jax.custom_vjp`` inside)."""
    f = lambda *x: forward(*x)[0]  # noqa: E731
    errors, scales = [], []
    d_norm = np.linalg.norm(np.concatenate([_f64(a).ravel() for a in jax.tree.leaves(d)]))
    for i, g in enumerate(jax.tree.leaves(grads)):
        worst, scale = 0.0, 0.0
        for v in leaf_tangents(x, i, directions, rng):
            try:
                Jv = jax.jvp(f, x, v)[1]
            except TypeError as e:
                if "custom_vjp" not in str(e):
                    raise
                return None
            v_leaf = _f64(jax.tree.leaves(v)[i])
            a = sum(float(np.vdot(_f64(p), _f64(q))) for p, q in
                    zip(jax.tree.leaves(d), jax.tree.leaves(Jv), strict=True))
            b = float(np.vdot(_f64(g), v_leaf)) if np.shape(g) == v_leaf.shape else np.inf
            Jv_norm = np.sqrt(sum(float(np.sum(_f64(q) ** 2)) for q in jax.tree.leaves(Jv)))
            v_norm = float(np.linalg.norm(v_leaf)) or 1.0
            bound = max(abs(a), abs(b) if np.isfinite(b) else 0.0,
                        v_norm * float(np.linalg.norm(_f64(g))), d_norm * Jv_norm)
            error = abs(a - b) / bound if bound > 0 else float(a != b)
            worst = max(worst, error if np.isfinite(error) else np.inf)
            scale = max(scale, d_norm * Jv_norm / v_norm)
        errors.append(worst)
        scales.append(scale)
    return errors, scales


def slopes(forward, x, d, v, step=FD_STEP):
    """``(central, left, right)`` slopes of ``phi(t) = <d, f(x + t v)>`` at 0, and the size
    of phi's rounding (``sum |d f|``), all in float64 (x64 must be on)."""
    def phi(t):
        out = forward(*jax.tree.map(lambda a, b: a + t * b, x, v))[0]
        with np.errstate(invalid="ignore"):  # an output of -inf on purpose: phi is NaN
            return sum(float(np.sum(_f64(p) * _f64(q))) for p, q in
                       zip(jax.tree.leaves(d), jax.tree.leaves(out), strict=True))

    up, mid, down = phi(step), phi(0.0), phi(-step)
    out = forward(*x)[0]
    size = sum(float(np.sum(np.abs(_f64(p) * _f64(q)))) for p, q in
               zip(jax.tree.leaves(d), jax.tree.leaves(out), strict=True))
    return (up - down) / (2 * step), (mid - down) / step, (up - mid) / step, size


def linearity_error(backward, cache, d1, d2, count):
    """``||g(2 d1 - 3 d2) - (2 g(d1) - 3 g(d2))|| / (2 ||g(d1)|| + 3 ||g(d2)||)`` over all
    leaves: 0 for a backward linear in its cotangent."""
    g = lambda d: [_f64(a) for a in jax.tree.leaves(as_grads(backward(d, cache), count))]  # noqa: E731
    mixed = jax.tree.map(lambda a, b: 2 * a - 3 * b, d1, d2)
    a, b, c = g(d1), g(d2), g(mixed)
    if [p.shape for p in a] != [p.shape for p in c]:
        return np.inf
    diff = np.sqrt(sum(np.sum((z - (2 * p - 3 * q)) ** 2) for p, q, z in zip(a, b, c, strict=True)))
    scale = 2 * np.sqrt(sum(np.sum(p ** 2) for p in a)) + 3 * np.sqrt(sum(np.sum(q ** 2)
                                                                          for q in b))
    return 0.0 if diff == 0 else float(diff / scale) if scale > 0 else np.inf


def chain_errors(forward, backward, x, rng):
    """Per input leaf, ``jax.grad`` of ``sum(c * tanh(f(a * x)))`` with f the pair as a
    ``jax.custom_vjp`` against the same with f the plain forward (jax's own derivative);
    ``a`` and ``c`` random. Relative errors, as :func:`vjp_errors`."""
    count = len(x)

    @jax.custom_vjp
    def pair(*x):
        return forward(*x)[0]

    pair.defvjp(lambda *x: forward(*x), lambda cache, d: as_grads(backward(d, cache), count))
    scales = draw_like(x, rng)
    readout = draw_like(forward(*x)[0], rng)

    def chain(f):
        def cost(*x):
            out = f(*jax.tree.map(lambda a, s: a * s, x, scales))
            return sum(jnp.sum(c * jnp.tanh(o)) for o, c in
                       zip(jax.tree.leaves(out), jax.tree.leaves(readout), strict=True))
        return jax.grad(cost, argnums=tuple(range(count)))(*x)

    hand, ref = chain(pair), chain(lambda *x: forward(*x)[0])
    return vjp_errors(jax.tree.leaves(hand), jax.tree.leaves(ref),
                      [0.0] * len(jax.tree.leaves(ref)))


def same_bits(first, second):
    """Whether two results have the same structure and bit-identical leaves (NaN equal)."""
    a, b = jax.tree.leaves(first), jax.tree.leaves(second)
    return len(a) == len(b) and all(
        np.shape(p) == np.shape(q) and np.array_equal(np.asarray(p), np.asarray(q),
                                                      equal_nan=True)
        for p, q in zip(a, b, strict=True))
