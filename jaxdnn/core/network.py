"""The L-layer network: forward, cost, backward and the gradient-descent update.

The network is ``[LINEAR -> g]`` for each hidden layer, then ``LINEAR -> output``, the course's
sigmoid or a softmax (:mod:`jaxdnn.outputs`)::

    X (n[0], m)  ->  A1 (n[1], m)  ->  ...  ->  AL (n[L], m)

``parameters`` is the course's dict ``{"W1": (n[1], n[0]), "b1": (n[1], 1), ..., "WL", "bL"}``.
``caches[l - 1]`` is layer l's ``((A_prev, W, b), Z)``.

Gradients use the course's keys and conventions. ``grads["dW{l}"]`` and ``grads["db{l}"]`` are
dJ/dW[l] and dJ/db[l] of the mean cost J. ``grads["dA{l}"]`` belongs to layer l's *input* A[l-1]
(the course's numbering is off by one: ``dA1`` is for X, ``dA{L}`` for A[L-1]), and, as in the
course, it is the gradient of the summed loss m J, i.e. m dJ/dA[l-1]: the 1/m is applied only
when forming dW and db.

Two backward paths are provided:

* the course's literal chain: ``dAL = -(Y/AL - (1-Y)/(1-AL))`` fed to ``sigmoid_backward``
  (a softmax: ``-Y/AL`` through its Jacobian).
  Exact while AL stays inside (0, 1); once the sigmoid saturates (|Z| above about 17 in float32,
  37 in float64) it divides by zero and gives inf/NaN.
* the stable path (``stable=True``): the output step fused into ``dZ[L] = AL - Y``, with the cost
  computed from the logits ``Z[L]`` by :func:`compute_cost_from_logits`. Finite for any finite Z.

The functions here check their arguments, then call the kernels of :mod:`jaxdnn.core.kernels`,
which work on the list of layers ``[(W1, b1), ...]`` (:mod:`jaxdnn.core.layout`).
"""

from functools import partial

import jax
import jax.numpy as jnp

from ..errors import InputTypeError, NameLookupError, OptionError, ShapeError
from . import checks as check
from . import kernels, layout, numeric
from .activations import Activation, get_activation
from .layout import as_floating
from .outputs import get_output


def layer_activations(hidden_activation, L, output="sigmoid"):
    """The activation of each of the L layers: the hidden ones, then the :class:`Output`.

    ``hidden_activation`` is one name (or pair) for every hidden layer, or a sequence of L - 1.
    """
    if isinstance(hidden_activation, (list, tuple)) and not isinstance(hidden_activation,
                                                                        Activation):
        hidden = tuple(hidden_activation)
        if len(hidden) != L - 1:
            raise ShapeError(f"hidden_activation lists {len(hidden)} names but the network has "
                             f"{L - 1} hidden layers")
    else:
        hidden = (hidden_activation,) * (L - 1)
        get_activation(hidden_activation)  # checked even when there is no hidden layer
    return (*map(get_activation, hidden), get_output(output))


def L_model_forward(X, parameters, hidden_activation="relu", *, output="sigmoid",
                    keep_prob=1.0, key=None):
    """Forward pass through all L layers.

    Args:
      X: (n[0], m) input, one example per column (integer or boolean X is converted to the
        parameters' dtype).
      parameters: the course's dict of ``W{l}`` (n[l], n[l-1]) and ``b{l}`` (n[l], 1).
      hidden_activation: a name for every hidden layer, or a tuple of L - 1 names (static).
      output: ``"sigmoid"`` (the course's) or ``"softmax"`` (:mod:`jaxdnn.outputs`; static).
      keep_prob: inverted dropout: the probability of keeping each unit of a hidden layer, one
        number for all or a tuple of L - 1 (static; 1: no dropout). The output layer is never
        dropped. Layer l's mask is ``bernoulli(fold_in(key, l), keep_prob[l])``, and the
        backward reads it from the caches (see :mod:`jaxdnn.layers`).
      key: a ``jax.random`` key, needed when some keep_prob is below 1.

    Returns:
      ``(AL, caches)``: AL (n[L], m) output probabilities, and the L layer caches.
    """
    layers = check.network(X, parameters)
    activations = layer_activations(hidden_activation, len(layers), output)
    check.outputs(layers, activations[-1])
    keep = numeric.keep_prob(keep_prob, key, len(layers))
    X = as_floating(X, layers[0][0].dtype)
    AL, caches = kernels.forward(X, layers, activations,
                                 kernels.dropout_masks(key, keep, layers, X.shape[1]))
    _forward_overflow(X, layers, caches)
    return AL, caches


def _forward_overflow(X, layers, caches):
    """Called eagerly, a forward pass of finite X and parameters must stay finite: else a
    :class:`NumericalOverflow` naming the first layer whose Z is not."""
    check.overflow([(f"layer {l}: Z{l}", Z) for l, (_, Z, *_) in enumerate(caches, start=1)],
                   "the forward pass", {"X": [X], "the parameters": jax.tree.leaves(layers)},
                   "; the pre-activations grow layer by layer: scale the initialisation (or the "
                   "inputs) down, or use fewer layers")


def _backward_overflow(AL, caches, grads, dAs, dA_from=1):
    """Called eagerly, a backward pass of finite AL and caches must stay finite: else a
    :class:`NumericalOverflow` naming the first layer (from the output down) that is not."""
    results = []
    for l in range(len(caches), 0, -1):
        dW, db = grads[l - 1]
        results += [(f"layer {l}: dW{l}", dW), (f"layer {l}: db{l}", db),
                    (f"layer {l}: dA{l - 1 + dA_from}", dAs[l - 1])]
    check.overflow(results, "the backward pass",
                   {"AL": [AL], "the caches": [a for cache in caches for a in (*cache[0],
                                                                            cache[1])]},
                   "; the gradients grow layer by layer: scale the initialisation down, or use "
                   "fewer layers")


def compute_cost(AL, Y, *, output="sigmoid"):
    """Cross-entropy from probabilities: J = -(1/m) sum(Y log AL + (1 - Y) log(1 - AL)) for the
    sigmoid, J = -(1/m) sum(Y log AL) for the softmax.

    Args:
      AL: (n[L], m) probabilities in (0, 1).
      Y: labels: 0 or 1 of AL's shape; for a softmax, one-hot (K, m) or class ids (1, m).
      output: the output layer, ``"sigmoid"`` or ``"softmax"``.

    Returns:
      The scalar cost.

    Raises:
      SaturationError: if a concrete AL holds an exact 0 (sigmoid: or 1), where this formula
        is not finite (under jit no value is known and the result is NaN): use
        :func:`compute_cost_from_logits`, finite for any finite logits.

    >>> AL, Y = jnp.array([[0.8, 0.9, 0.4]]), jnp.array([[1, 1, 1]])
    >>> round(float(compute_cost(AL, Y)), 6)
    0.414932
    """
    output = get_output(output)
    Y = check.targets(Y, output, check.array(AL, "AL"), but=f"AL has shape {tuple(AL.shape)}")
    check.probabilities(AL, output)
    return output.cost(AL, jnp.asarray(Y, AL.dtype))


def compute_cost_with_regularization(AL, Y, parameters, lambd, *, output="sigmoid"):
    """The cross-entropy of :func:`compute_cost` plus the L2 penalty
    ``lambd / (2 m) * sum_l ||W[l]||_F^2`` (biases are not penalised), as the course's
    regularisation assignment computes it."""
    layers = check.parameters(parameters)
    numeric.penalty(lambd)
    return compute_cost(AL, Y, output=output) + kernels.l2_penalty(layers, lambd, AL.shape[1])


def compute_cost_from_logits(ZL, Y, *, output="sigmoid"):
    """The same cross-entropy from the output logits, finite for every finite ZL: for the
    sigmoid J = (1/m) sum(softplus(Z) - Y Z), for the softmax (1/m) sum(logsumexp(Z) - Y Z).

    Equal to ``compute_cost(g(ZL), Y)`` for the output's activation g.
    """
    output = get_output(output)
    Y = check.targets(Y, output, check.array(ZL, "ZL"), but=f"ZL has shape {tuple(ZL.shape)}")
    check.finite(ZL, "ZL")
    return output.cost_from_logits(ZL, jnp.asarray(Y, ZL.dtype))


def L_model_backward(AL, Y, caches, hidden_activation="relu", *, stable=False, input_grad=True,
                     output="sigmoid", dA_from=1, lambd=0.0):
    """Backward pass through all L layers.

    Args:
      AL: (n[L], m) output of :func:`L_model_forward`.
      Y: labels, as :func:`compute_cost` takes them.
      caches: the caches of :func:`L_model_forward`.
      hidden_activation: as given to the forward pass (static).
      stable: start from the fused ``dZ[L] = AL - Y`` instead of the course's ``dAL``.
      input_grad: include ``dA1`` (dJ/dX). Left out, a jitted caller never computes ``W1^T dZ1``.
      output: the output layer of the forward pass, ``"sigmoid"`` or ``"softmax"`` (static).
      dA_from: how the ``dA`` entries are numbered: 1 (the default, as the course's seeds:
        ``dA1`` belongs to X, ``dA{L}`` to A[L-1]) or 0 (as its current notebooks: ``dA0``
        belongs to X, ``dA{L-1}`` to A[L-1]).
      lambd: the L2 penalty's weight: every ``dW{l}`` gains ``lambd / m * W[l]`` (the gradient
        of :func:`compute_cost_with_regularization`); biases and ``dA`` are unchanged.

    Returns:
      ``grads`` with ``dW{l}``, ``db{l}`` for every layer and ``dA{l}`` = m dJ/dA[l-1]
      (see the module docstring for this numbering and scaling; ``dA_from=0`` shifts it).

    Raises:
      SaturationError: on the literal chain, if a concrete AL is saturated (exactly 0, or 1
        for a sigmoid).
    """
    if not isinstance(caches, (list, tuple)) or not caches:
        raise InputTypeError("caches must be the non-empty list returned by L_model_forward")
    activations = layer_activations(hidden_activation, len(caches), output)
    Y = check.targets(Y, activations[-1], check.array(AL, "AL"),
                      but=f"AL has shape {tuple(AL.shape)}")
    if not stable:
        check.probabilities(AL, activations[-1], in_range=False)
    for l, cache in enumerate(caches, start=1):
        _check_cache(cache, l, AL if l == len(caches) else None)
    if isinstance(dA_from, bool) or not isinstance(dA_from, int) or dA_from not in (0, 1):
        raise OptionError(f"dA_from must be 1 (dA1 belongs to X) or 0 (dA0 does); "
                          f"got {dA_from!r}")
    numeric.penalty(lambd)
    grads, dAs = kernels.backward(AL, jnp.asarray(Y, AL.dtype), caches, activations, stable,
                                  lambd)
    _backward_overflow(AL, caches, grads, dAs, dA_from)
    return layout.grads_to_dict(grads, dAs if input_grad else [None, *dAs[1:]], dA_from)


def _check_cache(cache, l, AL):
    if not isinstance(cache, (tuple, list)) or len(cache) not in (2, 3) \
            or not isinstance(cache[0], (tuple, list)) or len(cache[0]) != 3:
        raise InputTypeError(f"caches[{l - 1}] must be layer {l}'s ((A_prev, W, b), Z) from "
                             f"L_model_forward; got {type(cache).__name__}")
    (A_prev, W, b), Z, *mask = cache
    check.linear(A_prev, W, b, layer=l, a_name=f"the cached A{l - 1}")
    check.shaped(Z, f"the cached Z{l}", (W.shape[0], A_prev.shape[1]))
    if mask:
        check.shaped(mask[0], f"the cached dropout mask of layer {l}", Z.shape)
    if AL is not None:
        check.shaped(AL, "AL", Z.shape, but=f"the cached Z{l} has {tuple(Z.shape)}")


def update_parameters(parameters, grads, learning_rate):
    """One gradient-descent step: W{l} - lr * dW{l}, b{l} - lr * db{l}. Returns a new dict."""
    check.parameters(parameters)
    numeric.rate(learning_rate)
    if not isinstance(grads, dict):
        raise InputTypeError(f"grads must be a dict {{'dW1', 'db1', ...}}; "
                             f"got {type(grads).__name__}")
    for key, value in parameters.items():
        if f"d{key}" not in grads:
            raise NameLookupError(f"grads has no d{key} for parameter {key}")
        check.shaped(grads[f"d{key}"], f"d{key}", value.shape,
                     but=f"{key} has shape {tuple(value.shape)}")
    new = kernels.descend(parameters, {key: grads[f"d{key}"] for key in parameters}, None,
                          learning_rate, 0.0)[0]
    updated = {key: new[key] for key in parameters}  # the course's order, not tree.map's sorted one
    check.overflow([(f"layer {key[1:]}: {key}", value) for key, value in updated.items()],
                   "the update", {"the parameters": parameters.values(),
                                  "the gradients": [grads[f"d{key}"] for key in parameters]},
                   f"; learning_rate {learning_rate} times the gradient is beyond the dtype's "
                   f"range: try a smaller learning rate")
    return updated


def cost_and_grads(X, Y, parameters, hidden_activation="relu", *, output="sigmoid", lambd=0.0):
    """The training step's work: the stable cost and the ``dW{l}``/``db{l}`` gradients.

    No ``dA`` entries are returned, so under jit the input gradient W1^T dZ1 is never computed.

    ``lambd`` adds the L2 penalty to the cost and ``lambd / m * W`` to every ``dW``.

    Returns:
      ``(cost, grads)``, grads ready for :func:`update_parameters`.
    """
    layers, Y = check.problem(X, Y, parameters, get_output(output))
    numeric.penalty(lambd)
    activations = layer_activations(hidden_activation, len(layers), output)
    dtype = layers[0][0].dtype
    X, Y = as_floating(X, dtype), jnp.asarray(Y, dtype)
    cost, grads = kernels.cost_and_grads(X, Y, layers, activations, lambd)
    if not check.all_finite([cost, *jax.tree.leaves(grads)]):
        locate_overflow(X, Y, layers, activations, lambd)
    return cost, layout.grads_to_dict(grads)


def locate_overflow(X, Y, layers, activations, lambd=0.0, masks=()):
    """Where a training step on finite X, Y and ``layers`` (with dropout ``masks``) stops being
    finite, computed eagerly: a :class:`NumericalOverflow` naming the forward pass, the backward
    pass or the cost, and the layer; None if it stays finite."""
    AL, caches = kernels.forward(X, layers, activations, masks)
    _forward_overflow(X, layers, caches)
    grads, dAs = kernels.backward(AL, Y, caches, activations, True, lambd)
    _backward_overflow(AL, caches, grads, dAs)
    cost = activations[-1].cost_from_logits(caches[-1][1], Y) + kernels.l2_penalty(
        layers, lambd, X.shape[1])
    check.overflow([("the cost", cost)], "the cost", {"X": [X], "the parameters":
                                                      jax.tree.leaves(layers)})


def network_cost(X, Y, parameters, hidden_activation="relu", *, output="sigmoid", lambd=0.0):
    """The training cost J (from the logits, plus the L2 term) as a function whose derivative
    under ``jax.grad``, ``jax.vjp`` and optax is the hand-written backward (a ``jax.custom_vjp``).

    Differentiable in all three arrays: ``d parameters`` is the chain's ``dW``/``db`` keyed like
    ``parameters``, ``d X`` its ``dA1 / m`` (J is a mean), ``d Y`` is ``-Z[L] / m``. Composes
    with ``jit`` and ``vmap``: per-example gradients are ``vmap(grad(network_cost))`` over
    columns taken as (n, 1) arrays. ``hidden_activation``, ``output`` and ``lambd`` are static.

    >>> X, Y = jnp.ones((2, 3)), jnp.array([[0.0, 1.0, 1.0]])
    >>> params = {"W1": jnp.ones((1, 2)), "b1": jnp.zeros((1, 1))}
    >>> round(float(jax.grad(network_cost, argnums=2)(X, Y, params)["b1"][0, 0]), 6)
    0.21413
    """
    layers, Y = check.problem(X, Y, parameters, get_output(output))
    numeric.penalty(lambd, concrete=True)
    activations = layer_activations(hidden_activation, len(layers), output)
    dtype = layers[0][0].dtype
    return _network_cost(activations, float(lambd), as_floating(X, dtype),
                         jnp.asarray(Y, dtype), dict(parameters))


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _network_cost(activations, lambd, X, Y, parameters):
    return _network_cost_forward(activations, lambd, X, Y, parameters)[0]


def _network_cost_forward(activations, lambd, X, Y, parameters):
    layers = layout.to_layers(parameters)
    AL, caches = kernels.forward(X, layers, activations)
    cost = activations[-1].cost_from_logits(caches[-1][1], Y)
    return cost + kernels.l2_penalty(layers, lambd, X.shape[1]), (AL, Y, caches)


def _network_cost_backward(activations, lambd, residuals, g):
    AL, Y, caches = residuals
    grads, dAs = kernels.backward(AL, Y, caches, activations, True, lambd)
    m = Y.shape[1]
    d_parameters = {k: g * v for k, v in layout.to_dict(grads).items()}
    return g * dAs[0] / m, -g * caches[-1][1] / m, d_parameters


_network_cost.defvjp(_network_cost_forward, _network_cost_backward)
