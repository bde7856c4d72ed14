"""The ``jaxdnn`` command: train, evaluate, predict, sweep, compare, check, plot-activations.

A thin shell: it parses (:mod:`jaxdnn.app.parser`), calls the library (:mod:`jaxdnn.app.execute`
says what a training run is) and prints. Every error a user can cause (a bad argument, a missing
or malformed file, a model that does not fit the data) ends in one line on stderr and exit code
2; a diverged run exits with 3. It decides once, at its start, whether the process computes in
float64, and keeps compiled programs in JAX's persistent compilation cache
(:mod:`jaxdnn.app.cache`).
"""

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
from ..core.predict import predict_proba
from ..errors import DataError, JaxdnnError, OptionError, TrainingDiverged
from ..io.files import check_targets, write_files
from ..io.images import load_image
from ..verify import audit
from . import cache as _cache
from . import execute, models, plots, settings, streams, studies
from . import signals as _signals
from .folders import exclusive
from .parser import build_parser


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
    run, resume_from = args.settings
    user = run.hidden_activation if settings.is_user_activation(run.hidden_activation) else None
    activation = _user_activation(user, "--hidden-activation") if user else None
    out = args.out or args.resume or "runs/latest"
    figures = _figures()
    progress = _Progress(run.iterations, run.unit)
    result = None
    try:
        result = execute.execute(run, out, data_dir=args.data_dir, resume_from=resume_from,
                                 on_cost=progress, figures=figures,
                                 gram=False if args.plain else "auto", activation=activation,
                                 devices=args.devices)
    finally:
        progress.close(complete=isinstance(result, dict))
    if isinstance(result, execute.Stopped):
        print(f"jaxdnn: stopped by {signal.Signals(result.signum).name} at {run.unit} "
              f"{result.epoch} of {run.iterations}; checkpoint saved; continue with: "
              f"{settings.resume_command(out, run, args.data_dir)}", file=sys.stderr)
        return 128 + result.signum
    if result.get("stopped_epoch") is not None:
        print(f"Stopped early after epoch {result['stopped_epoch'] + 1}: the validation cost "
              f"last improved at epoch {result['best_epoch'] + 1} "
              f"({result['best_validation_cost']:f}), whose parameters are kept")
    print("Trained through the Gram path (the first layer through X^T X; --plain for the plain "
          "loop)" if result["path"] == "gram" else "Trained through the plain loop")
    print(f"Train accuracy: {result['train_accuracy']}")
    print(f"Test accuracy: {result['test_accuracy']}")
    if run.output == "softmax":
        print("Test accuracy per class: " + ", ".join(
            f"{name} {acc:.3f}" for name, acc in zip(result["classes"],
                                                     result["test_accuracy_per_class"],
                                                     strict=True)))
        print("Test confusion matrix (rows: true class, columns: predicted):")
        for row in result["test_confusion_matrix"]:
            print("  " + " ".join(f"{n:4d}" for n in row))
    kept = [settings.CHECKPOINT] if os.path.exists(os.path.join(out, settings.CHECKPOINT)) \
        else []
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
    given = {name: getattr(args, name) for name in settings.RUN_OPTIONS}
    if not args.resume:
        return settings.new_settings(**given), None
    named = given.pop("hidden_activation")
    run, resume_from = settings.resume(args.resume, **given)
    recorded = run.hidden_activation
    if settings.is_user_activation(recorded) and named != recorded:
        raise OptionError(f"{args.resume} trains with your activation {recorded}: resume with "
                          f"--hidden-activation {recorded} (jaxdnn imports no code a file names)")
    if named is not None and named != recorded:
        raise OptionError("--resume continues the run recorded in its checkpoint; "
                          "--hidden-activation cannot change it")
    return run, resume_from


def cmd_evaluate(args):
    for split, value in models.evaluate(args.params, args.dataset, args.data_dir).items():
        print(f"{split.capitalize()} accuracy: {value}")
    return 0


def cmd_predict(args):
    model = models.load(args.params)
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
    with exclusive(args.out):  # checked and locked before anything is trained
        return _sweep(args)


def _sweep(args):
    for name, given in (("--hidden-sizes", args.hidden_sizes), ("--learning-rates",
                                                                 args.learning_rates)):
        if len(set(given)) < len(given):
            print(f"jaxdnn: note: {name} repeats a value: each is trained once", file=sys.stderr)
    print("Each model is trained and scored on all 400 points of the planar data, as the "
          "course's study (jaxdnn train scores an 80/20 split)", flush=True)
    rows, files = studies.sweep(args.hidden_sizes, args.iterations, args.out, seeds=args.seeds,
                            learning_rates=args.learning_rates, figures=_figures())
    print(f"Accuracy for logistic regression (no hidden layer): {rows[0]['accuracy'] * 100:.2f} %")
    seeds = f"{args.seeds} seed{'s' if args.seeds > 1 else ''}"
    print(f"hidden units  learning rate  accuracy over {seeds:<9} diverged")
    for row in studies.summarise_sweep(rows):
        acc = row["accuracy"]
        cell = f"{acc['mean'] * 100:.2f} ± {acc['std'] * 100:.2f} %" if acc else "-"
        print(f"{row['hidden_units']:<13} {row['learning_rate']:<14g} {cell:<23} "
              f"{row['diverged']}/{row['runs']}")
    print(f"Wrote {', '.join(files)} to {args.out}")
    return 0


def cmd_compare(args):
    with exclusive(args.out):  # checked and locked before anything is trained
        check_targets(args.out, studies.COMPARE_FILES, OptionError)
        return _compare(args)


def _compare(args):
    def report(result):
        if result.seed == args.seeds:
            print(f"trained {result.activation} at learning rate {result.learning_rate} over "
                  f"{args.seeds} seeds", flush=True)

    runs = studies.compare(args.hidden_activation, range(1, args.seeds + 1), args.learning_rates,
                       dataset=args.dataset, data_dir=args.data_dir, hidden=args.layers,
                       iterations=args.iterations, leaky_slope=args.leaky_slope, report=report)
    print("learning rate  activation   test accuracy   train accuracy  final cost      "
          "cost rises  diverged")
    for row in studies.summarise(runs):
        cells = [f"{row[k]['mean']:.3f} ± {row[k]['std']:.3f}" if row[k] else "-"
                 for k in ("test_accuracy", "train_accuracy", "final_cost", "cost_rises")]
        print(f"{row['learning_rate']:<14g} {row['activation']:<12} {cells[0]:<15} "
              f"{cells[1]:<15} {cells[2]:<15} {cells[3]:<11} {row['diverged']}/{row['runs']}")
    print(f"Wrote {', '.join(studies.write_comparison(runs, args.out))} to {args.out}")
    return 0


def _user_activation(spec, option="--activation"):
    """``module:object``, an :class:`~jaxdnn.Activation` importable from the current folder and
    following the contract (:func:`~jaxdnn.get_activation` tries it)."""
    def accept(found, name):
        if not isinstance(found, Activation):
            raise OptionError(f"{option} {spec} is a {type(found).__name__}, not an Activation "
                              f"(build it with jaxdnn.custom_activation)")
        return get_activation(found if found.name else found._replace(name=name))
    return _user_object(spec, option, accept)


def _user_layer(spec, option="--layer"):
    """``module:object`` with ``forward``, ``backward`` and ``inputs`` (a tuple of example
    arrays, or a function of no arguments returning one): ``(forward, backward, inputs)``."""
    def accept(found, name):
        missing = [a for a in ("forward", "backward", "inputs") if not hasattr(found, a)]
        if missing:
            raise OptionError(f"{option} {spec} has no {', '.join(missing)}: the object needs "
                              f"forward, backward and inputs (example arrays)")
        inputs = found.inputs() if callable(found.inputs) else found.inputs
        return found.forward, found.backward, tuple(inputs)
    return _user_object(spec, option, accept)


def _user_object(spec, option, accept):
    """``accept(object, name)`` of ``module:object`` imported from the current folder. Whatever
    the user's code raises or exits with, on import or when tried, is one OptionError quoting
    it; with ``JAXDNN_DEBUG=1`` its traceback is printed first, on stderr."""
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
        step = "trying it"
        return accept(found, name)
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
    if args.layer:
        return _check_layer(args)
    args.dtype = args.dtype or "float64"
    if args.dtype not in ("float64", "float32"):
        raise OptionError(f"--dtype {args.dtype} checks --layer only; networks check in float64 "
                          f"or float32")
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


def _check_layer(args):
    """``jaxdnn check --layer``: :func:`~jaxdnn.testing.check_vjp` on the user's pair, the
    per-leaf table, exit 1 with the counterexample on a bug."""
    print(f"checking {args.layer}: jax.vjp, forward mode, float64 differences, linearity, "
          f"same bits; {args.draws} draws, seed {args.seed}", flush=True)
    from ..verify import layer  # the pair's check alone: imported when asked for
    forward, backward, inputs = _user_layer(args.layer)
    if args.dtype:
        inputs = jax.tree.map(lambda a: jax.numpy.asarray(a, args.dtype), inputs)
    report = layer.verify(forward, backward, inputs, draws=args.draws, seed=args.seed,
                          name=args.layer)
    print(report, flush=True)
    if report.finding is not None:
        print(f"jaxdnn: FAIL: {report.finding.bug} in {report.finding.leaf}; counterexample: "
              f"draw {report.finding.draw} of --seed {args.seed}", file=sys.stderr)
        return 1
    return 0


def cmd_plot_activations(args):
    with exclusive(args.out):
        write_files(args.out, {"activations.png": plots.plot_activations})
    print(f"Wrote {os.path.join(args.out, 'activations.png')}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "sweep": cmd_sweep, "compare": cmd_compare, "check": cmd_check,
            "plot-activations": cmd_plot_activations}


def main(argv=None):
    args = build_parser().parse_args(argv)
    cache = _cache.enable()
    stdout, sys.stdout = sys.stdout, streams.Quiet(sys.stdout)
    try:
        # a signal: one line, exit 128 + signum (train: a checkpoint), never in a cache write
        with _signals.handled(partial(_cache.wait_for_writes, cache) if cache else None):
            try:
                if args.command == "train":
                    args.settings = _settings(args)  # reads a checkpoint: no jax array yet
                if _x64(args):
                    jax.config.update("jax_enable_x64", True)  # once, before any array
                return COMMANDS[args.command](args)
            finally:
                plots.import_failure()  # an import cut short could leave matplotlib's cache lock
    except TrainingDiverged as e:
        print(f"jaxdnn: {e}", file=sys.stderr)
        return 3
    except (JaxdnnError, OSError) as e:
        print(f"jaxdnn: error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # jax's devices, as XLA_FLAGS or JAX_PLATFORMS ask for them
        if "Unable to initialize backend" not in str(e):
            raise
        print(f"jaxdnn: error: jax cannot start its devices (see XLA_FLAGS and JAX_PLATFORMS): "
              f"{str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = stdout
        if cache:
            _cache.heal(cache)  # the entries this run wrote get their records now


def _x64(args):
    """Whether the command computes in float64 (JAX's x64 mode, set once for the process): a
    float64 run or model; the activation study and the gradient check always."""
    if args.command == "train":
        return args.settings[0].dtype == "float64"
    if args.command in ("evaluate", "predict"):
        return models.dtype(args.params) == "float64"
    return args.command in ("compare", "check")


if __name__ == "__main__":
    sys.exit(main())
