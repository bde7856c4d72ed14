"""The ``jaxdnn`` command: train, evaluate, predict, sweep, plot-activations.

A thin shell: it parses, calls the library (:mod:`jaxdnn.run` says what a training run is) and
prints. Every error a user can cause (a bad argument, a missing or malformed file, a model that
does not fit the data) ends in one line on stderr and exit code 2; a diverged run exits with 3.
"""

import argparse
import json
import math
import os
import signal
import sys
from functools import partial

import jax
import numpy as np

from . import data, plots, run
from .activations import ACTIVATIONS
from .errors import JaxdnnError, OptionError, TrainingDiverged
from .init import SCHEMES
from .io import load_model, write_files
from .models import nn_model
from .train import accuracy, predict_labels, predict_proba

DATASET_NAMES = (*data.DATASETS, *run.IMAGE_DATASETS)


def _positive_ints(text):
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return sizes


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be finite and positive, got {text!r}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _seed(text):
    value = _non_negative_int(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be below 2**32, got {value}")
    return value


class _Progress:
    """Course-style cost lines on stdout, and a progress bar on stderr when it is a terminal."""

    def __init__(self, total, stream=None):
        self.total, self.stream = total, stream or sys.stderr
        self.bar = self.stream.isatty()

    def __call__(self, i, cost):
        if self.bar:
            self.stream.write("\r" + " " * 60 + "\r")
        print(f"Cost after iteration {i}: {cost:f}", flush=True)
        if self.bar:
            done = int(30 * (i + 1) / max(self.total, 1))
            self.stream.write(f"[{'#' * done}{'.' * (30 - done)}] {i + 1}/{self.total} "
                              f"cost {cost:.6f}")
            self.stream.flush()

    def close(self):
        if self.bar:
            self.stream.write("\n")


def cmd_train(args):
    given = {name: getattr(args, name) for name in run.RUN_OPTIONS}
    if args.resume:
        settings, resume_from = run.resume(args.resume, **given)
    else:
        settings, resume_from = run.new_run(**given), None
    out = args.out or args.resume or "runs/latest"
    try:
        plots.require_matplotlib()
        figures = True
    except plots.MissingPlotExtra as e:
        print(f"jaxdnn: note: {e}; figures are skipped", file=sys.stderr)
        figures = False
    progress = _Progress(settings.iterations)
    try:
        result = run.execute(settings, out, data_dir=args.data_dir, resume_from=resume_from,
                             on_cost=progress, figures=figures)
    finally:
        progress.close()
    if isinstance(result, run.Stopped):
        print(f"jaxdnn: stopped by {signal.Signals(result.signum).name} at iteration "
              f"{result.iteration} of {settings.iterations}; checkpoint saved; continue with: "
              f"jaxdnn train --resume {out}", file=sys.stderr)
        return 128 + result.signum
    print(f"Train accuracy: {result['train_accuracy']}")
    print(f"Test accuracy: {result['test_accuracy']}")
    print(f"Wrote {', '.join(result['files'])} to {out}")
    return 0


def cmd_evaluate(args):
    params, meta = load_model(args.params)
    if params["W1"].dtype == np.float64:
        jax.config.update("jax_enable_x64", True)  # evaluate in the dtype it was trained in
    dataset = args.dataset or meta.get("dataset", "planar")
    x_train, y_train, x_test, y_test, _ = data.load_split(dataset, args.data_dir,
                                                          meta.get("data_seed"))
    if x_train.shape[0] != params["W1"].shape[1]:
        raise OptionError(f"{args.params} expects {params['W1'].shape[1]} input features but "
                          f"data set {dataset!r} has {x_train.shape[0]}")
    activation = meta.get("hidden_activation", "relu")
    for name, X, Y in (("Train", x_train, y_train), ("Test", x_test, y_test)):
        print(f"{name} accuracy: {accuracy(predict_labels(X, params, activation), Y)}")
    return 0


def cmd_predict(args):
    try:
        from PIL import Image
    except ImportError:
        raise OptionError("predict reads images with Pillow: pip install 'jaxdnn[plot]'") from None

    params, meta = load_model(args.params)
    n_x = params["W1"].shape[1]
    num_px = math.isqrt(n_x // 3)
    if num_px * num_px * 3 != n_x:
        raise OptionError(f"{args.params} was trained on {n_x} features, not on RGB images")
    classes = meta.get("classes", ["non-cat", "cat"])
    failures = 0
    for path in args.images:
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB").resize((num_px, num_px)))
        except (OSError, ValueError) as e:
            print(f"jaxdnn: {path}: not a readable image ({e})", file=sys.stderr)
            failures += 1
            continue
        x = pixels.reshape(1, -1).T / 255.0
        prob = float(np.asarray(predict_proba(x, params, meta.get("hidden_activation",
                                                                   "relu")))[0, 0])
        print(f"{path}: {classes[int(prob > 0.5)]} (p(cat) = {prob:.4f})")
    return 2 if failures else 0


def cmd_sweep(args):
    X, Y = data.load_planar_dataset()
    Y = Y.astype(np.float64)
    rows, panels = [], []
    for n_h in args.hidden_sizes:
        params, _ = nn_model(X, Y, n_h, num_iterations=args.iterations)
        acc = accuracy(predict_labels(X, params, "tanh"), Y)
        rows.append((n_h, acc))
        panels.append((f"hidden layer of size {n_h}",
                       partial(predict_labels, parameters=params, hidden_activation="tanh")))
        print(f"Accuracy for {n_h} hidden units: {acc * 100:.2f} %", flush=True)
    write_files(args.out, {
        "sweep.png": lambda f: plots.plot_decision_boundaries(panels, X, Y, f),
        "sweep.json": lambda f: f.write(json.dumps(
            [{"hidden_units": n, "accuracy": a} for n, a in rows], indent=2).encode())})
    print(f"Wrote sweep.png, sweep.json to {args.out}")
    return 0


def cmd_plot_activations(args):
    write_files(args.out, {"activations.png": plots.plot_activations})
    print(f"Wrote {os.path.join(args.out, 'activations.png')}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    parser = _Parser(prog="jaxdnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a classifier and write model, metrics, figures")
    train.add_argument("--dataset", choices=DATASET_NAMES, help="default: planar")
    train.add_argument("--data-dir", default="datasets", help="folder of the cat .h5 files")
    train.add_argument("--layers", type=_positive_ints, help="hidden sizes, e.g. 20,7,5")
    train.add_argument("--hidden-activation", choices=sorted(ACTIVATIONS))
    train.add_argument("--learning-rate", type=_positive_float)
    train.add_argument("--iterations", type=_non_negative_int)
    train.add_argument("--seed", type=_seed,
                       help="seed of the initialisation and of the generated 2-D data "
                            "(default: the course's, 1 for cat and 2 for the 2-D sets)")
    train.add_argument("--init", choices=["course", *SCHEMES],
                       help="course (default): numpy RNG with the course's scale; "
                            "else jax.random")
    train.add_argument("--x64", action="store_true", default=None, help="train in float64")
    train.add_argument("--optimizer", choices=run.OPTIMIZERS, help="default: gd")
    train.add_argument("--checkpoint-every", type=_non_negative_int, metavar="N",
                       help=f"save OUT/{run.CHECKPOINT} every N iterations (default "
                            f"{run.CHECKPOINT_EVERY}; 0: never); SIGINT or SIGTERM then saves "
                            f"one and stops")
    train.add_argument("--resume", metavar="DIR",
                       help=f"continue the run whose {run.CHECKPOINT} is in DIR, with its options")
    train.add_argument("--out", help="output folder (default: runs/latest, or the --resume DIR)")
    train.set_defaults(run=cmd_train)

    evaluate = sub.add_parser("evaluate", help="accuracy of a saved model")
    evaluate.add_argument("--params", required=True, help="model.npz written by train")
    evaluate.add_argument("--dataset", choices=DATASET_NAMES)
    evaluate.add_argument("--data-dir", default="datasets")
    evaluate.set_defaults(run=cmd_evaluate)

    predict = sub.add_parser("predict", help="classify your own images with a saved model")
    predict.add_argument("--params", required=True)
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.set_defaults(run=cmd_predict)

    sweep = sub.add_parser("sweep", help="the course's hidden-layer-size study on planar data")
    sweep.add_argument("--hidden-sizes", type=_positive_ints, default=[1, 2, 3, 4, 5, 20, 50])
    sweep.add_argument("--iterations", type=_non_negative_int, default=5000)
    sweep.add_argument("--out", default="runs/sweep")
    sweep.set_defaults(run=cmd_sweep)

    acts = sub.add_parser("plot-activations", help="the activations and their derivatives")
    acts.add_argument("--out", default="runs")
    acts.set_defaults(run=cmd_plot_activations)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except TrainingDiverged as e:
        print(f"jaxdnn: {e}", file=sys.stderr)
        return 3
    except (JaxdnnError, OSError) as e:
        print(f"jaxdnn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxdnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
