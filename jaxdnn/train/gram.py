"""The Gram loop: the plain loop's iterates without touching X inside the loop.

Gradient descent moves W1 by -lr dW1 = -lr G X^T and b1 by -lr G 1, with G = dJ/dZ1 (n1, m), so
Z1 = W1 X + b1 moves by -lr G (X^T X + 1 1^T) = -lr G K. The loop carries Z1 and the sum S of
the updates u = -lr G (momentum: u = -lr trace of G); at the end W1 = W1_0 + S X^T and
b1 = b1_0 + S 1. Each iteration costs n1 m^2 for the first layer instead of 2 n1 n0 m, a win
when n0 > m (12288 features, 209 examples for the cat model). Only descent that is linear in
the gradient (plain or heavy-ball) moves Z1 this way, so optax optimisers are not taken here.

Momentum continuing a run starts from the first layer's trace (T0, t0) in parameter space.
After k steps that part of the trace has decayed to momentum^k (T0, t0): it moves Z1 by
-lr_k momentum^k P0 with P0 = T0 X + t0, and W1, b1 by -c (T0, t0) with c the sum of the
lr_k momentum^k (the learning rate may follow a schedule). The trace is handed back in
parameter space, for either loop to continue.

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

import jax
import jax.numpy as jnp
import numpy as np

from ..core import kernels, layout
from .loop import Body, every_iteration, learning_rate

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


# --- the loop body (jaxdnn.train.loop) ---------------------------------------------------
#
# What the loop carries from one call to the next, ``carry.loop["gram"]``: the data's K (made
# by a run's first call only: its n[0] m^2 products cost as much as hundreds of the cat model's
# iterations), the first layer at the run's start (W1_0, b1_0), the summed updates S and the
# carried Z1, and for momentum the start's trace (T0, t0), the trace of G and the decays. A
# fresh run's entry (``fresh``) holds placeholders of those shapes (:func:`fresh_state`); each
# call ends with the parameters (and trace) they give, and with that first layer's copy, by
# which the driver recognises its own state. So a run cut into calls anywhere computes the same
# bits as one call.


def fresh_state(parameters, opt_state, m):
    """The ``loop["gram"]`` entry of a run that has not trained on the Gram path yet: numpy
    placeholders of the carried arrays' shapes (the compiled begin computes their values)."""
    W1 = parameters["W1"]
    n1, dtype = W1.shape[0], W1.dtype
    state = {"fresh": np.bool_(True), "K": np.zeros((m, m), dtype),
             "W1_0": np.zeros(W1.shape, dtype), "b1_0": np.zeros((n1, 1), dtype),
             "S": np.zeros((n1, m), dtype), "Z1": np.zeros((n1, m), dtype),
             "W1": np.zeros(W1.shape, dtype), "b1": np.zeros((n1, 1), dtype)}
    if opt_state is not None:
        state.update(T0=np.zeros(W1.shape, dtype), t0=np.zeros((n1, 1), dtype),
                     trace_G=np.zeros((n1, m), dtype), decay=np.ones((), dtype),
                     decays=np.zeros((), dtype))
    return state


def begin(data, carry, start, hyper, program, mask):
    """``(data, inner)``: the constants of the call (K, the start's first layer and trace, P0)
    go with the data, the carried values into the loop."""
    g = carry.loop["gram"]
    fresh = g["fresh"]
    (W1, b1), *tail = layout.to_layers(carry.parameters)
    X = data.X
    K = jax.lax.cond(fresh, lambda: _gram_matrix(X), lambda: g["K"])  # the data's: once a run
    W1_0, b1_0 = jnp.where(fresh, W1, g["W1_0"]), jnp.where(fresh, b1, g["b1_0"])
    Z1 = jax.lax.cond(fresh, lambda: _dot(W1, X) + b1, lambda: g["Z1"])
    S = jnp.where(fresh, 0, g["S"])
    constants = {"K": K, "W1_0": W1_0, "b1_0": b1_0}
    trace_G = trace_tail = decay = decays = None
    if carry.opt_state is not None:
        (T, t), *trace_tail = layout.to_layers(carry.opt_state)
        T0, t0 = jnp.where(fresh, T, g["T0"]), jnp.where(fresh, t, g["t0"])
        constants.update(T0=T0, t0=t0, P0=_dot(T0, X) + t0)
        trace_G = jnp.where(fresh, 0, g["trace_G"])
        decay, decays = jnp.where(fresh, 1, g["decay"]), jnp.where(fresh, 0, g["decays"])
    return data._replace(extra=constants), (Z1, S, tail, trace_G, trace_tail, decay, decays)


def step(data, inner, i, k, hyper, program, mask):
    """One step of (momentum) gradient descent: the layers above the first on A1 = g(Z1) as
    usual, the first through K (module docstring)."""
    Z1, S, tail, trace_G, trace_tail, decay, decays = inner
    first, *tail_activations = program.activations
    output, m = program.activations[-1], data.Y.shape[1]
    lr, momentum = learning_rate(hyper, k), hyper.momentum
    if tail:
        A1, _ = first.forward(Z1)
        AL, caches = kernels.forward(A1, tail, tail_activations)
        cost = output.cost_from_logits(caches[-1][1], data.Y)
        grads, dAs = kernels.backward(AL, data.Y, caches, tail_activations, stable=True)
        G = first.backward(dAs[0], Z1) / m  # the course's dA is m dJ/dA
        tail, trace_tail = kernels.descend(tail, grads, trace_tail, lr, momentum)
    else:
        cost = output.cost_from_logits(Z1, data.Y)
        G = kernels.fused_output_step(output.forward(Z1)[0], data.Y) / m
    u = -lr * G
    if trace_G is not None:
        trace_G = G + momentum * trace_G
        decay = momentum * decay
        u = -lr * trace_G
        Z1 = Z1 - lr * decay * data.extra["P0"]
        decays = decays + lr * decay
    return (Z1 + u @ data.extra["K"], S + u, tail, trace_G, trace_tail, decay, decays), cost


def end(data, inner, carry, hyper, program):
    """The parameters (and trace) the carried state gives, and that state for the next call."""
    Z1, S, tail, trace_G, trace_tail, decay, decays = inner
    c = data.extra
    W1, b1 = _first_layer(c["W1_0"], c["b1_0"], S, data.X)
    state = {"fresh": jnp.bool_(False), "K": c["K"], "W1_0": c["W1_0"], "b1_0": c["b1_0"],
             "S": S, "Z1": Z1}
    trace = None
    if trace_G is not None:
        W1, b1 = W1 - decays * c["T0"], b1 - decays * c["t0"]
        trace = layout.to_dict([_first_layer_trace(trace_G, data.X, decay, c["T0"], c["t0"]),
                                *trace_tail])
        state.update(T0=c["T0"], t0=c["t0"], trace_G=trace_G, decay=decay, decays=decays)
    state.update(W1=W1, b1=b1)  # by these the driver knows the parameters are this state's
    return layout.to_dict([(W1, b1), *tail]), trace, dict(carry.loop, gram=state)


BODY = Body("gram", begin, step, end, None, every_iteration)
"""The Gram path as a loop body (:mod:`jaxdnn.train.loop`): it cannot monitor a set."""


def owns(loop_state, parameters):
    """Whether ``loop_state`` (a run's ``loop["gram"]``) is the state that gave ``parameters``'s
    first layer, bit for bit (else a run starts the Gram path afresh from the parameters)."""
    return bool(np.array_equal(np.asarray(loop_state["W1"]), np.asarray(parameters["W1"]))
                and np.array_equal(np.asarray(loop_state["b1"]), np.asarray(parameters["b1"])))


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
