"""Where a training run stands, and its checkpoints: all it takes to continue a run exactly."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ..core import checks as check
from ..errors import InputTypeError
from ..io import models
from . import config


class TrainState(NamedTuple):
    """Where a training run stands: all it takes to continue it exactly.

    Attributes:
      parameters: the course dict.
      opt_state: None (plain gradient descent), the momentum trace (a dict like ``parameters``),
        or the optax optimiser's state.
      iteration: the number of iterations done.
    """

    parameters: dict
    opt_state: Any
    iteration: int


def init_train_state(parameters, *, momentum=0.0, optimizer=None):
    """The :class:`TrainState` of a run that has not started: a zero trace or ``optimizer.init``."""
    check.parameters(parameters)
    check.finite_parameters(parameters)
    config.optimizer(momentum, optimizer)
    return TrainState(parameters, initial_opt_state(parameters, momentum, optimizer), 0)


def initial_opt_state(parameters, momentum, optimizer):
    """The optimiser state a run starts from: ``optimizer.init``, a zero momentum trace, or
    None (plain gradient descent)."""
    if optimizer is not None:
        return optimizer.init(parameters)
    return jax.tree.map(jnp.zeros_like, parameters) if momentum else None


def save_checkpoint(path, state, costs, metadata=None):
    """Write a :class:`TrainState` and the costs so far to ``path``, atomically.

    ``metadata`` (JSON) should say how to rebuild the optimiser; the iteration is added to it.
    """
    if not isinstance(state, TrainState):
        raise InputTypeError(f"state must be a TrainState; got {type(state).__name__}")
    models.write_checkpoint(path, state.parameters, state.iteration, costs,
                            jax.tree.leaves(state.opt_state), metadata)


def load_checkpoint(path, opt_state_like):
    """Read a checkpoint of :func:`save_checkpoint`: returns ``(state, costs, metadata)``.

    ``opt_state_like`` is an optimiser state of the same run's structure (that of
    ``init_train_state(parameters, ...)``), into which the saved arrays are put back.

    Raises:
      DataError: as :func:`~jaxdnn.load_model`, or if the optimiser state or costs do not
        match.
    """
    like, treedef = jax.tree.flatten(opt_state_like)
    parameters, iteration, costs, leaves, meta = models.read_checkpoint(path, like)
    return TrainState(parameters, treedef.unflatten(leaves), iteration), costs, meta
