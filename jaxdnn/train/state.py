"""Where a training run stands, and its checkpoints: all it takes to continue a run exactly."""

from typing import Any, NamedTuple

import jax
import numpy as np

from ..core import checks as check
from ..errors import DataError, InputTypeError, OptionError
from ..io import models
from .config import TrainConfig
from .loop import initial_opt_state


class TrainState(NamedTuple):
    """Where a training run stands: all it takes to continue it exactly.

    Attributes:
      parameters: the course dict.
      opt_state: None (plain gradient descent), the momentum trace (a dict like ``parameters``),
        or the optax optimiser's state.
      iteration: the number of iterations done.
      loop: what the loop carries besides (None at the start): the Gram path's state and early
        stopping's best parameters, so that a run continued from here computes the bits it
        would have computed in one call. A state whose parameters were changed is recognised
        and its Gram path starts afresh.
    """

    parameters: dict
    opt_state: Any
    iteration: int
    loop: dict | None = None


def init_train_state(parameters, *, momentum=0.0, optimizer=None):
    """The :class:`TrainState` of a run that has not started: a zero trace or ``optimizer.init``
    (``optimizer``: an optax transformation, as a run's configuration takes it)."""
    check.parameters(parameters)
    check.finite_parameters(parameters)
    config = TrainConfig(momentum=momentum, optimizer=optimizer)
    return TrainState(parameters, initial_opt_state(parameters, config.momentum,
                                                    config.transformation(1)), 0)


def save_checkpoint(path, state, costs, metadata=None):
    """Write a :class:`TrainState` and the costs so far to ``path``, atomically.

    ``metadata`` (JSON) should say how to rebuild the optimiser; the iteration is added to it.
    """
    if not isinstance(state, TrainState):
        raise InputTypeError(f"state must be a TrainState; got {type(state).__name__}")
    names, arrays = _flat(state.loop or {})
    models.write_checkpoint(path, state.parameters, state.iteration, costs,
                            jax.tree.leaves(state.opt_state), dict(metadata or {}, loop=names),
                            arrays)


def load_checkpoint(path, opt_state_like):
    """Read a checkpoint of :func:`save_checkpoint`: returns ``(state, costs, metadata)``.

    ``opt_state_like`` is an optimiser state of the same run's structure (that of
    ``init_train_state(parameters, ...)``), into which the saved arrays are put back.

    Raises:
      DataError: as :func:`~jaxdnn.load_model`, or if the optimiser state or costs do not
        match.
    """
    like, treedef = jax.tree.flatten(opt_state_like)
    parameters, iteration, costs, leaves, meta, arrays = models.read_checkpoint(path, like)
    names = meta.get("loop", [])
    if not isinstance(names, list) or len(names) != len(arrays) or not all(
            isinstance(name, str) and name for name in names):
        raise DataError(f"{path}: its loop state does not match its list of names")
    loop = _nested(zip(names, arrays, strict=True)) if names else None
    return TrainState(parameters, treedef.unflatten(leaves), iteration, loop), costs, meta


def _flat(tree, prefix=""):
    """``(names, arrays)`` of a dict of dicts of arrays: names are paths ``"gram/Z1"``."""
    names, arrays = [], []
    for key in sorted(tree):
        value = tree[key]
        if isinstance(value, dict):
            more = _flat(value, f"{prefix}{key}/")
            names += more[0]
            arrays += more[1]
        else:
            names.append(prefix + key)
            arrays.append(np.asarray(value))
    return names, arrays


def _nested(items):
    """The dict of dicts :func:`_flat` came from."""
    tree = {}
    for name, array in items:
        *path, leaf = name.split("/")
        node = tree
        for key in path:
            node = node.setdefault(key, {})
        node[leaf] = array
    return tree


def check_opt_state(opt_state, expected, kind):
    """``opt_state`` must have the structure, shapes and dtypes of ``expected``."""
    try:
        got = jax.eval_shape(lambda tree: tree, opt_state)
    except TypeError:
        got = None
    leaves, tree = jax.tree.flatten(got)
    want, want_tree = jax.tree.flatten(expected)
    if got is None and opt_state is not None or tree != want_tree or any(
            (a.shape, a.dtype) != (b.shape, b.dtype) for a, b in zip(leaves, want, strict=True)):
        raise OptionError(f"state.opt_state does not fit these options, which need {kind}: "
                          f"build the state with init_train_state(parameters, momentum=..., "
                          f"optimizer=...) using the same options")


# --- running it ------------------------------------------------------------------------------
