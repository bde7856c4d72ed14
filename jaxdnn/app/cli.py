"""The ``jaxdnn`` command: train, evaluate, predict, sweep, compare, check, plot-activations.

A thin shell: it parses (:mod:`jaxdnn.app.parser`), calls the library (:mod:`jaxdnn.app.execute`
says what a training run is) and prints. Every error a user can cause (a bad argument, a missing
or malformed file, a model that does not fit the data) ends in one line on stderr and exit code
2; a diverged run exits with 3. It decides once, at its start, whether the process computes in
float64, and keeps compiled programs in JAX's persistent compilation cache
(:mod:`jaxdnn.app.cache`).
"""

import os
import signal
import sys
from functools import partial

import jax
import numpy as np

from ..core.activations import ACTIVATIONS
from ..core.predict import predict_proba
from ..errors import DataError, JaxdnnError, OptionError, TrainingDiverged
from ..io.files import check_targets, write_files
from ..train import reports
from ..verify import audit
from . import cache as _cache
from . import execute, folders, models, plots, settings, streams, studies, user
from . import signals as _signals
from .folders import exclusive
from .parser import build_parser


def _level(args):
    """The progress level the options ask for (:data:`~jaxdnn.train.reports.LEVELS`)."""
    return "quiet" if args.quiet else "verbose" if args.verbose else "default"


def _accuracy(value):
    return "-" if value is None else f"{100 * value:.2f} %"


def cmd_train(args):
    run, resume_from = args.settings
    spec = run.hidden_activation if settings.is_user_activation(run.hidden_activation) else None
    activation = user.activation(spec, "--hidden-activation") if spec else None
    fresh = not (args.out or args.resume)
    out = args.out or args.resume or folders.new_run(run.dataset)
    figures = _figures()
    progress = reports.Progress(run.iterations, run.unit, _level(args))
    result = None
    try:
        result = execute.execute(run, out, data_dir=args.data_dir, resume_from=resume_from,
                                 on_cost=progress, figures=figures,
                                 gram=False if args.plain else "auto", activation=activation,
                                 devices=args.devices, overwrite=args.overwrite)
    finally:
        complete = isinstance(result, dict)
        progress.close(run.iterations if complete else None,
                       result["final_cost"] if complete else None)
        if fresh and os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)  # a run that failed before writing anything leaves no folder
    if fresh and folders.point_latest(out) is None:
        print(f"jaxdnn: note: {folders.RUNS}/{folders.LATEST} is not a link this version "
              f"made; it is left as is", file=sys.stderr)
    if isinstance(result, execute.Finished):
        print(f"{out} holds a finished run ({result.unit} {result.epoch} of {result.total}): "
              f"nothing to train, its outputs are kept (add --overwrite to write them again)")
        return 0
    if isinstance(result, execute.Stopped):
        print(f"jaxdnn: stopped by {signal.Signals(result.signum).name} at {run.unit} "
              f"{result.epoch} of {run.iterations}; checkpoint saved; continue with: "
              f"{settings.resume_command(out, run, args.data_dir)}", file=sys.stderr)
        return 128 + result.signum
    _report_run(run, result)
    kept = [settings.CHECKPOINT] if os.path.exists(os.path.join(out, settings.CHECKPOINT)) \
        else []
    print(f"Wrote {', '.join(result['files'] + kept)} to {out}")
    return 0


def _report_run(run, result):
    """The results of a finished run: final cost, accuracies, the per-class table."""
    if result.get("stopped_epoch") is not None:
        print(f"Stopped early after epoch {result['stopped_epoch'] + 1}: the validation cost "
              f"last improved at epoch {result['best_epoch'] + 1} "
              f"({result['best_validation_cost']:f}), whose parameters are kept")
    if result["final_cost"] is not None:
        print(f"Final cost: {result['final_cost']:f} (after {run.iterations} {run.unit}s)")
    first, last = result.get("initial_cost"), result["final_cost"]
    if first is not None and last is not None and last > first:
        print(f"jaxdnn: note: the final cost {last:f} is above the initial one {first:f}: the "
              f"run did not learn; try a smaller --learning-rate", file=sys.stderr)
    if result["path"] == "gram":
        print("The first layer trained through X^T X, faster where images have more features "
              "than there are examples (same results; --plain turns it off)")
    print(f"Train accuracy: {_accuracy(result['train_accuracy'])}")
    print(f"Test accuracy: {_accuracy(result['test_accuracy'])}")
    if run.output == "softmax":
        _per_class(result["classes"], result["test_accuracy_per_class"],
                   result["test_confusion_matrix"])


def _per_class(classes, accuracies, confusion):
    print("Test accuracy per class: " + ", ".join(
        f"{name} {_accuracy(acc)}" for name, acc in zip(classes, accuracies, strict=True)))
    print("Test confusion matrix (rows: true class, columns: predicted):")
    for row in confusion:
        print("  " + " ".join(f"{n:4d}" for n in row))


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


def _model_activation(args):
    """The pair ``--hidden-activation MODULE:OBJECT`` names for a model, imported; or None."""
    spec = args.hidden_activation
    return (spec, user.activation(spec, "--hidden-activation")) if spec else None


def cmd_evaluate(args):
    result = models.evaluate(args.params, args.dataset, args.data_dir, _model_activation(args))
    for split in ("train", "test"):
        print(f"{split.capitalize()} accuracy: {_accuracy(result[split])}")
    if "per_class" in result:
        _per_class(models.load(args.params, _model_activation(args)).classes,
                   result["per_class"], result["confusion"])
    return 0


def cmd_predict(args):
    model = models.load(args.params, _model_activation(args))
    # a sigmoid model without class names is the course's cat classifier
    classes = (model.classes if model.output != "sigmoid" or "classes" in model.meta
               else ["non-cat", "cat"])
    failures = 0
    for path in args.inputs:
        try:
            X = models.inputs(model, path)
        except (DataError, OptionError) as e:
            print(f"jaxdnn: error: {e}", file=sys.stderr)
            failures += 1
            continue
        P = np.asarray(predict_proba(X, model.parameters, model.hidden_activation,
                                     output=model.output))
        sigmoid = len(P) == 1
        P = np.concatenate([1 - P, P]) if sigmoid else P
        rows = path.lower().endswith(models.ROWS)
        for j in range(X.shape[1]):
            k = int(P[:, j].argmax())
            shown = 1 if sigmoid else k  # a sigmoid's probability is the second class's
            where = models.name(path) + (f" row {j + 1}" if rows else "")
            print(f"{where}: {classes[k]} (p({classes[shown]}) = {P[shown, j]:.4f})")
    return 2 if failures else 0


def _seeds(n):
    return f"{n} seed{'s' if n > 1 else ''}"


def _spread(stats, runs, scale=1, digits=3, unit=""):
    """A mean and its standard deviation over ``runs`` (the mean alone over one), or "-"."""
    if not stats:
        return "-"
    mean = f"{stats['mean'] * scale:.{digits}f}"
    return f"{mean}{unit}" if runs == 1 else f"{mean} ± {stats['std'] * scale:.{digits}f}{unit}"


def cmd_sweep(args):
    with exclusive(args.out):  # checked and locked before anything is trained
        return _sweep(args)


def _sweep(args):
    for name, given in (("--hidden-sizes", args.hidden_sizes), ("--learning-rates",
                                                                 args.learning_rates)):
        if len(set(given)) < len(given):
            print(f"jaxdnn: note: {name} repeats a value: each is trained once", file=sys.stderr)
    models = len(set(args.hidden_sizes)) * args.seeds * len(set(args.learning_rates))
    if not args.quiet:
        print(f"Training {models} model{'s' if models > 1 else ''} (hidden sizes x seeds x "
              f"learning rates) for {args.iterations} iterations in one compiled program; each "
              f"is trained and scored on all 400 points of the planar data, as the course's "
              f"study (jaxdnn train scores an 80/20 split)", flush=True)
    progress = reports.Progress(args.iterations, "iteration", _level(args))
    progress(-1, done=0)
    try:
        with progress.ticking():  # its clock runs while the program compiles
            rows, files = studies.sweep(args.hidden_sizes, args.iterations, args.out,
                                        seeds=args.seeds, learning_rates=args.learning_rates,
                                        figures=_figures(), on_cost=lambda i, _: progress(i))
        progress.close(args.iterations)
    finally:
        progress.close()
    print(f"Accuracy for logistic regression (no hidden layer): {rows[0]['accuracy'] * 100:.2f} %")
    heading = "accuracy" if args.seeds == 1 else f"accuracy over {_seeds(args.seeds)}"
    print(f"hidden units  learning rate  {heading:<23} diverged")
    for row in studies.summarise_sweep(rows):
        cell = _spread(row["accuracy"], args.seeds, 100, 2, " %")
        print(f"{row['hidden_units']:<13} {row['learning_rate']:<14g} {cell:<23} "
              f"{row['diverged']}/{row['runs']}")
    print(f"Wrote {', '.join(files)} to {args.out}")
    return 0


def cmd_compare(args):
    with exclusive(args.out):  # checked and locked before anything is trained
        check_targets(args.out, studies.COMPARE_FILES, OptionError)
        return _compare(args)


def _compare(args):
    total = len(args.hidden_activation) * len(args.learning_rates) * args.seeds
    progress = reports.Progress(total, "model", _level(args))

    def report(result):
        progress(progress.done)
        if result.seed == args.seeds:
            progress.say(f"trained {result.activation} at learning rate {result.learning_rate:g} "
                         f"over {_seeds(args.seeds)}")

    try:
        runs = studies.compare(args.hidden_activation, range(1, args.seeds + 1),
                               args.learning_rates, dataset=args.dataset, data_dir=args.data_dir,
                               hidden=args.layers, iterations=args.iterations,
                               leaky_slope=args.leaky_slope, report=report)
    finally:
        progress.close()
    print("learning rate  activation   test accuracy      train accuracy     final cost       "
          "cost rises   diverged")
    for row in studies.summarise(runs):
        cells = [_spread(row[k], args.seeds, 100, 2, " %") for k in ("test_accuracy",
                                                                     "train_accuracy")]
        cells += [_spread(row["final_cost"], args.seeds),
                  _spread(row["cost_rises"], args.seeds, digits=1)]
        print(f"{row['learning_rate']:<14g} {row['activation']:<12} {cells[0]:<18} "
              f"{cells[1]:<18} {cells[2]:<16} {cells[3]:<12} {row['diverged']}/{row['runs']}")
    print(f"Wrote {', '.join(studies.write_comparison(runs, args.out))} to {args.out}")
    return 0


def cmd_check(args):
    if args.layer:
        return _check_layer(args)
    args.dtype = args.dtype or "float64"
    if args.dtype not in ("float64", "float32"):
        raise OptionError(f"--dtype {args.dtype} checks --layer only; networks check in float64 "
                          f"or float32")
    pool = list(args.hidden_activation or ([] if args.activation else sorted(ACTIVATIONS)))
    if args.activation:
        pool.insert(0, user.activation(args.activation))
    outputs = args.classes if args.output == "softmax" else 1
    draws, progress = [], reports.Progress(args.draws, "draw", _level(args))
    for draw in audit.run(args.layers, args.features, outputs, args.output, args.dtype,
                          args.examples, args.draws, pool, args.seed):
        draws.append(draw)
        names = ", ".join(a if isinstance(a, str) else a.name for a in draw.hidden_activation)
        progress.say(f"draw {draw.index} ({names}): " + ", ".join(
            f"{witness} {max(errors.values()):.1e}" for witness, errors in draw.errors.items()))
        progress(len(draws) - 1)
    progress.close()
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
        print(f"jaxdnn: check failed: {key} differs from the {witness} witness by {error:.3g}; "
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
    forward, backward, inputs = user.layer(args.layer)
    if args.dtype:
        inputs = jax.tree.map(lambda a: jax.numpy.asarray(a, args.dtype), inputs)
    report = layer.verify(forward, backward, inputs, draws=args.draws, seed=args.seed,
                          name=args.layer)
    print(report, flush=True)
    if report.finding is not None:
        finding = report.finding
        print(f"jaxdnn: check failed: {finding.bug} in {finding.leaf}; counterexample: draw "
              f"{finding.draw} of --seed {args.seed}", file=sys.stderr)
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
                    args.resume = args.resume and folders.resolve(args.resume)
                    args.settings = _settings(args)  # reads a checkpoint: no jax array yet
                if _x64(args):
                    jax.config.update("jax_enable_x64", True)  # once, before any array
                return COMMANDS[args.command](args)
            finally:
                plots.import_failure()  # an import cut short could leave matplotlib's cache lock
    except TrainingDiverged as e:
        print(f"jaxdnn: error: {e}", file=sys.stderr)
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
