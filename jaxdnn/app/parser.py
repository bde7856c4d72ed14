"""The ``jaxdnn`` command's parser: its subcommands, their options and the types that check them.

The training options are those of :class:`~jaxdnn.train.config.TrainConfig` that have a flag,
parsed and checked by the configuration itself; every other value is checked by the library's
own check for it, whose message becomes the command's one line.
"""

import argparse

from ..core import numeric
from ..core.activations import ACTIVATIONS, get_activation
from ..core.init import SCHEMES
from ..core.outputs import OUTPUTS
from ..course.models import COURSE_MODELS
from ..errors import JaxdnnError, OptionError
from ..io import datasets as data
from ..train import config as training
from . import commands, settings


def _parsed(convert, what, valid):
    """An argparse type: ``convert(text)``, which must give ``what``, then ``valid(value)``
    (one of the library's checks, whose error becomes the message) gives the value."""
    def parse(text):
        try:
            value = convert(text)
        except _EmptyItem:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}: an empty item "
                                             f"(two commas, or one at an end)") from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return valid(value)
        except JaxdnnError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


class _EmptyItem(ValueError):
    """A list option's text with an empty item."""


def _items(convert):
    """A comma-separated list of ``convert``'s values; an empty item is refused."""
    def items(text):
        parts = [part.strip() for part in text.split(",")]
        if not all(parts):
            raise _EmptyItem(text)
        return [convert(part) for part in parts]
    return items


def _each(valid):
    def each(values):
        return [valid(value) for value in values]
    return each


def _positive_value(n, name="the value"):
    if numeric.count(n, name) < 1:
        raise OptionError(f"{name} must be at least 1; got {n}")
    return n


def _named(text):
    if not text.strip():
        raise OptionError("it must name a folder")
    return text


_sizes = _parsed(_items(int), "comma-separated integers", _each(
    lambda n: _positive_value(n, "a layer size")))
_count = _parsed(int, "an integer", lambda n: numeric.iterations(n, "the count"))
_positive = _parsed(int, "an integer", _positive_value)
_seed = _parsed(int, "an integer", numeric.seed)
_rates = _parsed(_items(float), "comma-separated numbers", _each(
    lambda rate: numeric.rate(rate) or rate))
_folder = _parsed(str, "a folder", _named)
_slope = _parsed(float, "a number", lambda slope: numeric.rate(slope, "the slope") or slope)
_names = _parsed(_items(str), "comma-separated names", _each(
    lambda name: get_activation(name) and name))


def _option(name):
    """The argparse type of a training option: parsed and checked by the configuration."""
    return _parsed(lambda text: text, "a value", lambda text: training.parse(name, text))


def _hidden_activation(text):
    """A built-in activation's name, or a user's ``module:object`` (imported when the run
    starts)."""
    if text in ACTIVATIONS or settings.is_user_activation(text):
        return text
    raise argparse.ArgumentTypeError(f"expected one of {', '.join(sorted(ACTIVATIONS))}, or "
                                     f"MODULE:OBJECT; got {text!r}")


def _csv(sizes):
    return ",".join(map(str, sizes))


def _user_pair(parser):
    parser.add_argument("--hidden-activation", metavar="MODULE:OBJECT",
                        help="the jaxdnn.custom_activation pair a model was trained with, "
                             "imported from the current folder (needed for such a model)")


def _levels(parser):
    """--quiet and --verbose: how much the command says while it works."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no progress while it works, only the results")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="a line per report (the course's cost lines), also on a terminal, "
                            "where the default is one updating progress bar")


def build_parser():
    parser, subparsers = commands.top_parser()

    train = subparsers["train"]
    train.add_argument("--dataset", choices=data.NAMES, help="the data (default: planar)")
    train.add_argument("--data-dir", type=_folder, metavar="DIR", default="datasets",
                       help="folder of the cat .h5 files")
    planar, cat = COURSE_MODELS["nn_model"], COURSE_MODELS["L_layer_model"]
    train.add_argument("--layers", type=_sizes, metavar="N,N,...",
                       help=f"hidden sizes (default: {_csv(planar.hidden)} for the 2-D sets, "
                            f"{_csv(cat.hidden)} for cat)")
    train.add_argument("--hidden-activation", type=_hidden_activation, metavar="NAME",
                       help=f"one of {', '.join(sorted(ACTIVATIONS))}, or MODULE:OBJECT, your "
                            f"jaxdnn.custom_activation pair imported from the current folder "
                            f"(default: {planar.hidden_activation} for the 2-D sets, "
                            f"{cat.hidden_activation} for cat)")
    train.add_argument("--iterations", "--epochs", type=_count,
                       help=f"passes over the data: iterations of full-batch descent, or epochs "
                            f"of --mini-batch-size batches (default: {planar.num_iterations} for "
                            f"the 2-D sets, {cat.num_iterations} for cat)")
    defaults = {"learning_rate": f"the step size (default: {planar.learning_rate} for the 2-D "
                                 f"sets, {COURSE_MODELS['softmax'].learning_rate} with a "
                                 f"softmax, {cat.learning_rate} for cat; "
                                 f"{training.ADAPTIVE_LEARNING_RATE} with --optimizer adam or "
                                 f"rmsprop)",
                "mini_batch_size": "train on shuffled mini-batches of B examples, the last one "
                                   "smaller, and write the learning curves (default: full "
                                   "batches)"}
    for option in training.options():
        if option["flag"]:
            extra = defaults.get(option["name"])
            train.add_argument(option["flag"], dest=option["name"], type=_option(option["name"]),
                               metavar=option["metavar"], help=extra or option["help"] + (
                                   "" if option["default"] is None
                                   else f" (default: {option['default']})"))
    train.add_argument("--seed", type=_seed,
                       help="seed of the initialisation and of the generated 2-D data "
                            "(default: the course's, 1 for cat and 2 for the 2-D sets)")
    train.add_argument("--init", choices=["course", *SCHEMES],
                       help="course (default): numpy RNG with the course's scale; "
                            "else jax.random")
    train.add_argument("--dtype", choices=list(settings.DTYPES),
                       help="float32 (default) or float64 (jax's x64 mode, set for the run)")
    train.add_argument("--x64", action="store_const", const="float64", dest="dtype",
                       help="the same as --dtype float64")
    train.add_argument("--optimizer", choices=list(settings.OPTIMIZERS),
                       help=f"default: gd; adam and rmsprop default to learning rate "
                            f"{training.ADAPTIVE_LEARNING_RATE}")
    train.add_argument("--output", choices=list(OUTPUTS),
                       help="output layer (default sigmoid; softmax: one unit per class, and the "
                            "K-class form of blobs and spirals)")
    train.add_argument("--checkpoint-every", type=_count, metavar="N",
                       help=f"save OUT/{settings.CHECKPOINT} every N iterations or epochs "
                            f"(default {settings.CHECKPOINT_EVERY}; 0: never); SIGINT or "
                            f"SIGTERM then saves one and stops")
    train.add_argument("--resume", metavar="DIR", type=_folder,
                       help=f"continue the run whose {settings.CHECKPOINT} is in DIR, with its "
                            f"options")
    train.add_argument("--out", type=_folder, metavar="DIR",
                       help="output folder (default: a new folder runs/<dataset>-<date>-<n>, "
                            "with runs/latest pointing at it; or the --resume DIR); a folder "
                            "that holds another finished run is refused without --overwrite")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the finished run in --out (all of its files), or write a "
                            "finished --resume run's outputs again")
    train.add_argument("--plain", action="store_true",
                       help="train on the plain loop even where the Gram path applies (images: "
                            "more features than examples)")
    train.add_argument("--devices", type=_positive, metavar="N",
                       help="shard the examples over N devices (data parallelism; on CPU, "
                            "XLA_FLAGS=--xla_force_host_platform_device_count=N makes N)")
    _levels(train)

    evaluate = subparsers["evaluate"]
    evaluate.add_argument("--params", required=True, metavar="FILE",
                          help="model.npz (or checkpoint.npz) written by train, e.g. "
                               "runs/latest/model.npz")
    evaluate.add_argument("--dataset", choices=data.NAMES,
                          help="default: the data set the model was trained on")
    evaluate.add_argument("--data-dir", type=_folder, metavar="DIR",
                          help="folder of the cat .h5 files (default: the one the model was "
                               "trained with, else datasets)")
    _user_pair(evaluate)

    predict = subparsers["predict"]
    predict.add_argument("--params", required=True, metavar="FILE",
                         help="model.npz written by train")
    predict.add_argument("inputs", nargs="+", metavar="INPUT",
                         help="an image (for a model trained on images), or a .csv or .npy "
                              "file of feature rows, one example per row")
    _user_pair(predict)

    sweep = subparsers["sweep"]
    sweep.add_argument("--hidden-sizes", type=_sizes, metavar="N,N,...",
                       default=[1, 2, 3, 4, 5, 20, 50],
                       help="comma-separated sizes of the hidden layer")
    sweep.add_argument("--iterations", type=_count, default=5000,
                       help="iterations of full-batch descent per model")
    sweep.add_argument("--seeds", type=_positive, default=1, metavar="N",
                       help="initialisations per size: numpy seeds 2..N+1 (2, the course's, "
                            "by default)")
    sweep.add_argument("--learning-rates", type=_rates, metavar="LR,LR,...", default=[1.2],
                       help="comma-separated (default the course's 1.2); every size, seed and "
                            "rate trains in one compiled program")
    sweep.add_argument("--out", type=_folder, metavar="DIR", default="runs/sweep",
                       help="output folder")
    _levels(sweep)

    study = COURSE_MODELS["activation_study"]
    compare = subparsers["compare"]
    compare.add_argument("--hidden-activation", type=_names, default=["tanh", "relu",
                                                                       "leaky_relu"],
                         help="comma-separated activations to compare")
    compare.add_argument("--seeds", type=_positive, default=32, metavar="N",
                         help="numpy seeds 1..N of the course's initialisation (default 32)")
    compare.add_argument("--learning-rates", type=_rates, metavar="LR,LR,...",
                         default=[study.learning_rate],
                         help="comma-separated step sizes")
    compare.add_argument("--dataset", choices=data.NAMES, default="cat", help="the data")
    compare.add_argument("--data-dir", type=_folder, metavar="DIR", default="datasets",
                         help="folder of the cat .h5 files")
    compare.add_argument("--layers", type=_sizes, metavar="N,N,...", default=list(study.hidden),
                         help="hidden sizes")
    compare.add_argument("--iterations", type=_positive, default=study.num_iterations,
                         help="iterations of full-batch descent per model")
    compare.add_argument("--leaky-slope", type=_slope, default=0.1,
                         help="slope of leaky_relu here (default 0.1, the study's)")
    compare.add_argument("--out", type=_folder, metavar="DIR", default="runs/compare",
                         help="output folder")
    _levels(compare)

    check = subparsers["check"]
    check.add_argument("--layers", type=_sizes, metavar="N,N,...", default=[5, 4],
                       help="hidden sizes (default 5,4)")
    check.add_argument("--features", type=_positive, default=6, help="n[0] (default 6)")
    check.add_argument("--output", choices=list(OUTPUTS), default="sigmoid",
                       help="output layer")
    check.add_argument("--classes", type=_positive, default=3, help="softmax classes (default 3)")
    check.add_argument("--hidden-activation", type=_names,
                       help="activations drawn per hidden layer (default: all built-in ones; "
                            "with --activation, that pair alone)")
    check.add_argument("--activation", metavar="MODULE:OBJECT",
                       help="your jaxdnn.custom_activation pair, imported from the current "
                            "folder: every hidden layer's, or drawn among the "
                            "--hidden-activation ones")
    check.add_argument("--layer", metavar="MODULE:OBJECT",
                       help="check your own hand-written pair instead: an object with forward, "
                            "backward and inputs (example arrays), imported from the current "
                            "folder")
    check.add_argument("--dtype", choices=["float64", "float32", "bfloat16", "float16"],
                       help="float64 (default); with --layer: the examples' own unless given")
    check.add_argument("--examples", type=_positive, default=16, help="m per draw (default 16)")
    check.add_argument("--draws", type=_positive, default=20, help="random networks (default 20)")
    check.add_argument("--seed", type=_seed, default=0, help="seed of the random networks")
    _levels(check)

    acts = subparsers["plot-activations"]
    acts.add_argument("--out", type=_folder, metavar="DIR", default="runs", help="output folder")
    return parser
