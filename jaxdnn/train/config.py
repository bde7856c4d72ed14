"""The one training configuration: every option of training, with its default, its range and its
message, declared once and checked once.

:func:`~jaxdnn.fit`, :func:`~jaxdnn.train_steps`, :func:`~jaxdnn.fit_many`,
:func:`~jaxdnn.fit_stream` and ``jaxdnn train`` all take their options as a :class:`TrainConfig`
(the functions also as keyword arguments, which build one); a checkpoint of the command records
one. Each field below is an option: its default, the check that normalises or refuses a value
(naming the option), its help, and for the command its flag. What depends on the data (m, the
number of layers) is checked once more by the driver, when the data is known.

>>> TrainConfig(learning_rate=0.1, num_epochs=5, mini_batch_size=32).steps(m=100)
20
"""

import dataclasses
import numbers
from collections.abc import Callable
from functools import cache
from typing import Any

import jax.numpy as jnp
import optax

from ..core import numeric
from ..core.activations import Activation, get_activation
from ..core.outputs import get_output
from ..errors import InputTypeError, OptionError

DEFAULT_LEARNING_RATE = 0.0075
"""Of the built-in descent: the course's rate for its deep model."""
ADAPTIVE_LEARNING_RATE = 0.01
"""Of ``"adam"`` and ``"rmsprop"``: the course models' rates (up to 1.2) are for plain descent,
and adaptive steps that large never settle."""
DEFAULT_ITERATIONS = 3000
"""Full-batch iterations when neither ``num_iterations`` nor ``num_epochs`` is given (the
course's ``L_layer_model`` signature)."""
OPTIMIZERS = {"adam": optax.adam, "rmsprop": optax.rmsprop}
"""Optimisers a configuration (and a checkpoint) can name; any other optax
``GradientTransformation`` may be given as itself."""
SCHEDULES = ("constant", "exponential", "cosine")


def _option(default, check, help, flag=None, parse=None, metavar=None):
    return dataclasses.field(default=default, metadata=dict(check=check, help=help, flag=flag,
                                                             parse=parse, metavar=metavar))


# --- the checks, one per kind of value: each returns the value, normalised -------------------

def _optional(check_value):
    def optional(value, name):
        return None if value is None else check_value(value, name)
    return optional


def _count(value, name):
    return numeric.iterations(value, name)


def _positive(value, name):
    """A count from 1 to MAX_ITERATIONS (the loops count in int32)."""
    if numeric.iterations(value, name) < 1:
        raise OptionError(f"{name} must be at least 1; got {value}")
    return int(value)


def _fraction(value, name):
    number = numeric.real(value, name)
    if number is None or not 0 < number < 1:
        raise OptionError(f"{name} must be a number in (0, 1); got {value!r}")
    return number


def _nonnegative(value, name):
    return numeric.nonnegative(value, name)


def _flag(value, name):
    if not isinstance(value, bool):
        raise InputTypeError(f"{name} must be True or False; got {value!r}")
    return value


def _print_cost(value, name):
    if not isinstance(value, bool) and value != "progress":
        raise InputTypeError(f"{name} must be True, False or 'progress'; got {value!r}")
    return value


def _hidden_activation(value, name):
    """A name of the table or an :class:`~jaxdnn.Activation`, or a sequence of them (one per
    hidden layer): each is looked up now, the count against the layers when they are known."""
    if isinstance(value, (list, tuple)) and not isinstance(value, Activation):
        for activation in value:
            get_activation(activation)
        return tuple(value)
    get_activation(value)
    return value


def _output(value, name):
    get_output(value)
    return value


def _learning_rate(value, name):
    """A finite positive number, or an optax schedule (a function of the step count)."""
    if callable(value) and not isinstance(value, numbers.Real):
        return value
    numeric.rate(value, name)
    number = numeric.real(value, name)
    if number is None:
        raise OptionError(f"{name} must be a concrete number or an optax schedule; a traced "
                          f"value cannot configure a run")
    return number


def _momentum(value, name):
    numeric.momentum_coefficient(value, name)
    return float(value)


def _optimizer(value, name):
    if value is None or isinstance(value, optax.GradientTransformation):
        return value
    if isinstance(value, str) and value in OPTIMIZERS:
        return value
    raise OptionError(f"{name} must be an optax GradientTransformation (optax.adam(...)) or one "
                      f"of {', '.join(OPTIMIZERS)}; got {value!r}")


def _penalty(value, name):
    numeric.penalty(value, name, concrete=True)
    return float(value)


def _keep_prob(value, name):
    """One probability in (0, 1] for every hidden layer, or a sequence of one per layer."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    for p in values:
        if numeric.real(p, name) is None:
            raise OptionError(f"{name} must be concrete numbers: they shape the program")
        numeric.probability(p, name)
    floats = tuple(float(p) for p in values)
    return floats if isinstance(value, (list, tuple)) else floats[0]


def _gram(value, name):
    if value is True or value is False or (isinstance(value, str) and value == "auto"):
        return value
    raise OptionError(f"{name} must be 'auto', True or False; got {value!r}")


def _schedule(value, name):
    if isinstance(value, str) and value in SCHEDULES:
        return value
    raise OptionError(f"{name} must be one of {', '.join(SCHEDULES)}; got {value!r}")


def _decay_rate(value, name):
    number = numeric.real(value, name)
    if number is None or not 0 < number <= 1:
        raise OptionError(f"{name} must be in (0, 1]; got {value!r}")
    return number


def _callback(value, name):
    if value is not None and not callable(value):
        raise InputTypeError(f"{name} must be a function on_cost(i, cost); got {value!r}")
    return value


def _mesh(value, name):
    return value  # a device count or a Mesh: checked by jaxdnn.train.mesh where it is placed


# --- the configuration -----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every training option (see the module docstring); hashable, so one compiled program
    serves every run of one configuration. Build it with keywords; :meth:`replace` changes
    some."""

    hidden_activation: Any = _option(
        "relu", _hidden_activation, "the hidden layers' activation: a name, a "
        "jaxdnn.custom_activation pair, or one per hidden layer")
    output: Any = _option("sigmoid", _output, "the output layer: sigmoid, or softmax for K "
                                               "classes")
    learning_rate: Any = _option(
        None, _optional(_learning_rate), f"the step size (default {DEFAULT_LEARNING_RATE}, "
        f"{ADAPTIVE_LEARNING_RATE} for adam and rmsprop), or an optax schedule",
        "--learning-rate", float, "LR")
    num_iterations: int | None = _option(
        None, _optional(_count), f"full-batch steps (default {DEFAULT_ITERATIONS})")
    num_epochs: int | None = _option(
        None, _optional(_count), "passes over the data; with mini-batches, the way to say how long")
    mini_batch_size: int | None = _option(
        None, _optional(_positive), "train on shuffled mini-batches of this many examples "
        "(default: full batches)", "--mini-batch-size", int, "B")
    momentum: float = _option(0.0, _momentum, "heavy-ball momentum of the built-in descent, in "
                                               "[0, 1)")
    optimizer: Any = _option(None, _optimizer, "an optax GradientTransformation, or adam or "
                                                "rmsprop by name (default: the built-in descent)")
    lambd: float = _option(0.0, _penalty, "L2 regularisation: lambd / (2 m) sum ||W||^2",
                           "--l2", float, "LAMBD")
    keep_prob: Any = _option(1.0, _keep_prob, "inverted dropout: the probability of keeping a "
                                               "hidden unit (1: no dropout)",
                             "--keep-prob", float, "P")
    gram: Any = _option("auto", _gram, "train the first layer through the Gram matrix of X: "
                                        "'auto', True or False")
    compiled_length: int | None = _option(
        None, _optional(_positive), "the most iterations one compiled call runs (default: the "
        "longest segment, rounded up to a power of two)")
    schedule: str = _option("constant", _schedule, "the learning rate over the steps: constant, "
                                                    "exponential (decay_rate per decay_steps) or "
                                                    "cosine (to 0 over decay_steps)",
                            "--schedule", str, "KIND")
    decay_steps: int | None = _option(
        None, _optional(_positive), "steps per decay (exponential) or to the end (cosine); "
        "default: the run's length", "--decay-steps", int, "N")
    decay_rate: float = _option(0.5, _decay_rate, "the factor per decay_steps of an exponential "
                                                   "schedule", "--decay-rate", float, "R")
    warmup_steps: int = _option(0, _count, "steps of linear warm-up from 0 before the schedule",
                                "--warmup-steps", int, "N")
    validation_fraction: float | None = _option(
        None, _optional(_fraction), "hold out this fraction of the examples (stratified by "
        "class, drawn with validation_seed) to validate on after every epoch",
        "--validation-fraction", float, "F")
    validation_seed: int = _option(0, lambda v, n: numeric.seed(v, n), "the seed of the held-out "
                                                                       "examples' draw")
    patience: int | None = _option(
        None, _optional(_positive), "early stopping: stop after this many epochs without the "
        "validation cost improving by min_delta, and return the best parameters",
        "--patience", int, "EPOCHS")
    min_delta: float = _option(0.0, _nonnegative, "the least decrease of the validation cost "
                                                   "that counts as an improvement",
                               "--min-delta", float, "D")
    print_cost: bool | str = _option(False, _print_cost, "print the course's cost line every "
                                     "100 iterations (epochs with mini-batches); 'progress': "
                                     "an updating bar on a terminal instead")
    on_cost: Callable | None = _option(None, _callback, "on_cost(i, cost), called on the host "
                                                         "where print_cost would print")
    donate: bool = _option(False, _flag, "let training reuse the initial parameters' buffers "
                                          "(they are deleted)")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = field.metadata["check"](getattr(self, field.name), field.name)
            object.__setattr__(self, field.name, value)
        self._consistent()

    def _consistent(self):
        if self.num_iterations is not None and self.num_epochs is not None:
            raise OptionError("give num_iterations or num_epochs, not both")
        if self.optimizer is not None and self.momentum:
            raise OptionError("momentum applies to the built-in descent; with an optax "
                              "optimizer, put it in the optimizer (optax.sgd(lr, momentum=...))")
        if isinstance(self.optimizer, optax.GradientTransformation):
            if self.schedule != "constant" or self.warmup_steps or callable(self.learning_rate):
                raise OptionError("an optax optimizer has its own learning rate: give it the "
                                  "schedule (optax.adam(optax.cosine_decay_schedule(...)))")
        if callable(self.learning_rate) and (self.schedule != "constant" or self.warmup_steps):
            raise OptionError("learning_rate is already a schedule: schedule= and "
                              "warmup_steps= build one from a number")
        if self.gram is True:
            refused = [name for name, on in (
                ("an optax optimizer", self.optimizer is not None), ("L2", self.lambd),
                ("dropout", self.keep_prob != 1.0), ("mini-batches", self.mini_batch_size),
                ("a validation set", self.validation_fraction)) if on]
            if refused:
                raise OptionError(f"gram=True needs full batches and the built-in descent, "
                                  f"without L2, dropout or a validation set (the Gram path is "
                                  f"exact for updates linear in the gradient); got "
                                  f"{refused[0]}")
        if self.patience is None and self.min_delta:
            raise OptionError("min_delta applies to early stopping: give patience too")

    def replace(self, **changes):
        """This configuration with ``changes``, checked again."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, config=None, **options):
        """``config`` (a :class:`TrainConfig` or None) with the keyword ``options`` applied:
        how the functions that take both build theirs. An unknown option is a TypeError that
        lists the known ones."""
        if config is not None and not isinstance(config, cls):
            raise InputTypeError(f"config must be a TrainConfig; got {type(config).__name__}")
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(f"unknown training option {unknown[0]!r}; the options are "
                            f"{', '.join(sorted(names))}")
        return config.replace(**options) if config is not None else cls(**options)

    # --- what follows from the options -------------------------------------------------------

    @property
    def rate(self):
        """The learning rate as a number (the schedule's peak), its default resolved."""
        if self.learning_rate is not None:
            return self.learning_rate
        return ADAPTIVE_LEARNING_RATE if isinstance(self.optimizer, str) else \
            DEFAULT_LEARNING_RATE

    def steps(self, m):
        """The iterations a run of m examples trains for: num_iterations, or num_epochs times
        the batches of an epoch."""
        per_epoch = self.batches_per_epoch(m)
        if self.num_epochs is not None:
            return numeric.iterations(self.num_epochs * per_epoch, "num_epochs x batches")
        if per_epoch > 1 and self.num_iterations is not None:
            raise OptionError("mini-batch training counts in epochs: give num_epochs, not "
                              "num_iterations")
        if per_epoch > 1:
            raise OptionError("mini-batch training needs num_epochs")
        return DEFAULT_ITERATIONS if self.num_iterations is None else self.num_iterations

    def batch_size(self, m):
        """The examples of one iteration: mini_batch_size (checked against m), else m."""
        return m if self.mini_batch_size is None else numeric.mini_batch_size(self.mini_batch_size,
                                                                            m)

    def batches_per_epoch(self, m):
        return -(-m // self.batch_size(m))

    def learning_rate_at(self, total_steps):
        """The learning rate as an optax schedule of the step (None for a constant number):
        the given schedule, or the one ``schedule``, ``decay_steps``, ``decay_rate`` and
        ``warmup_steps`` build from :attr:`rate` (decay_steps by default the run's
        ``total_steps``)."""
        if callable(self.learning_rate):
            return self.learning_rate
        return _schedule_of(self.rate, self.schedule, self.decay_steps or max(total_steps, 1),
                            self.decay_rate, self.warmup_steps)

    def transformation(self, total_steps):
        """The optax optimiser (built once per setting), or None for the built-in descent."""
        if isinstance(self.optimizer, str):
            rate = self.learning_rate_at(total_steps)
            return _named_optimizer(self.optimizer, self.rate if rate is None else rate)
        return self.optimizer

    def validates(self):
        return self.validation_fraction is not None


@cache
def _schedule_of(rate, kind, decay_steps, decay_rate, warmup_steps):
    """An optax schedule, cached so that equal settings share one object (and one compiled
    program); None for a constant rate."""
    if kind == "constant" and not warmup_steps:
        return None
    after = {"constant": optax.constant_schedule(rate),
             "exponential": optax.exponential_decay(rate, decay_steps, decay_rate),
             "cosine": optax.cosine_decay_schedule(  # to 0 at decay_steps, warm-up included
                 rate, max(decay_steps - warmup_steps, 1))}[kind]
    if warmup_steps:
        after = optax.join_schedules([optax.linear_schedule(0.0, rate, warmup_steps), after],
                                     [warmup_steps])
    # at a real step: optax's exponential_decay of an int32 step (an optimiser's count) is
    # float32, which would round a float64 run's rate
    return lambda step: after(jnp.asarray(step, dtype=float))


@cache
def _named_optimizer(name, rate):
    return OPTIMIZERS[name](rate)


def options():
    """The fields of :class:`TrainConfig`: name, default, check, help, flag, parse, metavar."""
    return [dict(name=field.name, default=field.default, **field.metadata)
            for field in dataclasses.fields(TrainConfig)]


def parse(name, text):
    """The command's value of the option ``name`` from ``text``: parsed, then checked as the
    configuration checks it (an OptionError naming the option)."""
    field = {f.name: f for f in dataclasses.fields(TrainConfig)}[name]
    convert = field.metadata["parse"]
    try:
        value = convert(text)
    except ValueError:
        what = {float: "a number", int: "an integer"}.get(convert, "a value")
        raise OptionError(f"expected {what}, got {text!r}") from None
    return field.metadata["check"](value, field.name)

