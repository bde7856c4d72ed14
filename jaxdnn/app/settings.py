"""The settings of a ``jaxdnn train`` run: new from the command line, or read back from its
checkpoint; either way checked by the training configuration, once.

A run is its data (``dataset``, ``data_seed``), its network (``hidden`` sizes,
``hidden_activation``, ``output``, the initialisation ``init`` from ``seed``), its length
(``iterations``: iterations of full-batch descent, or epochs of mini-batches), its optimiser
(by name), its dtype and its checkpoint cadence, and ``training``: the values of every option of
:class:`~jaxdnn.train.config.TrainConfig` that the command exposes (those with a flag). A new
training option with a flag is a new setting and a new flag without a line here.
"""

import dataclasses
import os
import re
import shlex
from typing import NamedTuple

from ..core import checks as check
from ..core import limits, numeric
from ..core.activations import ACTIVATIONS
from ..core.init import SCHEMES
from ..core.outputs import OUTPUTS
from ..course.models import COURSE_MODELS
from ..errors import DataError, JaxdnnError, OptionError, ShapeError
from ..io import datasets
from ..io.models import Items, Maybe, checked_metadata, load_model
from ..train.config import ADAPTIVE_LEARNING_RATE, TrainConfig

CHECKPOINT = "checkpoint.npz"
CHECKPOINT_EVERY = 1000
DTYPES = ("float32", "float64")
"""The dtypes a run trains in, the default first."""


def recorded(monitors=None):
    """What a ``jaxdnn train`` checkpoint records besides the loop's state (the schema of
    :func:`~jaxdnn.io.models.checked_metadata`): the run, the epoch reached, the learning
    curves (rows of ``monitors`` finite costs, when known) and whether early stopping ended
    it. Entries that older checkpoints lack are optional."""
    counts = range(limits.MAX_RECORDED_INTEGER)
    return {"run": {"iterations": counts}, "epoch": Maybe(counts),
            "curves": Maybe(Items(Items(float, monitors))), "stopped_early": Maybe(bool)}
OPTIMIZERS = {"gd": (None, 0.0), "momentum": (None, 0.9), "adam": ("adam", 0.0),
              "rmsprop": ("rmsprop", 0.0)}
"""The command's optimisers: ``(optimizer, momentum)`` of the configuration (gd and momentum
are the built-in descent)."""
FLAGGED = tuple(field.name for field in dataclasses.fields(TrainConfig)
                if field.metadata["flag"])
"""The configuration's options the command exposes, each as its own flag."""


class Settings(NamedTuple):
    """The settings of a run; recorded as ``meta["run"]`` in its checkpoints."""

    dataset: str
    hidden: list
    hidden_activation: str
    iterations: int
    init: str
    course_scheme: str
    seed: int
    data_seed: int | None
    optimizer: str
    dtype: str
    checkpoint_every: int
    output: str
    training: dict

    def config(self, activation=None, gram="auto"):
        """The run's :class:`~jaxdnn.train.config.TrainConfig` (``activation``: the pair a
        user's ``module:object`` names, imported by the caller)."""
        optimizer, momentum = OPTIMIZERS[self.optimizer]
        batched = self.training.get("mini_batch_size") is not None
        return TrainConfig(hidden_activation=activation or self.hidden_activation,
                           output=self.output, optimizer=optimizer, momentum=momentum, gram=gram,
                           **{"num_epochs" if batched else "num_iterations": self.iterations},
                           **self.training)

    @property
    def unit(self):
        return "epoch" if self.training.get("mini_batch_size") else "iteration"


def is_user_activation(name):
    """Whether ``name`` spells a user's activation, ``module:object`` (``pkg.mod:name``)."""
    return isinstance(name, str) and re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", name) is not None


def activation_name(name):
    """A hidden activation a run can record: a built-in name, or a user's ``module:object``
    (imported when the run starts)."""
    if isinstance(name, str) and (name in ACTIVATIONS or is_user_activation(name)):
        return name
    raise OptionError(f"hidden_activation must be one of {', '.join(sorted(ACTIVATIONS))}, or a "
                      f"user's module:object; got {name!r}")


def new_settings(dataset=None, layers=None, hidden_activation=None, iterations=None, seed=None,
                 init=None, dtype=None, optimizer=None, checkpoint_every=None, output=None,
                 **training):
    """The settings of a new run: the options given (not None), else the course's for the kind
    of data (the cat model for images, the planar model for 2-D sets), a sigmoid output (a
    softmax for data of several classes only) and full batches. ``training``: options of the
    configuration the command exposes (:data:`FLAGGED`)."""
    dataset = dataset or "planar"
    output = output or ("softmax" if dataset in datasets.ONLY_MULTICLASS else "sigmoid")
    course = COURSE_MODELS["L_layer_model" if dataset in datasets.IMAGES
                           else "softmax" if output == "softmax" else "nn_model"]
    optimizer = optimizer or "gd"
    training = {name: value for name, value in training.items() if value is not None}
    training.setdefault("learning_rate", ADAPTIVE_LEARNING_RATE if OPTIMIZERS.get(
        optimizer, (None,))[0] else course.learning_rate)

    def given(value, default):
        return default if value is None else value

    return check_settings(Settings(
        dataset, list(given(layers, course.hidden)),
        given(hidden_activation, course.hidden_activation),
        given(iterations, course.num_iterations), given(init, "course"), course.scheme,
        given(seed, course.seed), seed, optimizer, given(dtype, DTYPES[0]),
        given(checkpoint_every, CHECKPOINT_EVERY), output, training))


def check_settings(settings):
    """``settings`` if every one is one the command line accepts (a checkpoint's recorded
    settings pass here too); else an :class:`OptionError` naming it."""
    names = {"dataset": datasets.NAMES, "init": ("course", *SCHEMES), "course_scheme": SCHEMES,
             "optimizer": tuple(OPTIMIZERS), "dtype": DTYPES, "output": OUTPUTS}
    for field, valid in names.items():
        value = getattr(settings, field)
        if not isinstance(value, str) or value not in valid:
            raise OptionError(f"{field} must be one of {', '.join(valid)}; got {value!r}")
    activation_name(settings.hidden_activation)
    if not isinstance(settings.hidden, list) or not settings.hidden:
        raise OptionError(f"hidden must be a non-empty list of layer sizes; got "
                          f"{settings.hidden!r}")
    try:
        dims = check.layer_dims([1, *settings.hidden, 1])  # positive integers, within the budget
        limits.fits_in_memory(dims, 8 if settings.dtype == "float64" else 4)
    except ShapeError as e:
        raise OptionError(f"hidden layer sizes {settings.hidden!r}: {e}") from None
    numeric.iterations(settings.iterations, "iterations")
    numeric.iterations(settings.checkpoint_every, "checkpoint_every")
    numeric.seed(settings.seed)
    if settings.data_seed is not None:
        numeric.seed(settings.data_seed, "data_seed")
    if not isinstance(settings.training, dict) or not set(settings.training) <= set(FLAGGED):
        raise OptionError(f"training must hold options among {', '.join(FLAGGED)}; got "
                          f"{settings.training!r}")
    # every training option, checked by the configuration (a user's pair is imported later)
    settings.config(ACTIVATIONS["relu"] if is_user_activation(settings.hidden_activation)
                    else None)
    return settings


RUN_OPTIONS = ("dataset", "layers", "hidden_activation", "iterations", "seed", "init", "dtype",
               "optimizer", "checkpoint_every", "output", *FLAGGED)
"""The options that define a run: a resumed run takes none of them."""

_OLD = {"l2": "lambd", "keep_prob": "keep_prob", "mini_batch_size": "mini_batch_size",
        "learning_rate": "learning_rate"}
"""Settings that checkpoints written before ``training`` existed record at the top level."""


def resume(folder, **given):
    """The settings recorded in ``folder``'s checkpoint, and its path. ``given`` options (those
    of :data:`RUN_OPTIONS` that are not None) would change the run: they are refused."""
    refused = [f"--{name.replace('_', '-')}" for name in RUN_OPTIONS if given.get(name) is not None]
    if refused:
        raise OptionError(f"--resume continues the run recorded in its checkpoint; "
                          f"{', '.join(refused)} cannot change it")
    path = os.path.join(folder, CHECKPOINT)
    recorded = load_model(path)[1].get("run")
    fields = set(Settings._fields)
    if isinstance(recorded, dict) and "training" not in recorded:  # an older checkpoint
        recorded = dict(recorded)
        recorded["training"] = {new: recorded.pop(old) for old, new in _OLD.items()
                                if old in recorded}
        if not recorded["training"].get("mini_batch_size"):  # 0: full batches
            recorded["training"].pop("mini_batch_size", None)
    if isinstance(recorded, dict):  # recorded before softmax outputs existed: a sigmoid's
        recorded = {"output": "sigmoid", **recorded}
    if not isinstance(recorded, dict) or set(recorded) != fields:
        raise DataError(f"{path}: not a checkpoint written by jaxdnn train")
    try:
        return check_settings(Settings(**recorded)), path
    except JaxdnnError as e:
        raise DataError(f"{path}: invalid recorded run setting: {e}") from None


def finished(checkpoint):
    """Whether ``checkpoint`` holds a finished run, which a new run replaces. An unfinished run
    (``resume`` continues it) and a file jaxdnn did not write are refused."""
    if not os.path.exists(checkpoint):
        return False
    folder = os.path.dirname(checkpoint) or "."
    done, total, unit, complete = progress(checkpoint)
    if not complete:
        raise OptionError(f"{folder} holds an unfinished run ({unit} {done} of {total}): "
                          f"continue it with jaxdnn train --resume {folder}, delete "
                          f"{checkpoint}, or choose another --out")
    return True


def progress(checkpoint):
    """``(done, total, unit, complete)`` of the run ``checkpoint`` holds: its iterations (epochs)
    done and asked, and whether it is complete (or stopped early)."""
    refused = OptionError(f"{checkpoint} is not a checkpoint written by jaxdnn train: move it or "
                          f"choose another --out")
    try:
        meta = load_model(checkpoint)[1]
    except JaxdnnError:
        raise refused from None
    meta = checked_metadata(meta, recorded(), checkpoint)  # a recorded fact's own message
    try:
        done = numeric.count(meta.get("epoch", meta["iteration"]), "epoch")  # older: full batches
        total = numeric.count(meta["run"]["iterations"], "iterations")
        unit = "epoch" if meta["run"].get("training", meta["run"]).get("mini_batch_size") \
            else "iteration"
    except (JaxdnnError, KeyError, TypeError, AttributeError):
        raise refused from None
    return done, total, unit, done >= total or bool(meta.get("stopped_early"))


def resume_command(out, settings, data_dir="datasets"):
    """The command that continues the run ``settings`` checkpointed in ``out`` (with its data
    folder: a checkpoint records the run, not where its data lies)."""
    command = f"jaxdnn train --resume {shlex.quote(os.fspath(out))}"
    if is_user_activation(settings.hidden_activation):  # never imported from a file's name
        command += f" --hidden-activation {settings.hidden_activation}"
    if settings.dataset in datasets.IMAGES:
        command += f" --data-dir {shlex.quote(os.fspath(data_dir))}"
    return command
