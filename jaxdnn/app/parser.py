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
from . import settings

DESCRIPTION = ("Train, evaluate and verify L-layer networks whose backward pass is written by "
               "hand: train, evaluate, predict, sweep, compare, check, plot-activations.")


def _parsed(convert, what, valid):
    """An argparse type: ``convert(text)``, which must give ``what``, then ``valid(value)``
    (one of the library's checks, whose error becomes the message) gives the value."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return valid(value)
        except JaxdnnError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def _items(convert):
    """A comma-separated list of ``convert``'s values; an empty item is refused."""
    def items(text):
        parts = [part.strip() for part in text.split(",")]
        if not all(parts):
            raise ValueError(f"an empty item in {text!r}")
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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    parser = _Parser(prog="jaxdnn", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a classifier and write model, metrics, figures")
    train.add_argument("--dataset", choices=data.NAMES, help="default: planar")
    train.add_argument("--data-dir", type=_folder, default="datasets",
                       help="folder of the cat .h5 files (default: datasets)")
    planar, cat = COURSE_MODELS["nn_model"], COURSE_MODELS["L_layer_model"]
    train.add_argument("--layers", type=_sizes,
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
    train.add_argument("--x64", action="store_true", default=None, help="train in float64")
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
    train.add_argument("--out", type=_folder,
                       help="output folder (default: runs/latest, or the --resume DIR)")
    train.add_argument("--plain", action="store_true",
                       help="train on the plain loop even where the Gram path applies (images: "
                            "more features than examples)")
    train.add_argument("--devices", type=_positive, metavar="N",
                       help="shard the examples over N devices (data parallelism; on CPU, "
                            "XLA_FLAGS=--xla_force_host_platform_device_count=N makes N)")

    evaluate = sub.add_parser("evaluate", help="accuracy of a saved model")
    evaluate.add_argument("--params", required=True, help="model.npz written by train")
    evaluate.add_argument("--dataset", choices=data.NAMES)
    evaluate.add_argument("--data-dir", type=_folder, default="datasets")

    predict = sub.add_parser("predict", help="classify your own images with a saved model")
    predict.add_argument("--params", required=True)
    predict.add_argument("images", nargs="+", metavar="IMAGE")

    sweep = sub.add_parser("sweep", help="the course's hidden-layer-size study on planar data")
    sweep.add_argument("--hidden-sizes", type=_sizes, default=[1, 2, 3, 4, 5, 20, 50])
    sweep.add_argument("--iterations", type=_count, default=5000)
    sweep.add_argument("--seeds", type=_positive, default=1, metavar="N",
                       help="initialisations per size: numpy seeds 2..N+1 (2, the course's, "
                            "by default)")
    sweep.add_argument("--learning-rates", type=_rates, default=[1.2],
                       help="comma-separated (default the course's 1.2); every size, seed and "
                            "rate trains in one compiled program")
    sweep.add_argument("--out", type=_folder, default="runs/sweep")

    study = COURSE_MODELS["activation_study"]
    compare = sub.add_parser("compare", help="the course's activation study of the cat model, "
                                              "over many seeds")
    compare.add_argument("--hidden-activation", type=_names, default=["tanh", "relu",
                                                                       "leaky_relu"])
    compare.add_argument("--seeds", type=_positive, default=32, metavar="N",
                         help="numpy seeds 1..N of the course's initialisation (default 32)")
    compare.add_argument("--learning-rates", type=_rates, default=[study.learning_rate])
    compare.add_argument("--dataset", choices=data.NAMES, default="cat")
    compare.add_argument("--data-dir", type=_folder, default="datasets")
    compare.add_argument("--layers", type=_sizes, default=list(study.hidden))
    compare.add_argument("--iterations", type=_positive, default=study.num_iterations)
    compare.add_argument("--leaky-slope", type=_slope, default=0.1,
                         help="slope of leaky_relu here (default 0.1, the study's)")
    compare.add_argument("--out", type=_folder, default="runs/compare")

    check = sub.add_parser("check", help="verify the hand-written backward against three "
                                         "witnesses on random networks")
    check.add_argument("--layers", type=_sizes, default=[5, 4], help="hidden sizes (default 5,4)")
    check.add_argument("--features", type=_positive, default=6, help="n[0] (default 6)")
    check.add_argument("--output", choices=list(OUTPUTS), default="sigmoid")
    check.add_argument("--classes", type=_positive, default=3, help="softmax classes (default 3)")
    check.add_argument("--hidden-activation", type=_names,
                       help="activations drawn per hidden layer (default: all built-in ones)")
    check.add_argument("--activation", metavar="MODULE:OBJECT",
                       help="your jaxdnn.custom_activation pair, imported from the current "
                            "folder, drawn among the hidden activations")
    check.add_argument("--layer", metavar="MODULE:OBJECT",
                       help="check your own hand-written pair instead: an object with forward, "
                            "backward and inputs (example arrays), imported from the current "
                            "folder")
    check.add_argument("--dtype", choices=["float64", "float32", "bfloat16", "float16"],
                       help="float64 (default); with --layer: the examples' own unless given")
    check.add_argument("--examples", type=_positive, default=16, help="m per draw (default 16)")
    check.add_argument("--draws", type=_positive, default=20, help="random networks (default 20)")
    check.add_argument("--seed", type=_seed, default=0)

    acts = sub.add_parser("plot-activations", help="the activations and their derivatives")
    acts.add_argument("--out", type=_folder, default="runs")
    return parser
