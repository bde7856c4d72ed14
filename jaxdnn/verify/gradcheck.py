"""Three witnesses for the hand-written backward pass, each independent of it.

* :func:`autodiff_errors` compares every ``dW{l}``, ``db{l}`` and ``dA{l}`` of
  :func:`~jaxdnn.L_model_backward` with ``jax.grad`` of the cost (reverse mode), leaf by leaf.
* :func:`transpose_errors` is the dot-product test against forward mode: for random tangents v
  of a leaf, ``jax.jvp`` of the cost gives ``J v``, which must equal ``<v, g>`` with g the
  hand-written gradient (g is J transposed applied to 1). No reverse-mode rule is involved.
* :func:`gradient_check` is the course's finite-difference check: central differences on every
  parameter, summarised as ``||g - g_approx|| / (||g|| + ||g_approx||)``. No derivative rule of
  any kind is involved, but it needs float64 and smooth points.

All return numbers rather than asserting, so a test (or a user) decides what is close enough;
:mod:`jaxdnn.testing` turns them into properties.

Every witness runs its matmuls at full precision (:func:`full_precision`): the float32 bounds
below hold for float32 arithmetic, which GPUs (TF32, 10-bit mantissas) and TPUs (bfloat16
passes, 8 bits) do not do by default. Training keeps the backend's default precision.
"""


import functools
from contextlib import contextmanager

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..core import checks as check
from ..core import kernels, layout, numeric
from ..core.network import layer_activations
from ..core.outputs import get_output
from ..errors import InputTypeError, OptionError

F32, F64 = np.dtype("float32"), np.dtype("float64")

CHAIN_RTOL = {F64: 1e-9, F32: 1e-4}
"""Hand-written backward vs a witness, relative error per gradient leaf. float64: measured worst
cases are around 1e-15. float32: through six layers of width 20 and sums over 64 examples the
measured worst case stays below 1e-5, so 1e-4 leaves a margin of 10x while a real bug (errors of
order 1) is still caught by a factor of 10^4."""

ELEMENT_RTOL = {F64: 1e-13, F32: 1e-6}
"""One activation's backward vs jax.vjp of its forward, elementwise, relative to |dZ| + |dA|: the
two may write g'(Z) differently (tanh: (1 + t)(1 - t) vs 1 - t^2), a few ulps apart."""

FLUSH_ATOL = {F64: np.finfo(F64).tiny, F32: np.finfo(F32).tiny}
"""Absolute slack of one smallest normal number: XLA on CPU flushes subnormal results to zero
in one compiled computation and not in another, a difference that says nothing about the
backward pass."""


GRADIENT_FLOOR = {F64: 1e-6, F32: 1e-3}
"""The norm below which a gradient leaf is judged by its absolute error (``CHAIN_RTOL`` times
this) instead of its relative one, in ``jaxdnn.testing`` and ``jaxdnn check``. A leaf whose
true value is 0 (all inputs zero, balanced labels) comes out of both computations as rounding
noise of order eps, and two noises differ by 100 %; a bug in a leaf larger than
``CHAIN_RTOL * GRADIENT_FLOOR`` (1e-15 in float64, 1e-7 in float32) is still caught."""


GRADIENT_CHECK_THRESHOLD = 1e-7
"""The course's bound on :func:`gradient_check`'s difference for a correct backward pass."""


def full_precision():
    """The context the witnesses compute in: ``jax.default_matmul_precision("highest")``, every
    float32 matmul in float32 (on CPU the default already is; on GPU and TPU it is not)."""
    return jax.default_matmul_precision("highest")


def verified(function):
    """``function`` run under :func:`full_precision` (looked up at each call)."""
    @functools.wraps(function)
    def at_full_precision(*args, **kwargs):
        with full_precision():
            return function(*args, **kwargs)
    return at_full_precision


def relative_error(a, b) -> float:
    """``||a - b|| / max(||a||, ||b||)`` in float64; 0 when both are zero, inf on shape mismatch."""
    try:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    except (TypeError, ValueError):
        raise InputTypeError(f"relative_error compares arrays of real numbers; got "
                             f"{type(a).__name__} and {type(b).__name__}") from None
    if a.shape != b.shape:
        return float("inf")
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


@verified
def autodiff_gradients(X, Y, parameters, hidden_activation="relu", *, stable=False,
                       output="sigmoid", lambd=0.0, keep_prob=1.0, key=None):
    """``jax.grad`` of the cost under the course's gradient keys (the reference for the backward).

    The cost J is ``compute_cost(L_model_forward(X, parameters))``, or with ``stable=True``
    ``compute_cost_from_logits`` of the last layer's Z. ``dW{l}``, ``db{l}`` are dJ/dW[l], dJ/db[l].
    ``dA{l}`` follows the course's convention, the gradient of the *summed* loss m J with respect
    to A[l-1] (the course applies 1/m only in dW and db). To reach A[l-1] the forward adds a zero
    ``delta[l-1]`` to each layer's input and differentiates with respect to it; adding zero
    leaves every forward value unchanged.
    """
    layers, Y = check.problem(X, Y, parameters, get_output(output))
    numeric.penalty(lambd)
    keep = numeric.keep_prob(keep_prob, key, len(layers))
    X, Y, activations = _inputs(X, Y, layers, hidden_activation, output)
    masks = kernels.dropout_masks(key, keep, layers, X.shape[1])
    return _autodiff_gradients(X, Y, layers, activations, stable, lambd, masks)


def _inputs(X, Y, layers, hidden_activation, output):
    dtype = layers[0][0].dtype
    return (jnp.asarray(X, dtype), jnp.asarray(Y, dtype),
            layer_activations(hidden_activation, len(layers), output))


def _cost_of(X, Y, activations, stable, lambd, masks=()):
    """The cost as a function of the layers and of a perturbation ``deltas[l]`` added to each
    layer's input A[l] (zero: every forward value is unchanged)."""
    def cost(layers, deltas):
        A = X
        for l, ((W, b), delta, activation) in enumerate(zip(layers, deltas, activations,
                                                            strict=True)):
            A, Z = activation.forward(W @ (A + delta) + b)
            if l < len(masks) and masks[l] is not None:
                A = A * masks[l]
        output = activations[-1]
        J = output.cost_from_logits(Z, Y) if stable else output.cost(A, Y)
        return J + kernels.l2_penalty(layers, lambd, X.shape[1])
    return cost


def _zero_deltas(layers, m):
    return [jnp.zeros((W.shape[1], m), W.dtype) for W, _ in layers]


def _autodiff_gradients(X, Y, layers, activations, stable, lambd, masks=()):
    m = X.shape[1]
    cost = _cost_of(X, Y, activations, stable, lambd, masks)
    d_layers, d_inputs = jax.grad(cost, argnums=(0, 1))(layers, _zero_deltas(layers, m))
    return layout.grads_to_dict(d_layers, [m * d for d in d_inputs])


@verified
def autodiff_errors(X, Y, parameters, hidden_activation="relu", *, stable=False,
                    output="sigmoid", lambd=0.0, keep_prob=1.0, key=None, floor=0.0):
    """Relative error of each hand-written gradient against :func:`autodiff_gradients`.

    Args:
      X, Y, parameters, hidden_activation: the network and data.
      stable: compare the stable path (fused ``dZ[L] = AL - Y``, cost from logits).
      output: the output layer, ``"sigmoid"`` or ``"softmax"``.
      lambd: the L2 penalty's weight (the cost of ``compute_cost_with_regularization``).
      keep_prob, key: inverted dropout as :func:`~jaxdnn.L_model_forward` draws it; both sides
        use the same masks.
      floor: judge each leaf against a norm of at least this (:data:`GRADIENT_FLOOR` of the
        dtype: a leaf that is truly 0 comes out of both sides as rounding noise); 0: purely
        relative.

    Returns:
      ``{"dW1": err, "db1": err, "dA1": err, ...}``: :func:`relative_error` per key of the
      reference, inf where the hand-written grads lack the key or give the wrong shape.
    """
    X, Y, layers, activations, keep = witness_inputs(X, Y, parameters, hidden_activation,
                                                      output, lambd, keep_prob, key)
    # A fresh jit per call: one compilation instead of one per primitive, and never a stale
    # cached trace when a function the backward calls has been swapped out (fault injection).
    hand, reference = jax.jit(lambda X, Y, layers, key: hand_and_reference(
        X, Y, layers, activations, stable, lambd, keep, key))(X, Y, layers, key)
    return compare(hand, reference, numeric.nonnegative(floor, "floor"))


def witness_inputs(X, Y, parameters, hidden_activation, output, lambd, keep_prob, key):
    """The checks both witnesses make; ``(X, Y, layers, activations, keep)`` ready to trace."""
    layers, Y = check.problem(X, Y, parameters, get_output(output))
    numeric.penalty(lambd)
    keep = numeric.keep_prob(keep_prob, key, len(layers))
    X, Y, activations = _inputs(X, Y, layers, hidden_activation, output)
    return X, Y, layers, activations, keep


def _hand(X, Y, layers, activations, stable, lambd, masks):
    """The hand-written chain: ``(grads, dAs)`` as :func:`~jaxdnn.core.kernels.backward`."""
    AL, caches = kernels.forward(X, layers, activations, masks)
    return kernels.backward(AL, Y, caches, activations, stable, lambd)


def hand_and_reference(X, Y, layers, activations, stable, lambd, keep, key):
    masks = kernels.dropout_masks(key, keep, layers, X.shape[1])
    hand = layout.grads_to_dict(*_hand(X, Y, layers, activations, stable, lambd, masks))
    return hand, _autodiff_gradients(X, Y, layers, activations, stable, lambd, masks)


def compare(hand, reference, floor=0.0):
    """:func:`relative_error` per leaf; with a ``floor``, the scale is at least that."""
    def error(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if not floor or a.shape != b.shape:
            return relative_error(a, b)
        return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), floor))

    return {key: error(hand[key], ref) if key in hand else float("inf")
            for key, ref in reference.items()}


@verified
def transpose_errors(X, Y, parameters, hidden_activation="relu", *, stable=False,
                     output="sigmoid", lambd=0.0, keep_prob=1.0, key=None, tangents=4, seed=0,
                     floor=0.0):
    """The dot-product test of each hand-written gradient against forward-mode autodiff.

    For ``tangents`` random directions v of each leaf (standard normal entries from
    ``numpy.random.RandomState(seed)``), ``J v`` is ``jax.jvp`` of the cost in that direction and
    ``<v, g>`` uses the hand-written gradient g (for ``dA{l}``, divided by m: it is the summed
    loss's). The error of a leaf is the largest ``|J v - <v, g>| / max(|J v|, |<v, g>|,
    ||v|| ||g||)`` over its directions: rounding in a dot product is bounded by ||v|| ||g||.

    Arguments as :func:`autodiff_errors` (``floor`` stands in for ||g|| when larger); returns
    ``{"dW1": err, ...}`` like it.
    """
    count = at_least_one(tangents, "tangents")
    floor = numeric.nonnegative(floor, "floor")
    X, Y, layers, activations, keep = witness_inputs(X, Y, parameters, hidden_activation,
                                                      output, lambd, keep_prob, key)
    probes = draw_probes(layers, X.shape[1], count, seed)
    with forward_mode():
        found = jax.jit(lambda X, Y, layers, key, probes: transpose_ratios(
            X, Y, layers, activations, stable, lambd, keep, key, probes, floor))(
                X, Y, layers, key, probes)
    return {k: float(v) for k, v in found.items()}


def at_least_one(n, name):
    """A count of at least 1: a check of no directions (or no draws) would pass unseen."""
    if numeric.count(n, name) < 1:
        raise OptionError(f"{name} must be at least 1: a check of none would pass")
    return int(n)


@contextmanager
def forward_mode():
    """Forward mode cannot see through ``jax.custom_vjp``: say so in the package's terms."""
    try:
        yield
    except TypeError as e:
        if "custom_vjp" not in str(e):
            raise
        raise OptionError("the forward pass calls a jax.custom_vjp function, which forward "
                          "mode (jax.jvp) cannot differentiate: check it with autodiff_errors "
                          "and gradient_check (finite differences catch a wrong custom rule)"
                          ) from None


def draw_probes(layers, m, count, seed):
    """``count`` standard normal directions per leaf (W1, b1, ..., then each layer's input),
    drawn on the host: threefry inside the program compiles slowly."""
    rng = np.random.RandomState(numeric.seed(seed))
    shapes = [x.shape for W, b in layers for x in (W, b)] + [(W.shape[1], m) for W, _ in layers]
    return [jnp.asarray(rng.standard_normal((count, *shape)), layers[0][0].dtype)
            for shape in shapes]


def transpose_ratios(X, Y, layers, activations, stable, lambd, keep, key, probes, floor=0.0):
    m, count = X.shape[1], probes[0].shape[0]
    masks = kernels.dropout_masks(key, keep, layers, m)
    grads, dAs = _hand(X, Y, layers, activations, stable, lambd, masks)
    hand = (grads, [dA / m for dA in dAs])  # dA is the summed loss's gradient
    point = (layers, _zero_deltas(layers, m))
    _, jvp = jax.linearize(_cost_of(X, Y, activations, stable, lambd, masks), *point)
    # One tangent per (leaf, direction): v in that leaf, zeros elsewhere; all J v at once.
    leaves, treedef = jax.tree.flatten(point)
    tangents = [jnp.zeros((count * len(leaves), *leaf.shape), leaf.dtype).at[
        i * count:(i + 1) * count].set(probes[i]) for i, leaf in enumerate(leaves)]
    Jv = jax.vmap(lambda *t: jvp(*jax.tree.unflatten(treedef, t)))(*tangents)
    result = {}
    for i, (g, V, name) in enumerate(zip(jax.tree.leaves(hand), probes,
                                         jax.tree.leaves(_names(len(layers))), strict=True)):
        if g.shape != V.shape[1:]:  # a backward that returns the wrong shape
            result[name] = jnp.asarray(jnp.inf, g.dtype)
            continue
        Jv_leaf, vg = Jv[i * count:(i + 1) * count], jnp.tensordot(V, g, axes=g.ndim)
        bound = jnp.sqrt(jnp.sum(V * V, axis=tuple(range(1, V.ndim)))) * jnp.maximum(
            jnp.linalg.norm(g), floor)
        scale = jnp.maximum(jnp.maximum(jnp.abs(Jv_leaf), jnp.abs(vg)), bound)
        result[name] = jnp.max(jnp.abs(Jv_leaf - vg) / jnp.where(scale > 0, scale, 1),
                               initial=0.0)
    return result


def _names(L):
    """The course's gradient keys, laid out as the layers and their inputs: ``([(dW1, db1),
    ...], [dA1, ...])``."""
    return ([(f"dW{l}", f"db{l}") for l in range(1, L + 1)], [f"dA{l}" for l in range(1, L + 1)])


@verified
def finite_difference_gradients(parameters, X, Y, hidden_activation="relu", *, epsilon=1e-7,
                                output="sigmoid"):
    """Central-difference estimates of dJ/dW[l] and dJ/db[l], in float64, keyed like ``grads``.

    ``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` for every parameter entry theta_i, with
    J = ``compute_cost(L_model_forward(...))``; all entries in one compiled, batched map.

    Raises:
      OptionError: if x64 is not enabled (float32 differences are too coarse to mean anything).
    """
    layers, Y = check.problem(X, Y, parameters, get_output(output))
    return finite_differences(*_float64(X, Y, layers, hidden_activation, output), epsilon)


def _float64(X, Y, layers, hidden_activation, output):
    if not jax.config.jax_enable_x64:
        raise OptionError("finite differences need float64: call "
                          "jax.config.update('jax_enable_x64', True) first")
    layers = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), layers)
    return _inputs(X, Y, layers, hidden_activation, output), layers


def finite_differences(inputs, layers, epsilon):
    X, Y, activations = inputs
    theta, unravel = ravel_pytree(layers)

    @jax.jit
    def approximate(theta, X, Y):
        def cost(t):
            return activations[-1].cost(kernels.forward(X, unravel(t), activations)[0], Y)

        def along(i):
            return _central_difference(cost, theta, jax.nn.one_hot(i, theta.size,
                                                                    dtype=theta.dtype), epsilon)

        return jax.lax.map(along, jnp.arange(theta.size), batch_size=256)

    return layout.grads_to_dict(unravel(approximate(theta, X, Y)))


@verified
def gradient_check(parameters, X, Y, hidden_activation="relu", *, grads=None, epsilon=1e-7,
                   approx=None, output="sigmoid"):
    """The course's finite-difference check of the backward pass, in float64.

    Args:
      parameters, X, Y, hidden_activation: the network and data (converted to float64).
      grads: the gradients to check; default ``L_model_backward`` (the literal chain).
      epsilon: the finite-difference step.
      approx: precomputed :func:`finite_difference_gradients`, to check several ``grads`` at once.

    Returns:
      ``||g - g_approx|| / (||g|| + ||g_approx||)`` over all parameters; below
      :data:`GRADIENT_CHECK_THRESHOLD` (1e-7) for a correct backward. Keep pre-activations away
      from ReLU's kink at 0: differences straddling it see neither side's slope.
    """
    layers, Y = check.problem(X, Y, parameters, get_output(output))
    (X, Y, activations), layers = _float64(X, Y, layers, hidden_activation, output)
    if approx is None:
        approx = finite_differences((X, Y, activations), layers, epsilon)
    if grads is None:
        AL, caches = kernels.forward(X, layers, activations)
        grads = layout.grads_to_dict(kernels.backward(AL, Y, caches, activations, stable=False)[0])
    return _course_difference(grads, approx)


def _central_difference(cost, theta, direction, epsilon):
    """(J(theta + eps e) - J(theta - eps e)) / (2 eps): the slope of J along the unit e."""
    return (cost(theta + epsilon * direction) - cost(theta - epsilon * direction)) / (2 * epsilon)


def _course_difference(grads, approx):
    """||g - g_approx|| / (||g|| + ||g_approx||), every parameter's entries in one vector."""
    g = np.concatenate([np.ravel(np.asarray(grads[k], np.float64)) for k in sorted(approx)])
    g_approx = np.concatenate([np.ravel(np.asarray(approx[k])) for k in sorted(approx)])
    return float(np.linalg.norm(g - g_approx) / (np.linalg.norm(g) + np.linalg.norm(g_approx)))
