"""The Gram loop: the plain loop's iterates without touching X inside the loop.

Gradient descent moves W1 by -lr dW1 = -lr G X^T and b1 by -lr G 1, with G = dJ/dZ1 (n1, m), so
Z1 = W1 X + b1 moves by -lr G (X^T X + 1 1^T) = -lr G K. The loop carries Z1 and the sum S of
the updates u = -lr G (momentum: u = -lr trace of G); at the end W1 = W1_0 + S X^T and
b1 = b1_0 + S 1. Each iteration costs n1 m^2 for the first layer instead of 2 n1 n0 m, a win
when n0 > m (12288 features, 209 examples for the cat model). Only descent that is linear in
the gradient (plain or heavy-ball) moves Z1 this way, so optax optimisers are not taken here.

Momentum continuing a run starts from the first layer's trace (T0, t0) in parameter space.
After k steps that part of the trace has decayed to momentum^k (T0, t0): it moves Z1 by
-lr momentum^k P0 with P0 = T0 X + t0, and W1, b1 by -lr c (T0, t0) with c the sum of the
decays. The trace is handed back in parameter space, for either loop to continue.

Accuracy in float32. The loop's carried state keeps any error in its start for the whole run,
where the plain loop recomputes W1 X afresh each step. A float32 ``W1 @ X`` (12288 terms for the
cat model) is off by up to 1e-6 of max |Z1|: carried, that error moved a ReLU unit across its
kink and the cat model's float32 costs left the float64 ones at iteration 68 (test accuracy 0.82
instead of 0.8). So the products with X that start the carry (Z1 and, for momentum, P0) are
summed in chunks of :data:`CHUNK` terms with compensated addition (:func:`_dot`, about 2.5e-7 of
max |Z1|). Then the float32 Gram trajectory follows the float64 one as closely as the float32
plain loop's (both within 4e-7 relative in cost for 250 iterations). The same arithmetic runs
with or without ``jax_enable_x64`` (no float64 intermediates), so a float32 run gives the same
bits either way. ``K``, the carried sums and the final ``S X^T`` stay in the data's dtype:
making them float64 or compensated did not move the iteration where float32 leaves float64
(docs/benchmarks.md).
"""

from functools import partial

import jax
import jax.numpy as jnp

from ..core import kernels, layout
from .step import guarded_scan, report

CHUNK = 128
"""Terms per chunk of :func:`_dot`: shorter chunks round less but make a longer scan (measured
on the cat model's W1 X, max error / max |Z1|: 1.7e-7 at 64, 2.5e-7 at 128, 3.7e-7 at 512; a
plain float32 product 9.8e-7)."""


def _dot(A, B):
    """``A @ B`` for A (n, k) and B (k, m), summed over k in chunks of CHUNK whose products are
    added with two-sum compensation, so only the chunks' own roundings remain."""
    n, k = A.shape
    chunks = -(-k // CHUNK)
    pad = chunks * CHUNK - k  # zero terms add nothing
    A = jnp.pad(A, ((0, 0), (0, pad))).reshape(n, chunks, CHUNK).transpose(1, 0, 2)
    B = jnp.pad(B, ((0, pad), (0, 0))).reshape(chunks, CHUNK, B.shape[1])

    def add(carry, chunk):
        total, error = carry
        a, b = chunk
        term = a @ b
        new = total + term
        rounded = new - total  # two-sum: new + (lost) == total + term exactly
        lost = (total - (new - rounded)) + (term - rounded)
        return (new, error + lost), None

    zero = jnp.zeros((n, B.shape[2]), jnp.result_type(A, B))
    (total, error), _ = jax.lax.scan(add, (zero, zero), (A, B))
    return total + error


@partial(jax.jit, static_argnames="options", donate_argnames=("parameters", "opt_state"))
def gram_loop(X, Y, parameters, opt_state, start, count, learning_rate, momentum, options):
    """Train ``count`` steps of (momentum) gradient descent from ``start``;
    ``opt_state`` is None or the momentum trace. Returns ``(parameters, opt_state, costs,
    diverged)`` as the plain loop."""
    (W1, b1), *tail = layout.to_layers(parameters)
    first, *tail_activations = options.activations
    output = options.activations[-1]
    m = X.shape[1]
    K = _gram_matrix(X)
    Z1 = _dot(W1, X) + b1
    with_momentum = opt_state is not None
    trace_tail = None
    if with_momentum:
        (T0, t0), *trace_tail = layout.to_layers(opt_state)
        P0 = _dot(T0, X) + t0
    one = jnp.ones((), Z1.dtype)

    def step(carry, i):
        Z1, S, tail, trace_G, trace_tail, decay, decays = carry
        if tail:
            A1, _ = first.forward(Z1)
            AL, caches = kernels.forward(A1, tail, tail_activations)
            cost = output.cost_from_logits(caches[-1][1], Y)
            grads, dAs = kernels.backward(AL, Y, caches, tail_activations, stable=True)
            G = first.backward(dAs[0], Z1) / m  # the course's dA is m dJ/dA
            tail, trace_tail = kernels.descend(tail, grads, trace_tail, learning_rate, momentum)
        else:
            cost = output.cost_from_logits(Z1, Y)
            G = kernels.fused_output_step(output.forward(Z1)[0], Y) / m
        report(options.on_cost, i, cost)
        u = -learning_rate * G
        if with_momentum:
            trace_G = G + momentum * trace_G
            decay = momentum * decay
            u = -learning_rate * trace_G
            Z1 = Z1 - learning_rate * decay * P0
            decays = decays + decay
        return (Z1 + u @ K, S + u, tail, trace_G, trace_tail, decay, decays), cost

    carry = (Z1, jnp.zeros_like(Z1), tail, jnp.zeros_like(Z1), trace_tail, one, 0 * one)
    (_, S, tail, trace_G, trace_tail, decay, decays), costs, diverged = guarded_scan(
        step, carry, start, options.num_iterations, count)
    W1, b1 = _first_layer(W1, b1, S, X)
    trace = None
    if with_momentum:
        W1, b1 = W1 - learning_rate * decays * T0, b1 - learning_rate * decays * t0
        trace = layout.to_dict([_first_layer_trace(trace_G, X, decay, T0, t0), *trace_tail])
    return layout.to_dict([(W1, b1), *tail]), trace, costs, diverged


def _gram_matrix(X):
    """K = X^T X + 1 1^T, (m, m): a step on W1 and b1 moves Z1 = W1 X + b1 by u K (the 1 1^T
    is the bias's part)."""
    return X.T @ X + 1


def _first_layer(W1, b1, S, X):
    """W1 + S X^T and b1 + S 1: the parameters that the summed updates S (n1, m) of Z1 came
    from."""
    return W1 + S @ X.T, b1 + jnp.sum(S, axis=1, keepdims=True)


def _first_layer_trace(trace_G, X, decay, T0, t0):
    """The momentum trace of (W1, b1), from the trace of G (dW1 = G X^T, db1 = G 1) and the
    start's trace (T0, t0) decayed by ``decay`` = momentum^k."""
    return (trace_G @ X.T + decay * T0,
            jnp.sum(trace_G, axis=1, keepdims=True) + decay * t0)
