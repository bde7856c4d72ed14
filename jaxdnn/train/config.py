"""Training options: the checks that fit, train_steps, fit_many and fit_stream share."""

import jax
import optax

from ..core import checks as check
from ..errors import InputTypeError, OptionError


def optimizer(momentum, optimizer):
    """``optimizer`` None or an optax transformation; ``momentum`` in [0, 1), only without it."""
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise OptionError(f"optimizer must be an optax GradientTransformation (optax.adam(...)); "
                          f"got {type(optimizer).__name__}")
    check.momentum_coefficient(momentum)
    if optimizer is not None and momentum:
        raise OptionError("momentum applies to the built-in descent; with an optax optimizer, "
                          "put it in the optimizer (optax.sgd(lr, momentum=...))")


def training(num_iterations, learning_rate, momentum, optimizer_, gram, on_cost, lambd=0.0):
    """The options of :func:`~jaxdnn.fit` and :func:`~jaxdnn.train_steps`."""
    check.iterations(num_iterations)
    check.penalty(lambd, concrete=True)
    if optimizer_ is None:
        check.rate(learning_rate)
    optimizer(momentum, optimizer_)
    if not (gram is True or gram is False or (isinstance(gram, str) and gram == "auto")):
        raise OptionError(f"gram must be 'auto', True or False; got {gram!r}")
    if gram is True and optimizer_ is not None:
        raise OptionError("gram=True needs the built-in gradient descent (optimizer=None): "
                          "an optax optimizer is not known to be linear in the gradient")
    if gram is True and lambd:
        raise OptionError("gram=True trains without L2 (lambd=0): the penalty's decay of W1 "
                          "is not carried through the Gram matrix")
    if on_cost is not None and not callable(on_cost):
        raise InputTypeError(f"on_cost must be a function on_cost(i, cost); got {on_cost!r}")


def opt_state(opt_state, expected, kind):
    """``opt_state`` must have the structure, shapes and dtypes of ``expected`` (both as jax
    sees them: Python scalars and numpy float64 canonicalised alike)."""
    try:
        got = jax.eval_shape(lambda tree: tree, opt_state)
    except TypeError:
        got = None
    leaves, tree = jax.tree.flatten(got)
    want, want_tree = jax.tree.flatten(jax.eval_shape(lambda tree: tree, expected))
    if got is None and opt_state is not None or tree != want_tree or any(
            (a.shape, a.dtype) != (b.shape, b.dtype) for a, b in zip(leaves, want, strict=True)):
        raise OptionError(f"state.opt_state does not fit these options, which need {kind}: "
                          f"build the state with init_train_state(parameters, momentum=..., "
                          f"optimizer=...) using the same options")
