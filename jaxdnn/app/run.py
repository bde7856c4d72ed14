"""What a training run is, for ``jaxdnn train`` or a script: its settings, new or resumed, trained
in segments that end with a checkpoint and that a signal can stop, and the files it leaves.

A run writes into one folder: ``checkpoint.npz`` after every segment (every ``checkpoint_every``
epochs), then ``model.npz``, ``metrics.json`` and its figures once training is complete. A run
counts in epochs (``iterations``): with full batches an epoch is one iteration, with
``mini_batch_size`` it is one pass over the shuffled training set (:mod:`jaxdnn.batches`), whose
end costs the training and test sets for the learning curves.
The settings are recorded in each checkpoint, so ``resume(folder)`` continues it exactly. The
defaults are the course's, from :data:`~jaxdnn.models.COURSE_MODELS`.
"""

import fcntl
import inspect
import json
import os
import re
import shlex
import sys
from contextlib import contextmanager
from functools import partial
from typing import NamedTuple

import jax
import numpy as np
import optax

from ..core import checks as check
from ..core import layout, limits
from ..core import predict as prediction
from ..core.activations import ACTIVATIONS, Activation, leaky_relu_with
from ..core.init import SCHEMES
from ..core.outputs import OUTPUTS, get_output
from ..core.predict import accuracy, predict_labels
from ..course import logistic
from ..course.models import COURSE_MODELS, initial_parameters
from ..errors import DataError, JaxdnnError, OptionError, ShapeError, TrainingDiverged
from ..io import datasets as data
from ..io.files import write_files
from ..io.models import load_model, write_model
from ..train.batches import batches_per_epoch, epoch_costs
from ..train.fit import fit, takes_gram, train_steps
from ..train.mesh import data_mesh
from ..train.stack import fit_many, predict_labels_many, stack_models, unstack_models
from ..train.state import init_train_state, load_checkpoint, save_checkpoint
from ..train.step import PRINT_EVERY
from . import plots
from . import signals as _signals

CHECKPOINT = "checkpoint.npz"
CHECKPOINT_EVERY = 1000
OPTIMIZERS = ("gd", "momentum", "adam", "rmsprop")
ADAPTIVE_LEARNING_RATE = 0.01
"""The default learning rate of adam and rmsprop: the course models' rates (up to 1.2) are for
plain descent, and adaptive steps that large never settle."""
IMAGE_DATASETS = ("cat",)
SOFTMAX_DATASETS = ("digits",)
"""Data sets with more than two classes only: their output is a softmax unless told."""


class Run(NamedTuple):
    """The settings of a run; recorded as ``meta["run"]`` in its checkpoints."""

    dataset: str
    hidden: list
    hidden_activation: str
    learning_rate: float
    iterations: int
    init: str
    course_scheme: str
    seed: int
    data_seed: int | None
    optimizer: str
    dtype: str
    checkpoint_every: int
    output: str = "sigmoid"  # runs recorded before softmax outputs existed have none
    l2: float = 0.0  # nor L2
    keep_prob: float = 1.0  # nor dropout
    mini_batch_size: int = 0  # nor mini-batches (0: full batches)


def new_run(dataset=None, layers=None, hidden_activation=None, learning_rate=None,
            iterations=None, seed=None, init=None, x64=None, optimizer=None,
            checkpoint_every=None, output=None, l2=None, keep_prob=None, mini_batch_size=None):
    """The settings of a new run: the options given (not None), else the course's for the kind of
    data (the cat model for images, the planar model for 2-D sets), a sigmoid output (a
    softmax for :data:`SOFTMAX_DATASETS`) and full batches."""
    dataset = dataset or "planar"
    output = output or ("softmax" if dataset in SOFTMAX_DATASETS else None)
    if optimizer in ("adam", "rmsprop") and learning_rate is None:
        learning_rate = ADAPTIVE_LEARNING_RATE
    course = COURSE_MODELS["L_layer_model" if dataset in IMAGE_DATASETS
                           else "softmax" if output == "softmax" else "nn_model"]

    def given(value, default):
        return default if value is None else value

    return check_run(Run(dataset, list(given(layers, course.hidden)),
               given(hidden_activation, course.hidden_activation),
               given(learning_rate, course.learning_rate), given(iterations, course.num_iterations),
               given(init, "course"), course.scheme, given(seed, course.seed), seed,
               given(optimizer, "gd"), "float64" if x64 else "float32",
               given(checkpoint_every, CHECKPOINT_EVERY), given(output, "sigmoid"),
               given(l2, 0.0), given(keep_prob, 1.0), given(mini_batch_size, 0)))


def check_run(run):
    """``run`` if every setting is one the command line accepts (a checkpoint's recorded
    settings pass through here too); else an :class:`OptionError` naming the setting."""
    names = {"dataset": (*data.DATASETS, *IMAGE_DATASETS, *SOFTMAX_DATASETS),
             "init": ("course", *SCHEMES),
             "course_scheme": SCHEMES, "optimizer": OPTIMIZERS,
             "dtype": ("float32", "float64"), "output": OUTPUTS}
    for field, valid in names.items():
        value = getattr(run, field)
        if not isinstance(value, str) or value not in valid:
            raise OptionError(f"{field} must be one of {', '.join(valid)}; got {value!r}")
    hidden = run.hidden_activation
    if not (isinstance(hidden, str) and (hidden in ACTIVATIONS or is_user_activation(hidden))):
        raise OptionError(f"hidden_activation must be one of {', '.join(ACTIVATIONS)}, or a "
                          f"user's module:object; got {run.hidden_activation!r}")
    if not isinstance(run.hidden, list) or not run.hidden:
        raise OptionError(f"hidden must be a non-empty list of layer sizes; got {run.hidden!r}")
    try:
        dims = check.layer_dims([1, *run.hidden, 1])  # positive integers, within the budget
        limits.fits_in_memory(dims, 8 if run.dtype == "float64" else 4)
    except ShapeError as e:
        raise OptionError(f"hidden layer sizes {run.hidden!r}: {e}") from None
    check.rate(run.learning_rate)
    check.iterations(run.iterations, "iterations")
    check.iterations(run.checkpoint_every, "checkpoint_every")
    check.seed(run.seed)
    if run.data_seed is not None:
        check.seed(run.data_seed, "data_seed")
    check.penalty(run.l2, "l2")
    check.probability(run.keep_prob, "keep_prob")
    check.count(run.mini_batch_size, "mini_batch_size")  # 0: full batches
    return run


def is_user_activation(name):
    """Whether ``name`` spells a user's activation, ``module:object`` (``pkg.mod:name``)."""
    return isinstance(name, str) and re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", name) is not None


RUN_OPTIONS = tuple(inspect.signature(new_run).parameters)
"""The options that define a run: a resumed run takes none of them."""


def resume(folder, **given):
    """The settings recorded in ``folder``'s checkpoint, and its path. ``given`` options (those
    of :func:`new_run` that are not None) would change the run: they are refused."""
    refused = [f"--{name.replace('_', '-')}" for name in RUN_OPTIONS if given.get(name) is not None]
    if refused:
        raise OptionError(f"--resume continues the run recorded in its checkpoint; "
                          f"{', '.join(refused)} cannot change it")
    path = os.path.join(folder, CHECKPOINT)
    run = load_model(path)[1].get("run")
    if not isinstance(run, dict) or not set(Run._fields) - set(Run._field_defaults) <= set(run) \
            or not set(run) <= set(Run._fields):
        raise DataError(f"{path}: not a checkpoint written by jaxdnn train")
    try:
        return check_run(Run(**run)), path
    except JaxdnnError as e:
        raise DataError(f"{path}: invalid recorded run setting: {e}") from None


def _finished(checkpoint):
    """Whether ``checkpoint`` holds a finished run, which a new run replaces. An unfinished run
    (``resume`` continues it) and a file jaxdnn did not write are refused."""
    if not os.path.exists(checkpoint):
        return False
    folder = os.path.dirname(checkpoint) or "."
    try:
        meta = load_model(checkpoint)[1]
        done = check.count(meta.get("epoch", meta["iteration"]), "epoch")  # older: full batches
        total = check.count(meta["run"]["iterations"], "iterations")
    except (JaxdnnError, KeyError, TypeError):
        raise OptionError(f"{checkpoint} is not a checkpoint written by jaxdnn train: move it or "
                          f"choose another --out") from None
    if done < total:
        unit = "epoch" if meta["run"].get("mini_batch_size") else "iteration"
        raise OptionError(f"{folder} holds an unfinished run ({unit} {done} of {total}): "
                          f"continue it with jaxdnn train --resume {folder}, delete "
                          f"{checkpoint}, or choose another --out")
    return True


def optimizer(run):
    """``(optax optimizer or None, momentum)``: gd and momentum are the built-in descent."""
    return {"gd": (None, 0.0), "momentum": (None, 0.9),
            "adam": (optax.adam(run.learning_rate), 0.0),
            "rmsprop": (optax.rmsprop(run.learning_rate), 0.0)}[run.optimizer]


class Stopped(NamedTuple):
    """A run stopped by a signal after saving its checkpoint."""

    signum: int
    epoch: int


LOCK = ".jaxdnn.lock"


@contextmanager
def _exclusive(out):
    """Hold an OS lock on ``out`` for the run: a second run into the same folder is refused
    (the kernel releases the lock of a run that crashed or was killed). ``out`` must be a
    writable folder or a path where one can be made; one made here is removed again if the run
    leaves nothing in it."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise OptionError(f"--out {out} exists and is not a folder")
    created = not os.path.exists(out)
    path = os.path.join(out, LOCK)
    try:
        os.makedirs(out, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise OptionError(f"cannot write into --out {out}: {e.strerror}") from None
    held = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = os.path.exists(path) and os.fstat(fd).st_ino == os.stat(path).st_ino
        except BlockingIOError:
            pass
        if not held:  # locked, or unlinked by a run that ended meanwhile
            raise OptionError(f"another jaxdnn run is writing to {out}: wait for it, or choose "
                              f"another --out")
        yield
    finally:
        if held:
            os.unlink(path)
        os.close(fd)
        if created and os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)


def execute(run, out, *, data_dir="datasets", resume_from=None, on_cost=None, figures=True,
            gram="auto", activation=None, devices=None):
    """Train ``run`` into the folder ``out`` (from the checkpoint ``resume_from`` if given) and
    write its outputs. Returns the metrics, or :class:`Stopped` if a signal stopped it.

    A float64 run turns on jax's x64 mode for the process. ``gram``: as :func:`~jaxdnn.fit`
    (False: the plain loop); the metrics record the path taken. ``on_cost(i, cost)`` is called
    for every PRINT_EVERY-th iteration after each segment, from the costs the loop returns: a
    compiled loop without host callbacks is one JAX's compilation cache can keep.

    A run whose ``hidden_activation`` is a user's ``module:object`` trains with ``activation``,
    the :class:`~jaxdnn.Activation` the caller imported from there: a run never imports code
    that a file names. ``devices``: shard the examples over that many devices
    (:func:`~jaxdnn.data_mesh`; not a setting of the run: a run may resume on another count).
    """
    if is_user_activation(run.hidden_activation) != isinstance(activation, Activation):
        raise OptionError(f"activation= is the pair of a run whose hidden activation is a "
                          f"user's module:object, and only then; the run's is "
                          f"{run.hidden_activation!r}, activation={activation!r}")
    if run.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    mesh = None if devices is None else data_mesh(devices)
    with _exclusive(out):
        return _execute(run, out, data_dir, resume_from, on_cost, figures, gram,
                        activation or run.hidden_activation, mesh)


def _execute(run, out, data_dir, resume_from, on_cost, figures, gram, hidden, mesh):
    checkpoint = os.path.join(out, CHECKPOINT)
    same = resume_from and os.path.realpath(checkpoint) == os.path.realpath(resume_from)
    stale = not same and _finished(checkpoint)
    multiclass = get_output(run.output).one_hot
    train_x, train_y, test_x, test_y, classes = data.load_split(run.dataset, data_dir,
                                                                run.data_seed,
                                                                multiclass=multiclass)
    m = train_x.shape[1]
    if run.mini_batch_size > m:
        raise OptionError(f"--mini-batch-size {run.mini_batch_size} is more than the {m} "
                          f"training examples of {run.dataset!r}")
    per_epoch = batches_per_epoch(m, run.mini_batch_size or m)
    opt, momentum = optimizer(run)
    if resume_from:
        params = load_model(resume_from)[0]
        if params["W1"].shape[1] != train_x.shape[0]:
            raise DataError(f"{resume_from} was trained on {params['W1'].shape[1]} features, "
                            f"but data set {run.dataset!r} has {train_x.shape[0]}")
        like = init_train_state(params, momentum=momentum, optimizer=opt).opt_state
        state, costs, meta = load_checkpoint(resume_from, like)
        curves = np.asarray(meta.get("curves", np.zeros((0, 2))), float).reshape(-1, 2)
        if state.iteration % per_epoch or len(curves) != (state.iteration // per_epoch
                                                          if run.mini_batch_size else 0):
            raise DataError(f"{resume_from}: its iterations and learning curves do not fit "
                            f"epochs of {per_epoch} batches")
    else:
        dims = [train_x.shape[0], *run.hidden, len(classes) if multiclass else 1]
        params = initial_parameters(dims, run.init, run.seed, run.course_scheme, run.dtype)
        state, costs = init_train_state(params, momentum=momentum, optimizer=opt), np.zeros(0)
        curves = np.zeros((0, 2))

    every = run.checkpoint_every
    key = (jax.random.fold_in(jax.random.PRNGKey(run.seed), 1)  # apart from the init's
           if run.mini_batch_size or run.keep_prob < 1 else None)
    monitor = [(train_x, train_y), (test_x, test_y)] if run.mini_batch_size else []
    def kept():
        return (f"; the last checkpoint is kept; continue with: "
                f"{resume_command(out, run, data_dir)}" if os.path.exists(checkpoint) else "")

    # a signal stops at the next checkpoint; without checkpoints it ends the process at once
    with _signals.deferred(kept) if every else _signals.handled() as stop:
        while state.iteration < run.iterations * per_epoch:
            epoch = state.iteration // per_epoch
            n = run.iterations - epoch
            n = min(every - epoch % every, n) if every else n
            state, new_costs, *monitored = train_steps(
                train_x, train_y, state, n * per_epoch, hidden_activation=hidden,
                output=run.output, learning_rate=run.learning_rate, momentum=momentum,
                lambd=run.l2, keep_prob=run.keep_prob, key=key, optimizer=opt,
                mini_batch_size=run.mini_batch_size or None, monitor=monitor, gram=gram,
                donate=True, mesh=mesh,
                compiled_length=min(every, run.iterations) * per_epoch or None)
            # reported here, not from inside the loop: jax caches no program with a callback
            shown = epoch_costs(new_costs, m, run.mini_batch_size or m)
            for i in range(-epoch % PRINT_EVERY, n, PRINT_EVERY) if on_cost else ():
                on_cost(epoch + i, float(shown[i]))
            costs = np.concatenate([costs, new_costs])
            if monitored:
                curves = np.concatenate([curves, monitored[0][per_epoch - 1::per_epoch]])
            if every:
                os.makedirs(out, exist_ok=True)
                save_checkpoint(checkpoint, state, costs,
                                {"run": run._asdict(), "epoch": epoch + n,
                                 "curves": curves.tolist()})
            if stop.signum is not None and epoch + n < run.iterations:
                return Stopped(stop.signum, epoch + n)
        if stale and not every:
            os.unlink(checkpoint)  # another run's: not to be left beside these outputs
        if run.mini_batch_size:
            costs = epoch_costs(costs, m, run.mini_batch_size)
        path = ("gram" if takes_gram(train_x.shape, opt, run.l2, run.keep_prob < 1, gram,
                                      not run.mini_batch_size) else "plain")
        return _write_outputs(out, run, state.parameters, costs, curves,
                              (train_x, train_y, test_x, test_y, classes), figures, path, hidden)


def resume_command(out, run, data_dir="datasets"):
    """The command that continues the run ``run`` checkpointed in ``out`` (with its data
    folder: a checkpoint records the run, not where its data lies)."""
    command = f"jaxdnn train --resume {shlex.quote(os.fspath(out))}"
    if is_user_activation(run.hidden_activation):  # never imported from a file's name
        command += f" --hidden-activation {run.hidden_activation}"
    if run.dataset in IMAGE_DATASETS:
        command += f" --data-dir {shlex.quote(os.fspath(data_dir))}"
    return command




def _drawable(figures):
    """Whether to draw the figures: asked for, and pyplot imported (a matplotlib that fails to
    import gets a note, and the other outputs are still written)."""
    failure = plots.import_failure() if figures else None
    if failure is not None:
        print(plots.skipped(failure), file=sys.stderr)
    return figures and failure is None


def _write_outputs(out, run, params, costs, curves, split, figures, path, hidden):
    train_x, train_y, test_x, test_y, classes = split
    layers = check.parameters(params)

    def predict(X):
        return prediction.labels(prediction.layer_probabilities(X, layers, hidden, run.output),
                                run.output)

    m = train_x.shape[1]  # one program for both sets
    p_train, p_test = np.split(predict(np.concatenate([train_x, test_x], axis=1)), [m], axis=1)
    confusion = np.zeros((len(classes), len(classes)), int)  # rows: true class, columns: predicted
    np.add.at(confusion, (test_y[0].astype(int), p_test[0]), 1)
    metrics = {"dataset": run.dataset, "layer_dims": layout.layer_dims(layers),
               "hidden_activation": run.hidden_activation, "output": run.output,
               "learning_rate": run.learning_rate, "l2": run.l2, "keep_prob": run.keep_prob,
               "mini_batch_size": run.mini_batch_size or None, "iterations": run.iterations,
               "init": run.init, "seed": run.seed, "data_seed": run.data_seed,
               "optimizer": run.optimizer, "dtype": run.dtype, "path": path, "classes": classes,
               "devices": len(jax.numpy.asarray(params["W1"]).devices()),  # trained on
               "train_accuracy": prediction.fraction_equal(p_train, train_y),
               "test_accuracy": prediction.fraction_equal(p_test, test_y),
               "test_accuracy_per_class": [float(row[k] / max(row.sum(), 1))
                                           for k, row in enumerate(confusion)],
               "test_confusion_matrix": confusion.tolist(),
               "final_cost": float(costs[-1]) if len(costs) else None}
    meta = {k: metrics[k] for k in ("dataset", "hidden_activation", "output", "learning_rate",
                                    "iterations", "init", "seed", "data_seed", "optimizer",
                                    "classes")}
    files = {"model.npz": lambda f: write_model(f, params, meta),
             "metrics.json": lambda f: f.write(json.dumps(metrics, indent=2).encode() + b"\n")}
    figures = _drawable(figures)
    trained = (f"{run.dataset}: hidden {run.hidden_activation} {run.hidden}, {run.output}")
    accuracies = (f"train accuracy {metrics['train_accuracy']:.3f}, test "
                  f"{metrics['test_accuracy']:.3f}")
    if figures and len(costs):  # no cost plot of no iterations
        files["costs.png"] = lambda f: plots.plot_costs(
            costs, f, f"{trained}\n{run.optimizer}, learning rate {run.learning_rate}, "
                      f"{run.dtype}; final cost {costs[-1]:.4g}",
            unit="epoch" if run.mini_batch_size else "iteration")
    if figures:
        if run.mini_batch_size:
            files["learning_curves.png"] = lambda f: plots.plot_learning_curves(
                curves, f, f"{run.dataset}: hidden {run.hidden}, batches of "
                           f"{run.mini_batch_size}, L2 {run.l2}, keep_prob {run.keep_prob}")
        if run.dataset in IMAGE_DATASETS:
            wrong = np.flatnonzero(p_test[0] != test_y[0])
            px = int(np.sqrt(test_x.shape[0] // 3))
            images = test_x.T.reshape(-1, px, px, 3)[wrong]  # as stored, scaled to [0, 1]
            files["mislabeled.png"] = lambda f: plots.plot_mislabeled(
                images, p_test[0, wrong], test_y[0, wrong].astype(int), classes, f)
        elif run.dataset in data.DATASETS:  # the 2-D sets
            files["decision_boundary.png"] = lambda f: plots.plot_decision_boundary(
                predict, train_x, train_y, f, f"{trained}\n{accuracies}",
                num_classes=len(classes), test=(test_x, test_y), classes=classes)
    write_files(out, files)
    return dict(metrics, files=list(files))


class Model(NamedTuple):
    """A model file read for use: its parameters, how it computes, and its class names."""

    parameters: dict
    hidden_activation: str
    output: str
    classes: list
    meta: dict


def load(path):
    """The model file ``path`` (:func:`~jaxdnn.load_model`) with the defaults of files written
    before an option existed (ReLU, a sigmoid output, classes "class 0", "class 1", ...); a
    sigmoid model must have one output unit. Turns on x64 for a float64 model."""
    params, meta = load_model(path)
    output = meta.get("output", "sigmoid")
    K = check.parameters(params)[-1][0].shape[0]
    if not get_output(output).one_hot and K != 1:
        raise OptionError(f"{path} has {K} sigmoid outputs; jaxdnn classifies with one sigmoid "
                          f"output or a softmax")
    classes = meta.get("classes")
    if not isinstance(classes, list) or len(classes) != max(K, 2) \
            or not all(isinstance(name, str) for name in classes):
        classes = [f"class {k}" for k in range(max(K, 2))]
    if params["W1"].dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    hidden = meta.get("hidden_activation", "relu")
    for name in hidden if isinstance(hidden, list) else [hidden]:
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise OptionError(f"{path} was trained with the activation {name!r}, which is not "
                              f"built in: load it with jaxdnn.load_model and pass the same "
                              f"jaxdnn.custom_activation pair as hidden_activation")
    return Model(params, hidden, output, classes, meta)


def evaluate(model, dataset=None, data_dir="datasets"):
    """``{"train": accuracy, "test": accuracy}`` of the model file ``model`` on the split of the
    data set it was trained on (or ``dataset``), in the dtype it was trained in."""
    m = load(model)
    dataset = dataset or m.meta.get("dataset", "planar")
    train_x, train_y, test_x, test_y, _ = data.load_split(
        dataset, data_dir, m.meta.get("data_seed"), multiclass=get_output(m.output).one_hot)
    if train_x.shape[0] != m.parameters["W1"].shape[1]:
        raise OptionError(f"{model} expects {m.parameters['W1'].shape[1]} input features but "
                          f"data set {dataset!r} has {train_x.shape[0]}")
    return {split: accuracy(predict_labels(X, m.parameters, m.hidden_activation,
                                           output=m.output), Y, num_classes=len(m.classes))
            for split, X, Y in (("train", train_x, train_y), ("test", test_x, test_y))}


def sweep(hidden_sizes, num_iterations, out, *, seeds=1, learning_rates=None, figures=True):
    """The course's study of the planar model's hidden layer: first its baseline, logistic
    regression (no hidden layer: ``hidden_units`` 0, 2000 iterations at 0.5 from zeros, as the
    course), then ``nn_model`` for each size, initialisation and learning rate, every one of
    them in one compiled program (:func:`~jaxdnn.fit_many`, padded to the widest size).
    ``seeds`` initialisations: numpy seeds 2, 3, ... (2 is the course's); ``learning_rates``:
    default the course's 1.2. Each model is trained and scored on all the data, as the course
    does. Writes ``sweep.json`` (a row per model; accuracy None for a diverged one) and, with
    ``figures``, ``sweep.png`` (the decision boundaries at the course's seed and the first
    rate, each titled with its accuracy) and ``sweep_accuracy.png`` (:func:`summarise_sweep`
    with error bars) into ``out``. Returns the rows and the files' names."""
    check.iterations(num_iterations)
    if not isinstance(hidden_sizes, (list, tuple)) or not hidden_sizes:
        raise OptionError(f"hidden_sizes must be a non-empty list of sizes; got {hidden_sizes!r}")
    sizes = [check.hidden_units(n_h) for n_h in hidden_sizes]
    if check.count(seeds, "seeds") < 1:
        raise OptionError("seeds must be at least 1")
    course = COURSE_MODELS["nn_model"]
    rates = list(dict.fromkeys(learning_rates or [course.learning_rate]))  # each rate once
    for rate in rates:
        check.rate(rate)
    limits.stacked(len(sizes) * seeds * len(rates), [2, max(sizes), 1],
                  "models (hidden sizes x seeds x learning rates)")
    X, Y = data.load_planar_dataset()
    Y = Y.astype(np.float64)
    w, b = logistic.initialize_with_zeros(X.shape[0])
    baseline = logistic.optimize(w, b, X, Y, num_iterations=2000, learning_rate=0.5)[0]
    predict_baseline = partial(logistic.predict, baseline["w"], baseline["b"])
    rows = [{"hidden_units": 0, "accuracy": accuracy(np.asarray(predict_baseline(X)), Y)}]
    grid = [(n_h, rate, seed) for n_h in sizes for rate in rates
            for seed in range(course.seed, course.seed + seeds)]
    stack = stack_models([initial_parameters([X.shape[0], n_h, 1], "course", seed,
                                             course.scheme) for n_h, _, seed in grid])
    trained, _, diverged = fit_many(X, Y, stack, hidden_activation=course.hidden_activation,
                                    learning_rate=[rate for _, rate, _ in grid],
                                    num_iterations=num_iterations)
    labels = predict_labels_many(X, trained, course.hidden_activation)
    for k, (n_h, rate, seed) in enumerate(grid):
        rows.append({"hidden_units": n_h, "learning_rate": rate, "seed": seed,
                     "accuracy": None if diverged[k] >= 0
                     else prediction.fraction_equal(labels[k], Y)})

    def titled(title, row):
        shown = "diverged" if row["accuracy"] is None else f"accuracy {row['accuracy'] * 100:.1f} %"
        return f"{title}\n{shown} (all {X.shape[1]} points)"

    panels = [(titled("logistic regression", rows[0]), predict_baseline)] + [
        (titled(f"hidden layer of size {n_h}", row),
         partial(predict_labels, parameters=params, hidden_activation=course.hidden_activation))
        for (n_h, rate, seed), params, row in zip(grid, unstack_models(trained), rows[1:],
                                                  strict=True)
        if rate == rates[0] and seed == course.seed]
    files = {"sweep.json": lambda f: f.write(json.dumps(rows, indent=2).encode())}
    if _drawable(figures):
        files["sweep.png"] = lambda f: plots.plot_decision_boundaries(panels, X, Y, f)
        files["sweep_accuracy.png"] = lambda f: plots.plot_sweep(summarise_sweep(rows),
                                                                 rows[0]["accuracy"], f)
    write_files(out, files)
    return rows, list(files)


def summarise_sweep(rows):
    """Per (hidden units, learning rate) of :func:`sweep`'s rows (the baseline left out): how
    many models, how many diverged, and the accuracy's mean and standard deviation over the
    seeds that did not."""
    groups = {}
    for row in rows[1:]:
        groups.setdefault((row["hidden_units"], row["learning_rate"]), []).append(row["accuracy"])
    summary = []
    for (n_h, rate), accuracies in groups.items():
        done = [a for a in accuracies if a is not None]
        summary.append({"hidden_units": n_h, "learning_rate": rate, "runs": len(accuracies),
                        "diverged": len(accuracies) - len(done),
                        "accuracy": {"mean": float(np.mean(done)), "std": float(np.std(done))}
                        if done else None})
    return summary


class Comparison(NamedTuple):
    """One training run of :func:`compare`."""

    learning_rate: float
    activation: str
    seed: int
    costs: np.ndarray  # every iteration's cost; NaN after a divergence
    train_accuracy: float | None  # None if it diverged
    test_accuracy: float | None


def compare(activations, seeds, learning_rates=None, *, dataset="cat", data_dir="datasets",
            hidden=None, iterations=None, leaky_slope=0.1, report=None):
    """Seed 004's activation study, asked over many seeds: the same network trained with each
    hidden activation, from the course's initialisation under each numpy seed, at each learning
    rate, in float64 (seed 1 is the seed's own run). Defaults: :data:`COURSE_MODELS`'s
    ``"activation_study"`` ([n0, 5, 5, 1], learning rate 0.03, 3000 iterations); ``leaky_relu``
    has the study's slope 0.1. ``report(run)`` after each. Returns the list of
    :class:`Comparison` runs; a diverged run keeps its costs up to the divergence.
    """
    jax.config.update("jax_enable_x64", True)
    study = COURSE_MODELS["activation_study"]
    if iterations is not None and check.iterations(iterations, "iterations") < 1:
        raise OptionError("iterations must be at least 1")
    train_x, train_y, test_x, test_y, _ = data.load_split(dataset, data_dir)
    dims = [train_x.shape[0], *(hidden or study.hidden), 1]
    iterations = study.num_iterations if iterations is None else iterations
    pairs = {name: leaky_relu_with(leaky_slope) if name == "leaky_relu" else name
             for name in activations}
    runs = []
    for learning_rate in learning_rates or [study.learning_rate]:
        for name, activation in pairs.items():
            for seed in seeds:
                params = initial_parameters(dims, "course", seed, study.scheme, "float64")
                try:
                    params, costs = fit(train_x, train_y, params, hidden_activation=activation,
                                        learning_rate=learning_rate, num_iterations=iterations,
                                        donate=True)
                    accuracies = [prediction.fraction_equal(predict_labels(X, params,
                                                                          activation), Y)
                                  for X, Y in ((train_x, train_y), (test_x, test_y))]
                except TrainingDiverged as e:
                    costs = np.full(iterations, np.nan)
                    costs[:len(e.costs)] = e.costs
                    accuracies = [None, None]
                runs.append(Comparison(learning_rate, name, seed, costs, *accuracies))
                if report:
                    report(runs[-1])
    return runs


def summarise(runs):
    """Per (learning rate, activation): the runs' accuracies and final costs as mean and
    standard deviation, how many diverged, and how often the cost rose between two reports
    (every 100 iterations: the study's sign of a chaotic run)."""
    groups = {}
    for run in runs:
        groups.setdefault((run.learning_rate, run.activation), []).append(run)
    rows = []
    for (learning_rate, activation), group in groups.items():
        done = [run for run in group if run.test_accuracy is not None]

        def spread(values):
            return ({"mean": float(np.mean(values)), "std": float(np.std(values))}
                    if values else None)

        rises = [int(np.sum(np.diff(run.costs[99::100]) > 0)) for run in done]
        rows.append({"learning_rate": learning_rate, "activation": activation,
                     "runs": len(group), "diverged": len(group) - len(done),
                     "train_accuracy": spread([run.train_accuracy for run in done]),
                     "test_accuracy": spread([run.test_accuracy for run in done]),
                     "final_cost": spread([float(run.costs[-1]) for run in done]),
                     "cost_rises": spread(rises)})
    return rows


def write_comparison(runs, out):
    """``compare.json`` (every run's accuracies and reported costs, and :func:`summarise`) and
    ``compare.png`` into ``out``; returns their names."""
    rows = [{"learning_rate": run.learning_rate, "activation": run.activation,
             "seed": run.seed, "train_accuracy": run.train_accuracy,
             "test_accuracy": run.test_accuracy,
             "costs_every_100": [None if np.isnan(c) else float(c) for c in run.costs[::100]]}
            for run in runs]
    files = {"compare.json": lambda f: f.write(json.dumps(
                 {"summary": summarise(runs), "runs": rows}, indent=2).encode()),
             "compare.png": lambda f: plots.plot_comparison(runs, f)}
    write_files(out, files)
    return list(files)
