"""The ``jaxdnn`` command: train, evaluate, predict, sweep, plot-activations.

A thin shell: it parses, calls the library (:mod:`jaxdnn.run` says what a training run is) and
prints. Every error a user can cause (a bad argument, a missing or malformed file, a model that
does not fit the data) ends in one line on stderr and exit code 2; a diverged run exits with 3.
It keeps compiled programs in JAX's persistent compilation cache (:mod:`jaxdnn._cache`).
"""

import argparse
import importlib
import math
import os
import signal
import sys
import traceback
from functools import partial

import jax
import numpy as np

from ..core.activations import ACTIVATIONS, Activation, get_activation
from ..core.init import SCHEMES
from ..core.limits import MAX_ITERATIONS
from ..core.outputs import OUTPUTS
from ..core.predict import predict_proba
from ..course.models import COURSE_MODELS
from ..errors import DataError, JaxdnnError, OptionError, TrainingDiverged
from ..io import datasets as data
from ..io.files import write_files
from ..io.images import load_image
from ..verify import audit
from . import cache as _cache
from . import plots, run
from . import signals as _signals

DATASET_NAMES = (*data.DATASETS, *run.IMAGE_DATASETS, *run.SOFTMAX_DATASETS)


def _parsed(convert, what, valid, requirement):
    """An argparse type: ``convert(text)``, which must give ``what`` and pass ``valid``."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"{requirement}, got {text!r}")
        return value
    return parse


_sizes = _parsed(lambda text: [int(s) for s in text.split(",") if s.strip()],
                 "comma-separated integers", lambda v: v and min(v) >= 1,
                 "sizes must be positive integers")
_rate = _parsed(float, "a number", lambda v: math.isfinite(v) and v > 0,
                "must be finite and positive")
_count = _parsed(int, "an integer", lambda v: 0 <= v <= MAX_ITERATIONS,
                 f"must not be negative and at most {MAX_ITERATIONS} (iterations are counted "
                 f"in int32)")
_penalty = _parsed(float, "a number", lambda v: 0 <= v < math.inf,
                   "must be finite and not negative")
_probability = _parsed(float, "a number", lambda v: 0 < v <= 1, "must be in (0, 1]")
_positive = _parsed(int, "an integer", lambda v: v >= 1, "must be at least 1")
_seed = _parsed(int, "an integer", lambda v: 0 <= v < 2**32, "must be in [0, 2**32)")
_rates = _parsed(lambda text: [float(s) for s in text.split(",") if s.strip()],
                 "comma-separated numbers", lambda v: v and all(0 < r < math.inf for r in v),
                 "rates must be finite and positive")
_folder = _parsed(str, "a folder", lambda v: v.strip() != "", "must name a folder")
_names = _parsed(lambda text: [s.strip() for s in text.split(",") if s.strip()],
                 "comma-separated names", lambda v: v and set(v) <= set(ACTIVATIONS),
                 f"names must be among {', '.join(sorted(ACTIVATIONS))}")


class _Progress:
    """Course-style cost lines on stdout; a progress bar on stderr when it is a terminal."""

    def __init__(self, total, unit="iteration", stream=None):
        self.total, self.unit, self.stream = total, unit, stream or sys.stderr
        self.bar = self.stream.isatty()

    def __call__(self, i, cost):
        self._bar("\r" + " " * 60 + "\r")
        print(f"Cost after {self.unit} {i}: {cost:f}", flush=True)
        done = int(30 * (i + 1) / max(self.total, 1))
        self._bar(f"[{'#' * done}{'.' * (30 - done)}] {i + 1}/{self.total} cost {cost:.6f}")

    def close(self, complete=False):
        """End the bar's line; at ``total`` when training completed."""
        if complete:
            self._bar(f"\r[{'#' * 30}] {self.total}/{self.total}")
        self._bar("\n")

    def _bar(self, text):
        if self.bar:
            self.stream.write(text)
            self.stream.flush()


def cmd_train(args):
    settings, resume_from = _settings(args)
    user = settings.hidden_activation if run.is_user_activation(settings.hidden_activation) \
        else None
    activation = _user_activation(user, "--hidden-activation") if user else None
    out = args.out or args.resume or "runs/latest"
    figures = _figures()
    unit = "epoch" if settings.mini_batch_size else "iteration"
    progress = _Progress(settings.iterations, unit)
    result = None
    try:
        result = run.execute(settings, out, data_dir=args.data_dir, resume_from=resume_from,
                             on_cost=progress, figures=figures,
                             gram=False if args.plain else "auto", activation=activation,
                             devices=args.devices)
    finally:
        progress.close(complete=isinstance(result, dict))
    if isinstance(result, run.Stopped):
        print(f"jaxdnn: stopped by {signal.Signals(result.signum).name} at {unit} "
              f"{result.epoch} of {settings.iterations}; checkpoint saved; continue with: "
              f"{run.resume_command(out, settings, args.data_dir)}", file=sys.stderr)
        return 128 + result.signum
    print("Trained through the Gram path (the first layer through X^T X; --plain for the plain "
          "loop)" if result["path"] == "gram" else "Trained through the plain loop")
    print(f"Train accuracy: {result['train_accuracy']}")
    print(f"Test accuracy: {result['test_accuracy']}")
    if settings.output == "softmax":
        print("Test accuracy per class: " + ", ".join(
            f"{name} {acc:.3f}" for name, acc in zip(result["classes"],
                                                     result["test_accuracy_per_class"],
                                                     strict=True)))
        print("Test confusion matrix (rows: true class, columns: predicted):")
        for row in result["test_confusion_matrix"]:
            print("  " + " ".join(f"{n:4d}" for n in row))
    kept = [run.CHECKPOINT] if os.path.exists(os.path.join(out, run.CHECKPOINT)) else []
    print(f"Wrote {', '.join(result['files'] + kept)} to {out}")
    return 0


def _figures():
    """Whether matplotlib is there to draw figures (then it is imported meanwhile); if not, a
    note says how to get them."""
    try:
        plots.import_in_background()
        return True
    except plots.MissingPlotExtra as e:
        print(plots.skipped(e), file=sys.stderr)
        return False


def _settings(args):
    """The run to train and the checkpoint it resumes from. A resumed run with a user's
    activation needs it named again on the command line: code a file names is not imported."""
    given = {name: getattr(args, name) for name in run.RUN_OPTIONS}
    if not args.resume:
        return run.new_run(**given), None
    named = given.pop("hidden_activation")
    settings, resume_from = run.resume(args.resume, **given)
    recorded = settings.hidden_activation
    if run.is_user_activation(recorded) and named != recorded:
        raise OptionError(f"{args.resume} trains with your activation {recorded}: resume with "
                          f"--hidden-activation {recorded} (jaxdnn imports no code a file names)")
    if named is not None and named != recorded:
        raise OptionError("--resume continues the run recorded in its checkpoint; "
                          "--hidden-activation cannot change it")
    return settings, resume_from


def cmd_evaluate(args):
    for split, value in run.evaluate(args.params, args.dataset, args.data_dir).items():
        print(f"{split.capitalize()} accuracy: {value}")
    return 0


def cmd_predict(args):
    model = run.load(args.params)
    n_x = model.parameters["W1"].shape[1]
    num_px = math.isqrt(n_x // 3)
    if num_px * num_px * 3 != n_x:
        raise OptionError(f"{args.params} was trained on {n_x} features, not on RGB images")
    # a sigmoid model without class names is the course's cat classifier
    classes = (model.classes if model.output != "sigmoid" or "classes" in model.meta
               else ["non-cat", "cat"])
    failures = 0
    for path in args.images:
        try:
            x = load_image(path, num_px)
        except DataError as e:
            print(f"jaxdnn: {e}", file=sys.stderr)
            failures += 1
            continue
        AL = np.asarray(predict_proba(x, model.parameters, model.hidden_activation,
                                      output=model.output))[:, 0]
        probs = AL if len(AL) > 1 else np.array([1 - AL[0], AL[0]])
        k = int(probs.argmax())
        shown = k if len(AL) > 1 else 1  # a sigmoid's probability is the second class's
        print(f"{os.fsencode(path).decode(errors='replace')}: {classes[k]} "
              f"(p({classes[shown]}) = {probs[shown]:.4f})")
    return 2 if failures else 0


def cmd_sweep(args):
    print("Each model is trained and scored on all 400 points of the planar data, as the "
          "course's study (jaxdnn train scores an 80/20 split)", flush=True)
    rows, files = run.sweep(args.hidden_sizes, args.iterations, args.out, seeds=args.seeds,
                            learning_rates=args.learning_rates, figures=_figures())
    print(f"Accuracy for logistic regression (no hidden layer): {rows[0]['accuracy'] * 100:.2f} %")
    seeds = f"{args.seeds} seed{'s' if args.seeds > 1 else ''}"
    print(f"hidden units  learning rate  accuracy over {seeds:<9} diverged")
    for row in run.summarise_sweep(rows):
        acc = row["accuracy"]
        cell = f"{acc['mean'] * 100:.2f} ± {acc['std'] * 100:.2f} %" if acc else "-"
        print(f"{row['hidden_units']:<13} {row['learning_rate']:<14g} {cell:<23} "
              f"{row['diverged']}/{row['runs']}")
    print(f"Wrote {', '.join(files)} to {args.out}")
    return 0


def cmd_compare(args):
    def report(result):
        if result.seed == args.seeds:
            print(f"trained {result.activation} at learning rate {result.learning_rate} over "
                  f"{args.seeds} seeds", flush=True)

    runs = run.compare(args.hidden_activation, range(1, args.seeds + 1), args.learning_rates,
                       dataset=args.dataset, data_dir=args.data_dir, hidden=args.layers,
                       iterations=args.iterations, leaky_slope=args.leaky_slope, report=report)
    print("learning rate  activation   test accuracy   train accuracy  final cost      "
          "cost rises  diverged")
    for row in run.summarise(runs):
        cells = [f"{row[k]['mean']:.3f} ± {row[k]['std']:.3f}" if row[k] else "-"
                 for k in ("test_accuracy", "train_accuracy", "final_cost", "cost_rises")]
        print(f"{row['learning_rate']:<14g} {row['activation']:<12} {cells[0]:<15} "
              f"{cells[1]:<15} {cells[2]:<15} {cells[3]:<11} {row['diverged']}/{row['runs']}")
    print(f"Wrote {', '.join(run.write_comparison(runs, args.out))} to {args.out}")
    return 0


def _hidden_activation(text):
    """A built-in activation's name, or a user's ``module:object`` (imported when the run
    starts)."""
    if text in ACTIVATIONS or run.is_user_activation(text):
        return text
    raise argparse.ArgumentTypeError(f"expected one of {', '.join(sorted(ACTIVATIONS))}, or "
                                     f"MODULE:OBJECT; got {text!r}")


def _user_activation(spec, option="--activation"):
    """``module:object``, an :class:`~jaxdnn.Activation` importable from the current folder and
    following the contract (:func:`~jaxdnn.get_activation` tries it). Whatever the user's code
    raises or exits with, on import or when tried, is one OptionError quoting it; with
    ``JAXDNN_DEBUG=1`` its traceback is printed first, on stderr."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise OptionError(f"{option} takes module:object; got {spec!r}")
    if module.startswith("."):
        raise OptionError(f"{option} {spec}: a relative module name; name a module of the "
                          f"current folder, as in {module.lstrip('.') or 'myact'}:{name}")
    step = f"importing {module}"
    sys.path.insert(0, os.getcwd())
    try:
        found = importlib.import_module(module)
        step = f"looking up {name} in {module}"
        found = getattr(found, name)
        if not isinstance(found, Activation):
            raise OptionError(f"{option} {spec} is a {type(found).__name__}, not an Activation "
                              f"(build it with jaxdnn.custom_activation)")
        step = "trying it"
        return get_activation(found if found.name else found._replace(name=name))
    except (Exception, SystemExit) as e:  # the user's code: anything, sys.exit included
        debug = os.environ.get("JAXDNN_DEBUG", "") not in ("", "0")
        if debug:
            traceback.print_exception(e.__cause__ or e, file=sys.stderr)
        if isinstance(e, JaxdnnError):
            raise OptionError(str(e) if str(e).startswith(option) else
                              f"{option} {spec}: {e}") from None
        what = (f"called sys.exit({e.code!r})" if isinstance(e, SystemExit) else
                f"raised {type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}")
        hint = "" if debug else " (JAXDNN_DEBUG=1 shows the traceback)"
        raise OptionError(f"{option} {spec}: {step} {what}{hint}") from None
    finally:
        sys.path.pop(0)


def cmd_check(args):
    jax.config.update("jax_enable_x64", True)  # float64 finite differences, whatever --dtype
    pool = list(args.hidden_activation or ([] if args.activation else sorted(ACTIVATIONS)))
    if args.activation:
        pool.insert(0, _user_activation(args.activation))
    outputs = args.classes if args.output == "softmax" else 1
    draws = []
    for draw in audit.run(args.layers, args.features, outputs, args.output, args.dtype,
                          args.examples, args.draws, pool, args.seed):
        draws.append(draw)
        names = ", ".join(a if isinstance(a, str) else a.name for a in draw.hidden_activation)
        print(f"draw {draw.index} ({names}): " + ", ".join(
            f"{witness} {max(errors.values()):.1e}" for witness, errors in draw.errors.items()),
            flush=True)
    found, failed = audit.worst(draws), []
    L = len(args.layers) + 1
    keys = [k for l in range(1, L + 1) for k in (f"dW{l}", f"db{l}", f"dA{l}")]
    covered = sum("finite differences" in draw.errors for draw in draws)
    print(f"\nworst relative error over {len(draws)} draws (finite differences on the "
          f"{covered} with no pre-activation within 1e-4 of 0), [{args.features}, "
          f"{', '.join(map(str, args.layers))}, {outputs}] {args.output}, {args.examples} "
          f"examples, {args.dtype}:")
    print(f"{'leaf':<6}" + "".join(f"{w:>22}" for w in found))
    for key in keys:
        cells = []
        for witness, errors in found.items():
            if key not in errors:
                cells.append(f"{'-':>22}")
                continue
            error, draw = errors[key]
            ok = error <= audit.bound(witness, args.dtype)
            cells.append(f"{error:>16.1e} {'ok' if ok else 'FAIL':>5}")
            if not ok:
                failed.append((key, witness, error, draw))
        print(f"{key:<6}" + "".join(cells))
    print("bounds: " + ", ".join(f"{w} {audit.bound(w, args.dtype):g}" for w in found))
    if failed:
        key, witness, error, draw = max(failed, key=lambda f: (not f[2] <= 0, f[2]))
        names = ", ".join(a if isinstance(a, str) else a.name for a in draw.hidden_activation)
        print(f"jaxdnn: FAIL: {key} differs from the {witness} witness by {error:.3g}; "
              f"counterexample: draw {draw.index} of --seed {args.seed} (hidden activations "
              f"{names})", file=sys.stderr)
        return 1
    print("All gradients agree with every witness.")
    return 0


def cmd_plot_activations(args):
    write_files(args.out, {"activations.png": plots.plot_activations})
    print(f"Wrote {os.path.join(args.out, 'activations.png')}")
    return 0


def _csv(sizes):
    return ",".join(map(str, sizes))


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    parser = _Parser(prog="jaxdnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a classifier and write model, metrics, figures")
    train.add_argument("--dataset", choices=DATASET_NAMES, help="default: planar")
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
    train.add_argument("--learning-rate", type=_rate,
                       help=f"default: {planar.learning_rate} for the 2-D sets "
                            f"({COURSE_MODELS['softmax'].learning_rate} with a softmax), "
                            f"{cat.learning_rate} for cat; {run.ADAPTIVE_LEARNING_RATE} with "
                            f"--optimizer adam or rmsprop")
    train.add_argument("--iterations", "--epochs", type=_count,
                       help=f"passes over the data: iterations of full-batch descent, or epochs "
                            f"of --mini-batch-size batches (default: {planar.num_iterations} for "
                            f"the 2-D sets, {cat.num_iterations} for cat)")
    train.add_argument("--mini-batch-size", type=_positive, metavar="B",
                       help="train on shuffled mini-batches of B examples (the last one smaller), "
                            "and write the learning curves (default: full batches)")
    train.add_argument("--seed", type=_seed,
                       help="seed of the initialisation and of the generated 2-D data "
                            "(default: the course's, 1 for cat and 2 for the 2-D sets)")
    train.add_argument("--init", choices=["course", *SCHEMES],
                       help="course (default): numpy RNG with the course's scale; "
                            "else jax.random")
    train.add_argument("--x64", action="store_true", default=None, help="train in float64")
    train.add_argument("--optimizer", choices=run.OPTIMIZERS,
                       help=f"default: gd; adam and rmsprop default to learning rate "
                            f"{run.ADAPTIVE_LEARNING_RATE}")
    train.add_argument("--l2", type=_penalty, metavar="LAMBD",
                       help="L2 regularisation: lambd / (2m) sum ||W||^2 (default 0)")
    train.add_argument("--keep-prob", type=_probability, metavar="P",
                       help="inverted dropout on the hidden layers: keep each unit with "
                            "probability P (default 1: none)")
    train.add_argument("--output", choices=list(OUTPUTS),
                       help="output layer (default sigmoid; softmax: one unit per class, and the "
                            "K-class form of blobs and spirals)")
    train.add_argument("--checkpoint-every", type=_count, metavar="N",
                       help=f"save OUT/{run.CHECKPOINT} every N iterations or epochs (default "
                            f"{run.CHECKPOINT_EVERY}; 0: never); SIGINT or SIGTERM then saves "
                            f"one and stops")
    train.add_argument("--resume", metavar="DIR", type=_folder,
                       help=f"continue the run whose {run.CHECKPOINT} is in DIR, with its options")
    train.add_argument("--out", type=_folder,
                       help="output folder (default: runs/latest, or the --resume DIR)")
    train.add_argument("--plain", action="store_true",
                       help="train on the plain loop even where the Gram path applies (images: "
                            "more features than examples)")
    train.add_argument("--devices", type=_positive, metavar="N",
                       help="shard the examples over N devices (data parallelism; on CPU, "
                            "XLA_FLAGS=--xla_force_host_platform_device_count=N makes N)")
    train.set_defaults(run=cmd_train)

    evaluate = sub.add_parser("evaluate", help="accuracy of a saved model")
    evaluate.add_argument("--params", required=True, help="model.npz written by train")
    evaluate.add_argument("--dataset", choices=DATASET_NAMES)
    evaluate.add_argument("--data-dir", type=_folder, default="datasets")
    evaluate.set_defaults(run=cmd_evaluate)

    predict = sub.add_parser("predict", help="classify your own images with a saved model")
    predict.add_argument("--params", required=True)
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.set_defaults(run=cmd_predict)

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
    sweep.set_defaults(run=cmd_sweep)

    study = COURSE_MODELS["activation_study"]
    compare = sub.add_parser("compare", help="seed 004's activation study over many seeds")
    compare.add_argument("--hidden-activation", type=_names, default=["tanh", "relu",
                                                                       "leaky_relu"])
    compare.add_argument("--seeds", type=_positive, default=32, metavar="N",
                         help="numpy seeds 1..N of the course's initialisation (default 32)")
    compare.add_argument("--learning-rates", type=_rates, default=[study.learning_rate])
    compare.add_argument("--dataset", choices=DATASET_NAMES, default="cat")
    compare.add_argument("--data-dir", type=_folder, default="datasets")
    compare.add_argument("--layers", type=_sizes, default=list(study.hidden))
    compare.add_argument("--iterations", type=_positive, default=study.num_iterations)
    compare.add_argument("--leaky-slope", type=_rate, default=0.1,
                         help="slope of leaky_relu here (default 0.1, the study's)")
    compare.add_argument("--out", type=_folder, default="runs/compare")
    compare.set_defaults(run=cmd_compare)

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
    check.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    check.add_argument("--examples", type=_positive, default=16, help="m per draw (default 16)")
    check.add_argument("--draws", type=_positive, default=20, help="random networks (default 20)")
    check.add_argument("--seed", type=_seed, default=0)
    check.set_defaults(run=cmd_check)

    acts = sub.add_parser("plot-activations", help="the activations and their derivatives")
    acts.add_argument("--out", type=_folder, default="runs")
    acts.set_defaults(run=cmd_plot_activations)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    cache = _cache.enable()
    try:
        # a signal: one line, exit 128 + signum (train: a checkpoint), never in a cache write
        with _signals.handled(partial(_cache.wait_for_writes, cache) if cache else None):
            try:
                return args.run(args)
            finally:
                plots.import_failure()  # an import cut short could leave matplotlib's cache lock
    except TrainingDiverged as e:
        print(f"jaxdnn: {e}", file=sys.stderr)
        return 3
    except (JaxdnnError, OSError) as e:
        print(f"jaxdnn: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
