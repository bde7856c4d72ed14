"""The math of the chain, and nothing else: every kernel the checked faces and the loops call.

Shapes, with m examples::

    A_prev (n[l-1], m)   W (n[l], n[l-1])   b (n[l], 1)   Z, A (n[l], m)

``layers`` is ``[(W1, b1), ..., (WL, bL)]`` (:mod:`jaxdnn.core.layout`) and ``activations`` the
L :class:`~jaxdnn.Activation` entries of :func:`~jaxdnn.core.network.layer_activations` (the
last one an :class:`~jaxdnn.Output`). Caches are the course's: layer l's is
``((A_prev, W, b), Z)``, or ``((A_prev, W, b), Z, M)`` under inverted dropout, M = D / keep_prob
its scaled mask. The gradient of a layer's input, ``dA``, is that of the summed loss m J (the
course's convention); the 1/m enters dW and db only.

Nothing here checks an argument: the public functions of :mod:`jaxdnn.core.layers` and
:mod:`jaxdnn.core.network` do, once, then call these. Every other module calls a kernel as an
attribute of this module (``kernels.backward``), so a test that patches one kernel here reaches
every caller.
"""

import jax
import jax.numpy as jnp


def linear_forward(A, W, b):
    """Z = W A + b. Returns ``(Z, (A, W, b))``."""
    return W @ A + b, (A, W, b)


def linear_backward(dZ, cache):
    """dA_prev = W^T dZ, dW = dZ A_prev^T / m, db = sum over examples of dZ / m."""
    A_prev, W, _ = cache
    m = A_prev.shape[1]
    dW = dZ @ A_prev.T / m
    db = jnp.sum(dZ, axis=1, keepdims=True) / m
    dA_prev = W.T @ dZ
    return dA_prev, dW, db


def linear_activation_forward(A_prev, W, b, activation, mask=None):
    """A = g(W A_prev + b), times the scaled dropout ``mask`` when there is one."""
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, Z = activation.forward(Z)
    if mask is None:
        return A, (linear_cache, Z)
    return A * mask, (linear_cache, Z, mask)


def linear_activation_backward(dA, cache, activation):
    """dZ = dA * g'(Z) (dA * M first under dropout: only kept units, scaled as they were), then
    :func:`linear_backward`."""
    linear_cache, Z, *mask = cache
    if mask:
        dA = dA * mask[0]
    return linear_backward(activation.backward(dA, Z), linear_cache)


def forward(X, layers, activations, masks=()):
    """``(AL, caches)``; ``masks``: one scaled mask (or None) per hidden layer, or none."""
    A, caches = X, []
    for l, ((W, b), activation) in enumerate(zip(layers, activations, strict=True)):
        A, cache = linear_activation_forward(A, W, b, activation,
                                             masks[l] if l < len(masks) else None)
        caches.append(cache)
    return A, caches


def fused_output_step(AL, Y):
    """dZ[L] = AL - Y: the output's backward and the cost's m dJ/dAL in one step."""
    return AL - Y


def backward(AL, Y, caches, activations, stable, lambd=0.0):
    """``([(dW1, db1), ...], [dA[0], ..., dA[L-1]])``: each layer's parameter gradients (with the
    L2 term) and the summed-loss gradient of its input. ``stable``: start from the fused
    dZ[L] = AL - Y; else from the course's dAL through the output's backward."""
    if stable:
        dA_prev, dW, db = linear_backward(fused_output_step(AL, Y), caches[-1][0])
    else:
        output = activations[-1]
        dA_prev, dW, db = linear_activation_backward(output.dAL(AL, Y), caches[-1], output)
    grads, dAs = [(dW, db)], [dA_prev]
    for cache, activation in zip(caches[-2::-1], activations[-2::-1], strict=True):
        dA_prev, dW, db = linear_activation_backward(dA_prev, cache, activation)
        grads.insert(0, (dW, db))
        dAs.insert(0, dA_prev)
    return l2_gradients(grads, caches, lambd, AL.shape[1]), dAs


def static_zero(lambd):
    """A Python 0 (not a traced value): the L2 terms are left out of the program entirely."""
    return isinstance(lambd, (int, float)) and lambd == 0


def l2_penalty(layers, lambd, m):
    """lambd / (2 m) * sum_l ||W[l]||_F^2 (biases are not penalised)."""
    if static_zero(lambd):
        return 0.0
    return lambd / (2 * m) * sum(jnp.sum(W * W) for W, _ in layers)


def l2_gradients(grads, caches, lambd, m):
    """dW[l] + lambd / m * W[l], the L2 penalty's part; biases are not penalised."""
    if static_zero(lambd):
        return grads
    return [(dW + lambd / m * W, db) for (dW, db), ((_, W, _), *_) in zip(grads, caches,
                                                                           strict=True)]


def cost_and_grads(X, Y, layers, activations, lambd=0.0, masks=()):
    """The training step's work: the stable cost (from the logits, plus the L2 term) and the
    layers' gradients ``[(dW1, db1), ...]``."""
    AL, caches = forward(X, layers, activations, masks)
    grads, _ = backward(AL, Y, caches, activations, True, lambd)
    cost = activations[-1].cost_from_logits(caches[-1][1], Y)
    return cost + l2_penalty(layers, lambd, X.shape[1]), grads


def dropout_masks(key, keep_prob, layers, m):
    """Layer l's scaled mask ``bernoulli(fold_in(key, l), p) / p`` for each hidden layer whose
    keep probability p is below 1 (None for the others); none without dropout. A traced p (one
    per model of a stack) always draws: at p = 1 its mask is all ones."""
    return [None if isinstance(p, float) and p == 1 else
            jax.random.bernoulli(jax.random.fold_in(key, l), p, (W.shape[0], m)).astype(W.dtype) / p
            for l, (p, (W, _)) in enumerate(zip(keep_prob, layers, strict=False))]


def descend(parameters, grads, trace, learning_rate, momentum):
    """Gradient descent on any pytree, with heavy-ball momentum when there is a trace:
    trace <- g + momentum * trace, p <- p - lr * trace. Returns ``(parameters, trace)``.

    Without a trace this is exactly the course's ``update_parameters`` (and ``optax.sgd``).
    """
    if trace is not None:
        trace = jax.tree.map(lambda g, t: g + momentum * t, grads, trace)
        grads = trace
    return jax.tree.map(lambda p, g: p - learning_rate * g, parameters, grads), trace
