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
from ..core import kernels, layout, limits, numeric
from ..core.network import layer_activations
from ..errors import InputTypeError, JaxdnnError, OptionError, ShapeError
from . import driver, reports
from .config import TrainConfig
from .loop import Hyper, loop
from .state import TrainState


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


def _per_model(value, name, S):
    """A per-model option: one value for every model, or a sequence of S (one per model).
    Returns S values, for the configuration to check."""
    if not isinstance(value, (list, tuple, np.ndarray, jax.Array)):
        return [value] * S
    values = np.asarray(value).tolist() if np.ndim(value) == 1 else None
    if values is None or len(values) != S:
        raise ShapeError(f"{name} has shape {np.shape(value)}: give one number, or one per "
                         f"model ({S},)")
    return values


def _keys(key, S):
    """S dropout keys: one key for every model, or S keys stacked."""
    if numeric.is_key(key):
        return jnp.stack([key] * S)
    if isinstance(key, jax.Array) and key.shape[:1] == (S,) and numeric.is_key(key[0]):
        return key
    got = (f"an array of shape {key.shape}" if hasattr(key, "shape")
           else f"{key!r} ({type(key).__name__})")
    raise InputTypeError(f"dropout (keep_prob < 1) needs key=jax.random.PRNGKey(...) or one key "
                         f"per model stacked ({S}, 2); got {got}")


PER_MODEL = ("learning_rate", "momentum", "lambd", "keep_prob")
"""The options a stack may give per model (one value each): traced, so one program trains
every model."""


def fit_many(X, Y, stack, config=None, *, key=None, **options):
    """Train every model of ``stack`` on (X, Y) in one compiled loop: full-batch descent, each
    model as :func:`~jaxdnn.fit` would train it alone on the plain loop.

    Args:
      X: (n[0], m) inputs; Y: (n[L], m) labels, as :func:`~jaxdnn.fit` takes them.
      stack: a :class:`ModelStack` (:func:`stack_models`); its dtype is the training dtype.
      config: a :class:`~jaxdnn.train.config.TrainConfig`, or its fields as keywords, shared
        by every model (``hidden_activation``, ``output``, ``num_iterations``, ``optimizer``,
        early stopping's ``validation_fraction``, ``patience``...). Of those of
        :data:`PER_MODEL`, each may be one number for every model or a sequence of S, one per
        model (``keep_prob``: one probability for all of a model's hidden layers); each
        model's options are checked as a configuration of its own.
      on_cost (a field): ``on_cost(i, costs)`` hears every 100th iteration, each model's cost
        (S,), NaN once it halted; ``print_cost='progress'`` draws a bar.
      key: dropout's key, one for every model or S stacked (``jax.random.split(k, S)``); model
        k's iteration i draws its masks from ``fold_in(key[k], i)``, as :func:`~jaxdnn.fit`.

    Returns:
      ``(stack, costs, diverged)``: the trained :class:`ModelStack` (with early stopping, each
      model's best parameters), a numpy array (S, num_iterations) of every model's cost at
      every iteration (NaN after a divergence or an early stop), and the iteration at which
      each model diverged (-1: it did not), shape (S,).

    Raises:
      ShapeError, InputTypeError, DataError, OptionError, NameLookupError: bad arrays or
        options, among them hyperparameters or stacked leaves whose leading axis is not S.
    """
    shapes, S = _check_stack(stack), len(stack.dims)
    shared, models = _configs(config, options, S)
    if shared.mini_batch_size is not None:
        raise OptionError("fit_many trains full batches: mini_batch_size is for fit")
    dropout, l2 = any(c.keep_prob != 1 for c in models), any(c.lambd for c in models)
    probe = shared.replace(lambd=max(c.lambd for c in models),
                           keep_prob=min(c.keep_prob for c in models))
    keys = _keys(key, S) if dropout else None
    check.finite_parameters(stack.parameters)
    run = driver.prepare(X, Y, shapes, probe, key=keys[0] if dropout else None,
                         reporting=bool(shared.on_cost or shared.print_cost))
    driver.costs_fit(run.steps, 0, S)  # (S, num_iterations) costs
    dtype = shapes["W1"].dtype
    if run.schedule is not None:
        raise OptionError("fit_many takes learning rates as numbers, one per model or one for "
                          "all: train a schedule with fit")
    rates = [c.rate if run.program.optimizer is None and run.schedule is None else 0.0
             for c in models]
    hyper = Hyper(np.asarray(rates, dtype), np.asarray([c.momentum for c in models], dtype),
                  np.asarray([c.lambd for c in models], dtype) if l2 else None,
                  np.asarray([c.keep_prob for c in models], dtype) if dropout else None)
    hidden = len(run.program.activations) - 1  # each model's own values replace these two:
    program = run.program._replace(lambd=1.0 if l2 else 0.0,  # one program for any of them
                                   keep_prob=(0.5,) * hidden if dropout else ())
    run = run._replace(program=program, hyper=hyper, data=run.data._replace(key=keys),
                       models=S, mask=_grad_mask(stack), stacked=run_stacked)
    optimizer = run.program.optimizer
    opt_state = (jax.jit(jax.vmap(optimizer.init))(stack.parameters) if optimizer is not None
                 else {k: np.zeros(v.shape, dtype) for k, v in stack.parameters.items()}
                 if any(c.momentum for c in models) else None)
    state = driver.start_state(run, TrainState(stack.parameters, opt_state, 0))
    return _result(run, _drive(run, state, shared), stack.dims)


def _drive(run, state, config):
    """The stack's run, reported to ``config.on_cost`` or drawn as a bar (``print_cost``)."""
    bar = (reports.Progress(run.steps) if config.print_cost == "progress" and not config.on_cost
           else None)
    on_cost = config.on_cost or ((lambda i, costs: bar(i)) if bar else None)
    try:
        outcome = driver.drive(run, state, run.steps, on_cost=on_cost)
        if bar:
            bar.close(run.steps)
        return outcome
    finally:
        if bar:
            bar.close()  # the bar's line ends, where it got to


def _configs(config, options, S):
    """``(shared, models)``: the configuration every model shares, and each model's own, with
    its values of :data:`PER_MODEL` (each checked as a configuration of its own)."""
    shared = TrainConfig.of(config, gram=False, **{k: v for k, v in options.items()
                                                    if k not in PER_MODEL})
    if shared.print_cost is True:
        raise OptionError("fit_many trains many models: print_cost=True has no one cost to "
                          "print; pass print_cost='progress' (a bar) or on_cost(i, costs)")
    values = {name: _per_model(options.get(name, getattr(shared, name)), name, S)
              for name in PER_MODEL}
    models = []
    for k in range(S):
        try:
            models.append(shared.replace(**{name: values[name][k] for name in PER_MODEL}))
        except JaxdnnError as e:
            raise type(e)(f"model {k}: {e}") from None
    return shared, models


def _result(run, outcome, dims):
    """``(stack, costs, diverged)`` of a stack's run: every model's cost at every iteration,
    NaN after its divergence or its early stop (then its best parameters)."""
    early = (outcome.state.loop or {}).get("early")
    costs, diverged, T = np.array(outcome.costs), outcome.diverged, run.steps
    costs = np.pad(costs, ((0, 0), (0, T - costs.shape[1])), constant_values=np.nan)
    ends = np.where(diverged >= 0, diverged, T)
    if early is not None:
        ends = np.minimum(ends, np.where(np.asarray(outcome.stopped) >= 0, outcome.stopped, T))
    costs[np.arange(T)[None, :] > ends[:, None]] = np.nan
    return ModelStack(early["best"] if early else outcome.state.parameters, dims), costs, \
        diverged


@partial(jax.jit, static_argnames="program", donate_argnames="carry")
def run_stacked(data, carry, start, count, hyper, mask, program):
    """:func:`~jaxdnn.train.loop.loop` for one model, vmapped over a stack's models, each with
    its own traced options (:class:`~jaxdnn.train.loop.Hyper`), dropout key and gradient mask;
    the padded entries of a model's parameters are zero from the start."""
    hidden = len(program.activations) - 1

    def one(carry, hyper, mask, key):
        own = program._replace(
            lambd=program.lambd if hyper.lambd is None else hyper.lambd,
            keep_prob=program.keep_prob if hyper.keep_prob is None else (hyper.keep_prob,) *
            hidden)
        if mask is not None:
            carry = carry._replace(parameters=jax.tree.map(lambda p, keep: jax.numpy.where(
                keep, p, 0), carry.parameters, mask))
        return loop(data._replace(key=key), carry, start, count, hyper, own, mask)

    return jax.vmap(one, in_axes=(0, 0, 0, None if data.key is None else 0))(
        carry, hyper, mask, data.key)


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
