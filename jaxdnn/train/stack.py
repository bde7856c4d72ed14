"""Many models in one compiled program: a stack of networks trained side by side with vmap.

A :class:`ModelStack` holds S networks of one depth L, input size n[0] and output size n[L];
their hidden widths may differ. Every leaf of its ``parameters`` has a leading model axis,
``W{l}`` (S, N[l], N[l-1]) and ``b{l}`` (S, N[l], 1), where N[l] is the widest model's n[l];
``dims`` holds each model's own ``(n[0], ..., n[L])``. :func:`stack_models` builds one from the
course's dicts, :func:`unstack_models` gives them back.

:func:`fit_many` trains every model of the stack in one ``lax.scan`` under ``jax.jit``: the step
of :func:`~jaxdnn.fit`'s plain loop, ``jax.vmap``-ed over the model axis, with each model's own
learning rate, momentum, L2 weight ``lambd``, dropout ``keep_prob`` and dropout key. Each model's
result is the one ``fit(..., gram=False)`` gives it alone, to rounding (vmap may group the
sums of a matmul otherwise).

**Padding is exact.** A padded unit of layer l has zero weights in (``W{l}`` row), a zero bias
and zero weights out (``W{l+1}`` column), so it adds exact zeros to the layer above whatever it
outputs; its gradients are masked to zero at every step, so it stays so. The mask is needed: a
sigmoid hidden unit outputs g(0) = 0.5, and the gradient of its outgoing weights,
``dZ[l+1] A[l]^T / m``, is not zero. (ReLU, leaky ReLU and tanh output 0 there.) Dropout masks of
the padded width agree with the narrower model's on its own units, because jax draws each
element's bits from its index (``jax_threefry_partitionable``, the default).

**Divergence is per model.** A model whose cost or update stops being finite keeps its last
finite parameters, its costs after that iteration are NaN, and ``diverged`` records the
iteration (-1 for the others); the other models train on undisturbed.
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as check
from ..core import kernels, layout, limits
from ..core.network import layer_activations
from ..core.outputs import get_output
from ..errors import InputTypeError, JaxdnnError, OptionError, ShapeError
from . import config
from .step import Options, guarded_scan, train_step


class ModelStack(NamedTuple):
    """S networks of one depth, padded to the widest and stacked on a leading axis.

    Attributes:
      parameters: the course dict with a model axis: ``W{l}`` (S, N[l], N[l-1]), ``b{l}``
        (S, N[l], 1); entries beyond a model's own widths are zero.
      dims: S tuples ``(n[0], ..., n[L])``, each model's own layer sizes.
    """

    parameters: dict
    dims: tuple


def stack_models(models):
    """A :class:`ModelStack` of the course dicts ``models`` (one depth, input and output size
    and dtype; any hidden widths), each padded with zeros to the widest."""
    if not isinstance(models, (list, tuple)) or not models:
        raise InputTypeError(f"models must be a non-empty list of parameter dicts; got "
                             f"{type(models).__name__}")
    dims = []
    for k, parameters in enumerate(models):
        try:
            dims.append(tuple(layout.layer_dims(check.parameters(parameters))))
        except JaxdnnError as e:
            raise type(e)(f"models[{k}]: {e}") from None
    first, dtype = dims[0], models[0]["W1"].dtype
    for k, (own, parameters) in enumerate(zip(dims, models, strict=True)):
        if len(own) != len(first) or own[0] != first[0] or own[-1] != first[-1]:
            raise ShapeError(f"models[{k}] has layer sizes {list(own)} but models[0] has "
                             f"{list(first)}: a stack's models share their depth, input and "
                             f"output sizes")
        if jnp.dtype(parameters["W1"].dtype) != jnp.dtype(dtype):
            raise InputTypeError(f"models[{k}] is {parameters['W1'].dtype} but models[0] is "
                                 f"{dtype}: a stack trains in one dtype")
    widest = np.max(dims, axis=0)
    limits.stacked(len(models), widest.tolist())
    stacked = {}
    for key in layout.expected_keys(len(first) - 1):
        l = int(key[1:])
        leaf = np.zeros((len(models), widest[l], widest[l - 1] if key[0] == "W" else 1),
                        jnp.dtype(dtype))
        for k, parameters in enumerate(models):  # on the host: no compilation per shape
            rows, cols = parameters[key].shape
            leaf[k, :rows, :cols] = np.asarray(parameters[key])
        stacked[key] = jnp.asarray(leaf)
    return ModelStack(stacked, tuple(dims))


def unstack_models(stack):
    """The course dicts of ``stack``'s models, each cut back to its own widths."""
    _check_stack(stack)
    host = jax.device_get(stack.parameters)
    return [{key: jnp.asarray(host[key][k][:own[int(key[1:])],
                                           :(own[int(key[1:]) - 1] if key[0] == "W" else 1)])
             for key in host}
            for k, own in enumerate(stack.dims)]


def _check_stack(stack):
    """``stack`` must be a :class:`ModelStack` whose leaves share a leading axis of one entry
    per model and hold the widest model; returns one model's padded parameters as shapes."""
    if not isinstance(stack, ModelStack):
        raise InputTypeError(f"stack must be a ModelStack (jaxdnn.stack_models(models)); got "
                             f"{type(stack).__name__}")
    if not isinstance(stack.dims, tuple) or not stack.dims or not all(
            isinstance(own, tuple) for own in stack.dims):
        raise InputTypeError("stack.dims must be a non-empty tuple of layer-size tuples")
    S = len(stack.dims)
    if not isinstance(stack.parameters, dict):
        raise InputTypeError(f"stack.parameters must be a dict; got "
                             f"{type(stack.parameters).__name__}")
    shapes = {}
    for key, value in stack.parameters.items():
        if getattr(value, "ndim", None) != 3:
            raise ShapeError(f"stack.parameters[{key!r}] must be 3-D (models, rows, columns); "
                             f"got {getattr(value, 'shape', type(value).__name__)}")
        if value.shape[0] != S:
            raise ShapeError(f"{key} has {value.shape[0]} models on its leading axis but the "
                             f"stack has {S} (stack.dims)")
        shapes[key] = jax.ShapeDtypeStruct(value.shape[1:], value.dtype)
    widest = layout.layer_dims(check.parameters(shapes))
    for k, own in enumerate(stack.dims):
        check.layer_dims(own)
        if len(own) != len(widest) or own[0] != widest[0] or own[-1] != widest[-1] or any(
                n > w for n, w in zip(own, widest, strict=True)):
            raise ShapeError(f"stack.dims[{k}] = {list(own)} does not fit the stacked "
                             f"parameters' layer sizes {widest}")
    return shapes


def _grad_mask(stack):
    """Per leaf, (S, N[l], N[l-1]) booleans, True on each model's own entries; None when no
    model is padded."""
    widest = np.max(stack.dims, axis=0)
    if all((np.asarray(own) == widest).all() for own in stack.dims):
        return None
    mask = {}
    for key, value in stack.parameters.items():
        l = int(key[1:])
        rows = np.arange(value.shape[1])[None, :, None] < np.array(
            [own[l] for own in stack.dims])[:, None, None]
        cols = np.arange(value.shape[2])[None, None, :] < np.array(
            [own[l - 1] if key[0] == "W" else 1 for own in stack.dims])[:, None, None]
        mask[key] = jnp.asarray(rows & cols)
    return mask


def _per_model(value, name, S, valid):
    """A hyperparameter: one number for every model, or a sequence of S (one per model); each
    passes ``valid(number, name)``. Returns S floats."""
    values = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray, jax.Array)) \
        else None
    if values is None or values.ndim == 0:
        valid(value, name)
        return [float(value)] * S
    if values.ndim != 1 or len(values) != S:
        raise ShapeError(f"{name} has shape {values.shape}: give one number, or one per model "
                         f"({S},)")
    for k, v in enumerate(values):
        valid(v, f"{name}[{k}]")
    return [float(v) for v in values]


def _keys(key, S):
    """S dropout keys: one key for every model, or S keys stacked."""
    if check.is_key(key):
        return jnp.stack([key] * S)
    if isinstance(key, jax.Array) and key.shape[:1] == (S,) and check.is_key(key[0]):
        return key
    got = (f"an array of shape {key.shape}" if hasattr(key, "shape")
           else f"{key!r} ({type(key).__name__})")
    raise InputTypeError(f"dropout (keep_prob < 1) needs key=jax.random.PRNGKey(...) or one key "
                         f"per model stacked ({S}, 2); got {got}")


def fit_many(X, Y, stack, *, hidden_activation="relu", output="sigmoid", learning_rate=0.0075,
             num_iterations=3000, momentum=0.0, lambd=0.0, keep_prob=1.0, key=None,
             optimizer=None):
    """Train every model of ``stack`` on (X, Y) in one compiled loop: full-batch descent, each
    model as :func:`~jaxdnn.fit` would train it alone on the plain loop.

    Args:
      X: (n[0], m) inputs; Y: (n[L], m) labels, as :func:`~jaxdnn.fit` takes them.
      stack: a :class:`ModelStack` (:func:`stack_models`); its dtype is the training dtype.
      hidden_activation, output, num_iterations, optimizer: shared by every model (they shape
        the program); an optax ``optimizer`` replaces the built-in descent and its rate.
      learning_rate, momentum, lambd, keep_prob: one number for every model, or a sequence of
        S, one per model (``keep_prob``: one probability for all of a model's hidden layers).
      key: dropout's key, one for every model or S stacked (``jax.random.split(k, S)``); model
        k's iteration i draws its masks from ``fold_in(key[k], i)``, as :func:`~jaxdnn.fit`.

    Returns:
      ``(stack, costs, diverged)``: the trained :class:`ModelStack`, a numpy array (S,
      num_iterations) of every model's cost at every iteration (NaN after a divergence), and
      the iteration at which each model diverged (-1: it did not), shape (S,).

    Raises:
      ShapeError, InputTypeError, DataError, OptionError, NameLookupError: bad arrays or
        options, among them hyperparameters or stacked leaves whose leading axis is not S.
    """
    shapes = _check_stack(stack)
    S = len(stack.dims)
    layers, Y = check.problem(X, Y, shapes, get_output(output))
    check.finite_parameters(stack.parameters)
    T = check.iterations(num_iterations)
    config.optimizer(0.0, optimizer)
    rates = (_per_model(learning_rate, "learning_rate", S, check.rate) if optimizer is None
             else [0.0] * S)  # the optimizer has its own
    momenta = _per_model(momentum, "momentum", S, check.momentum_coefficient)
    if optimizer is not None and any(momenta):
        config.optimizer(max(momenta), optimizer)  # refused, with fit's message
    lambds = _per_model(lambd, "lambd", S, partial(check.penalty, concrete=True))
    keeps = _per_model(keep_prob, "keep_prob", S, check.probability)
    dropout = any(p < 1 for p in keeps)
    if dropout and len(layers) == 1:
        raise OptionError("keep_prob below 1 (dropout) needs a hidden layer: the output layer "
                          "is never dropped")
    options = Options(layer_activations(hidden_activation, len(layers), output),
                      T, optimizer)
    dtype = shapes["W1"].dtype
    if optimizer is not None:
        opt_state = jax.jit(jax.vmap(optimizer.init))(stack.parameters)
    else:
        opt_state = ({key: np.zeros(value.shape, dtype) for key, value in
                      stack.parameters.items()} if any(momenta) else None)
    parameters, opt_state, costs, diverged = _stack_loop(
        jnp.asarray(X, dtype), jnp.asarray(Y, dtype), stack.parameters, opt_state,
        _grad_mask(stack), jnp.asarray(rates, dtype), jnp.asarray(momenta, dtype),
        jnp.asarray(lambds, dtype), jnp.asarray(keeps, dtype),
        _keys(key, S) if dropout else None, options=options, l2=any(lambds), dropout=dropout)
    costs, diverged = np.array(costs), np.asarray(diverged)
    costs[np.arange(T)[None, :] > np.where(diverged < 0, T, diverged)[:, None]] = np.nan
    return ModelStack(parameters, stack.dims), costs, diverged


@partial(jax.jit, static_argnames=("options", "l2", "dropout"))
def _stack_loop(X, Y, parameters, opt_state, mask, learning_rate, momentum, lambd, keep_prob,
                keys, options, l2, dropout):
    """:func:`jaxdnn.train.fit.plain_loop` for one model, vmapped over the stack, from its
    parameters with the padded entries zeroed. ``options`` is shared; each model's ``lambd``
    and ``keep_prob`` enter its step as traced values in those fields, present in the program
    only when ``l2`` and ``dropout`` say so."""
    hidden = len(options.activations) - 1

    def train_one(parameters, opt_state, mask, learning_rate, momentum, lambd, keep_prob, key):
        if mask is not None:
            parameters = jax.tree.map(lambda p, keep: jnp.where(keep, p, 0), parameters, mask)
        own = options._replace(lambd=lambd if l2 else 0.0,
                               keep_prob=(keep_prob,) * hidden if dropout else ())

        def step(carry, i):
            return train_step(X, Y, carry, i, key, learning_rate, momentum, own, mask)

        carry, costs, diverged = guarded_scan(step, (parameters, opt_state), 0,
                                              options.num_iterations)
        return *carry, costs, diverged

    return jax.vmap(train_one)(parameters, opt_state, mask, learning_rate, momentum, lambd,
                               keep_prob, keys)


@partial(jax.jit, static_argnames="activations")
def _labels_many(X, parameters, activations):
    """Every model's predicted labels, (S, n[L], m) or class ids (S, 1, m)."""
    def one(parameters):
        AL, _ = kernels.forward(X, layout.to_layers(parameters), activations)
        return activations[-1].labels(AL)
    return jax.vmap(one)(parameters)


def predict_labels_many(X, stack, hidden_activation="relu", *, output="sigmoid"):
    """Every model's predicted labels as :func:`~jaxdnn.predict_labels` gives them, stacked:
    a numpy array (S, n[L], m), or class ids (S, 1, m) for a softmax; one compiled call."""
    shapes = _check_stack(stack)
    layers = check.network(X, shapes)
    check.finite(X, "X")
    check.finite_parameters(stack.parameters)
    activations = layer_activations(hidden_activation, len(layers), output)
    check.outputs(layers, activations[-1])
    return np.asarray(_labels_many(jnp.asarray(X, shapes["W1"].dtype), stack.parameters,
                                   activations)).astype(np.int64)
