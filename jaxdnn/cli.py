"""The ``jaxdnn`` command: train, evaluate, predict, sweep, plot-activations.

Every error a user can cause (a bad argument, a missing or malformed file, a model that does not
fit the data) ends in one line on stderr and exit code 2. ``train`` keeps ``checkpoint.npz`` in
``--out`` up to date while it trains; its other outputs are only written once everything they
depend on has succeeded. Every file is written atomically.
"""

import argparse
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
from functools import partial
from typing import NamedTuple

import numpy as np

from . import data, plots
from ._checks import check_count
from .activations import ACTIVATIONS
from .errors import DataError, JaxdnnError, OptionError, TrainingDiverged
from .init import SCHEMES
from .io import atomic_write, load_model, write_model

IMAGE_DATASETS = ("cat",)
DATASET_NAMES = (*data.DATASETS, *IMAGE_DATASETS)
class Defaults(NamedTuple):
    """The course's settings for a kind of data ("course" init: numpy's RNG, this scheme)."""

    hidden: list
    activation: str
    learning_rate: float
    iterations: int
    course_scheme: str
    seed: int


DEFAULTS = {
    "cat": Defaults([20, 7, 5], "relu", 0.0075, 2500, "scaled", 1),   # L_layer_model
    "2d": Defaults([4], "tanh", 1.2, 10000, "small", 2),               # the planar nn_model
}
OPTIMIZERS = ("gd", "momentum", "adam")


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


def _load(dataset, data_dir, seed):
    """``(train_x, train_y, test_x, test_y, classes, images)`` for a data set name."""
    if dataset == "cat":
        x_train, y_train, x_test, y_test, classes = data.load_data(data_dir)
        return (data.flatten_images(x_train), y_train.astype(np.float64),
                data.flatten_images(x_test), y_test.astype(np.float64),
                [c.decode() for c in classes], x_test)
    X, Y = data.load_dataset(dataset, seed)
    # 2-D sets: a fixed 80/20 split of a seeded permutation.
    order = np.random.RandomState(0).permutation(X.shape[1])
    cut = int(0.8 * X.shape[1])
    train, test = order[:cut], order[cut:]
    Y = Y.astype(np.float64)
    return X[:, train], Y[:, train], X[:, test], Y[:, test], ["class 0", "class 1"], None


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


def _optimizer(name, learning_rate):
    """``(optax optimizer or None, momentum)``: gd and momentum are the built-in descent."""
    import optax

    return {"gd": (None, 0.0), "momentum": (None, 0.9),
            "adam": (optax.adam(learning_rate), 0.0)}[name]


CHECKPOINT = "checkpoint.npz"
CHECKPOINT_EVERY = 1000
# The options that define a run: recorded in its checkpoints, not accepted with --resume.
RUN_OPTIONS = ("dataset", "layers", "hidden_activation", "learning_rate", "iterations", "seed",
               "init", "x64", "optimizer", "checkpoint_every")
RUN_KEYS = ("dataset", "hidden", "hidden_activation", "learning_rate", "iterations", "init",
            "course_scheme", "seed", "data_seed", "optimizer", "dtype", "checkpoint_every")


def _new_run(args):
    """The settings of a new run: the options given, else the course's for that kind of data."""
    dataset = args.dataset or "planar"
    defaults = DEFAULTS["cat" if dataset in IMAGE_DATASETS else "2d"]
    return {
        "dataset": dataset,
        "hidden": args.layers or defaults.hidden,
        "hidden_activation": args.hidden_activation or defaults.activation,
        "learning_rate": args.learning_rate or defaults.learning_rate,
        "iterations": args.iterations if args.iterations is not None else defaults.iterations,
        "init": args.init or "course",
        "course_scheme": defaults.course_scheme,
        "seed": args.seed if args.seed is not None else defaults.seed,
        "data_seed": args.seed,
        "optimizer": args.optimizer or "gd",
        "dtype": "float64" if args.x64 else "float32",
        "checkpoint_every": (args.checkpoint_every if args.checkpoint_every is not None
                             else CHECKPOINT_EVERY),
    }


def _resumed_run(args):
    """The settings recorded in the checkpoint of ``--resume DIR``, and its path."""
    given = [f"--{name.replace('_', '-')}" for name in RUN_OPTIONS
             if getattr(args, name) is not None]
    if given:
        raise OptionError(f"--resume continues the run recorded in its checkpoint; "
                          f"{', '.join(given)} cannot change it")
    path = os.path.join(args.resume, CHECKPOINT)
    params, meta = load_model(path)
    run = meta.get("run")
    if not isinstance(run, dict) or set(run) != set(RUN_KEYS):
        raise DataError(f"{path}: not a checkpoint written by jaxdnn train")
    return run, path, params


def _finished_checkpoint(checkpoint):
    """Whether ``checkpoint`` holds a finished run (to replace). A new run must not overwrite an
    unfinished one (--resume continues it) nor a file it did not write: both are refused."""
    if not os.path.exists(checkpoint):
        return False
    folder = os.path.dirname(checkpoint) or "."
    try:
        _, meta = load_model(checkpoint)
        done, total = check_count(meta["iteration"], "i"), check_count(meta["run"]["iterations"],
                                                                         "n")
    except (JaxdnnError, KeyError, TypeError):
        raise OptionError(f"{checkpoint} is not a checkpoint written by jaxdnn train: move it or "
                          f"choose another --out") from None
    if done < total:
        raise OptionError(f"{folder} holds an unfinished run (iteration {done} of {total}): "
                          f"continue it with jaxdnn train --resume {folder}, delete "
                          f"{checkpoint}, or choose another --out")
    return True


def cmd_train(args):
    import jax

    run, resume_from, params = _resumed_run(args) if args.resume else (_new_run(args), None, None)
    out = args.out or args.resume or "runs/latest"
    checkpoint = os.path.join(out, CHECKPOINT)
    same = resume_from and os.path.realpath(checkpoint) == os.path.realpath(resume_from)
    stale = not same and _finished_checkpoint(checkpoint)
    if run["dtype"] == "float64":
        jax.config.update("jax_enable_x64", True)
    from .init import initialize_parameters_deep
    from .io import load_checkpoint
    from .train import accuracy, init_train_state, predict_labels

    try:
        plots.require_matplotlib()
        with_figures = True
    except plots.MissingPlotExtra as e:
        print(f"jaxdnn: note: {e}; figures are skipped", file=sys.stderr)
        with_figures = False

    x_train, y_train, x_test, y_test, classes, images = _load(run["dataset"], args.data_dir,
                                                              run["data_seed"])
    dims = [x_train.shape[0], *run["hidden"], 1]
    optimizer, momentum = _optimizer(run["optimizer"], run["learning_rate"])
    if resume_from:
        if params["W1"].shape[1] != dims[0]:
            raise DataError(f"{resume_from} was trained on {params['W1'].shape[1]} features, "
                            f"but data set {run['dataset']!r} has {dims[0]}")
        like = init_train_state(params, momentum=momentum, optimizer=optimizer).opt_state
        state, costs, _ = load_checkpoint(resume_from, like)
    else:
        if run["init"] == "course":
            params = initialize_parameters_deep(dims, scheme=run["course_scheme"],
                                                numpy_seed=run["seed"], dtype=run["dtype"])
        else:
            params = initialize_parameters_deep(dims, jax.random.PRNGKey(run["seed"]),
                                                scheme=run["init"], dtype=run["dtype"])
        state = init_train_state(params, momentum=momentum, optimizer=optimizer)
        costs = np.zeros(0, run["dtype"])

    progress = _Progress(run["iterations"])
    state, costs, signum = _train(x_train, y_train, state, costs, run, optimizer, momentum,
                                  checkpoint, progress)
    progress.close()
    if signum is not None:
        print(f"jaxdnn: stopped by {signal.Signals(signum).name} at iteration {state.iteration} "
              f"of {run['iterations']}; checkpoint saved; continue with: "
              f"jaxdnn train --resume {out}", file=sys.stderr)
        return 128 + signum
    if stale and not run["checkpoint_every"]:
        os.unlink(checkpoint)  # another run's: not to be left beside these outputs
    params, activation = state.parameters, run["hidden_activation"]

    p_train = predict_labels(x_train, params, activation)
    p_test = predict_labels(x_test, params, activation)
    metrics = {"dataset": run["dataset"], "layer_dims": dims, "hidden_activation": activation,
               "learning_rate": run["learning_rate"], "iterations": run["iterations"],
               "init": run["init"], "seed": run["seed"], "data_seed": run["data_seed"],
               "optimizer": run["optimizer"], "dtype": run["dtype"],
               "train_accuracy": accuracy(p_train, y_train),
               "test_accuracy": accuracy(p_test, y_test),
               "final_cost": float(costs[-1]) if len(costs) else None}
    print(f"Train accuracy: {metrics['train_accuracy']}")
    print(f"Test accuracy: {metrics['test_accuracy']}")

    meta = {k: metrics[k] for k in ("dataset", "hidden_activation", "learning_rate",
                                    "iterations", "init", "seed", "data_seed", "optimizer")}
    meta["classes"] = classes
    files = {"model.npz": lambda f: write_model(f, params, meta),
             "metrics.json": lambda f: f.write(json.dumps(metrics, indent=2).encode() + b"\n")}
    if with_figures:
        files["costs.png"] = lambda f: plots.plot_costs(costs, f, run["learning_rate"])
        if images is None:
            files["decision_boundary.png"] = lambda f: plots.plot_decision_boundary(
                lambda P: predict_labels(P, params, activation), x_train, y_train, f,
                f"{run['dataset']}: hidden {activation} {run['hidden']}")
        else:
            wrong = np.flatnonzero(p_test[0] != y_test[0])
            files["mislabeled.png"] = lambda f: plots.plot_mislabeled(
                images[wrong], p_test[0, wrong], y_test[0, wrong].astype(int), classes, f)
    _write_all(out, files)
    print(f"Wrote {', '.join(files)} to {out}")
    return 0


def _train(X, Y, state, costs, run, optimizer, momentum, checkpoint, progress):
    """Train to ``run["iterations"]`` in segments that end at multiples of checkpoint_every,
    saving ``checkpoint`` after each; a SIGINT or SIGTERM stops at the end of the segment.

    Returns ``(state, costs, signum)``; signum is None when the run is complete.
    """
    from .io import save_checkpoint
    from .train import train_steps

    every = run["checkpoint_every"]
    with _StopSignals(enabled=every > 0) as stop:
        while state.iteration < run["iterations"]:
            remaining = run["iterations"] - state.iteration
            n = min(every - state.iteration % every, remaining) if every else remaining
            state, new_costs = train_steps(
                X, Y, state, n, hidden_activation=run["hidden_activation"],
                learning_rate=run["learning_rate"], momentum=momentum, optimizer=optimizer,
                on_cost=progress, donate=True)
            costs = np.concatenate([costs, new_costs])
            if every:
                os.makedirs(os.path.dirname(checkpoint) or ".", exist_ok=True)
                save_checkpoint(checkpoint, state, costs, {"run": run})
            if stop.signum is not None and state.iteration < run["iterations"]:
                return state, costs, stop.signum
    return state, costs, None


class _StopSignals:
    """While active, the first SIGINT or SIGTERM is recorded (``signum``) for the training loop to
    stop at its next checkpoint; a second one interrupts at once (KeyboardInterrupt)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled=True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signum, self.previous = None, {}

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        if self.enabled:  # a handler installed outside Python (None here) is left alone
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS
                             if signal.getsignal(s) is not None}
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def _write_all(out, files):
    """Write every ``name: write(file)`` into a staging folder beside ``out``, then move them in.

    A failure while writing leaves ``out`` as it was; the final renames are atomic per file.
    """
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=".jaxdnn-staging-")
    try:
        for name, write in files.items():
            with open(os.path.join(staging, name), "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        os.makedirs(out, exist_ok=True)
        for name in files:
            os.replace(os.path.join(staging, name), os.path.join(out, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def cmd_evaluate(args):
    import jax

    params, meta = load_model(args.params)
    if params["W1"].dtype == np.float64:
        jax.config.update("jax_enable_x64", True)  # evaluate in the dtype it was trained in
    from .train import accuracy, predict_labels

    dataset = args.dataset or meta.get("dataset", "planar")
    x_train, y_train, x_test, y_test, _, _ = _load(dataset, args.data_dir,
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

    from .train import predict_proba

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
    from .train import accuracy, nn_model, predict_labels

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
    os.makedirs(args.out, exist_ok=True)
    atomic_write(os.path.join(args.out, "sweep.png"),
                 lambda f: plots.plot_decision_boundaries(panels, X, Y, f))
    atomic_write(os.path.join(args.out, "sweep.json"), lambda f: f.write(
        json.dumps([{"hidden_units": n, "accuracy": a} for n, a in rows], indent=2).encode()))
    print(f"Wrote sweep.png, sweep.json to {args.out}")
    return 0


def cmd_plot_activations(args):
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "activations.png")
    atomic_write(path, plots.plot_activations)
    print(f"Wrote {path}")
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
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="default: gd")
    train.add_argument("--checkpoint-every", type=_non_negative_int, metavar="N",
                       help=f"save OUT/{CHECKPOINT} every N iterations (default "
                            f"{CHECKPOINT_EVERY}; 0: never); SIGINT or SIGTERM then saves "
                            f"one and stops")
    train.add_argument("--resume", metavar="DIR",
                       help=f"continue the run whose {CHECKPOINT} is in DIR, with its options")
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
