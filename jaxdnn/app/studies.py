"""The course's studies, asked over many models: the planar model's hidden layer size
(``jaxdnn sweep``, one program for every model) and the hidden activation of the cat model
(``jaxdnn compare``)."""

import json
from functools import partial
from typing import NamedTuple

import numpy as np

from ..core import checks as check
from ..core import limits, numeric
from ..core import predict as prediction
from ..core.activations import leaky_relu_with
from ..core.predict import accuracy, predict_labels
from ..course import logistic
from ..course.models import COURSE_MODELS, initial_parameters
from ..errors import OptionError, TrainingDiverged
from ..io import datasets as data
from ..io.files import check_targets, write_files
from ..train import driver
from ..train.fit import fit
from ..train.stack import fit_many, predict_labels_many, stack_models, unstack_models
from . import plots
from .outputs import drawable

PLANAR_POINTS = 400
"""The planar data set's examples, on which every model of :func:`sweep` trains."""
SWEEP_FILES = ("sweep.json", "sweep.png", "sweep_accuracy.png")
"""What :func:`sweep` writes (the figures when drawn)."""
COMPARE_FILES = ("compare.json", "compare.png")
"""What :func:`write_comparison` writes."""


def sweep(hidden_sizes, num_iterations, out, *, seeds=1, learning_rates=None, figures=True,
          on_cost=None):
    """The course's study of the planar model's hidden layer: first its baseline, logistic
    regression (no hidden layer: ``hidden_units`` 0, 2000 iterations at 0.5 from zeros, as the
    course), then ``nn_model`` for each size, initialisation and learning rate, every one of
    them in one compiled program (:func:`~jaxdnn.fit_many`, padded to the widest size).
    ``seeds`` initialisations: numpy seeds 2, 3, ... (2 is the course's); ``learning_rates``:
    default the course's 1.2. Each model is trained and scored on all the data, as the course
    does. Writes ``sweep.json`` (a row per model; accuracy None for a diverged one) and, with
    ``figures``, ``sweep.png`` (the decision boundaries at the course's seed and the first
    rate, each titled with its accuracy) and ``sweep_accuracy.png`` (:func:`summarise_sweep`
    with error bars) into ``out``, which is checked before anything is trained. ``on_cost(i,
    costs)`` hears every 100th iteration (each model's cost, as :func:`~jaxdnn.fit_many`).
    Returns the rows and the files' names."""
    course = COURSE_MODELS["nn_model"]
    sizes, rates = _grid(hidden_sizes, num_iterations, seeds,
                         learning_rates or [course.learning_rate])
    check_targets(out, SWEEP_FILES, OptionError)
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
                                    num_iterations=num_iterations, on_cost=on_cost)
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
    files = {SWEEP_FILES[0]: lambda f: f.write(json.dumps(rows, indent=2).encode())}
    if drawable(figures):
        files[SWEEP_FILES[1]] = lambda f: plots.plot_decision_boundaries(panels, X, Y, f)
        files[SWEEP_FILES[2]] = lambda f: plots.plot_sweep(summarise_sweep(rows),
                                                                 rows[0]["accuracy"], f)
    write_files(out, files)
    return rows, list(files)


def _grid(hidden_sizes, num_iterations, seeds, learning_rates):
    """:func:`sweep`'s checked sizes and rates, each once (a size given twice would train the
    same model twice and report it as two)."""
    numeric.iterations(num_iterations)
    if not isinstance(hidden_sizes, (list, tuple)) or not hidden_sizes:
        raise OptionError(f"hidden_sizes must be a non-empty list of sizes; got {hidden_sizes!r}")
    sizes = list(dict.fromkeys(check.hidden_units(n_h) for n_h in hidden_sizes))  # each once
    if numeric.count(seeds, "seeds") < 1:
        raise OptionError("seeds must be at least 1")
    rates = list(dict.fromkeys(learning_rates))  # each rate once
    for rate in rates:
        numeric.rate(rate)
    models = len(sizes) * seeds * len(rates)
    if models > limits.MAX_STUDY_MODELS:
        raise OptionError(f"{models:,} models (hidden sizes x seeds x learning rates) are above "
                          f"the limit of {limits.MAX_STUDY_MODELS:,} (MAX_STUDY_MODELS)")
    limits.stacked(models, [2, max(sizes), 1], "models (hidden sizes x seeds x learning rates)")
    driver.costs_fit(num_iterations, 0, models)  # before the baseline is trained
    work = models * num_iterations * limits.parameter_count([2, max(sizes), 1]) * PLANAR_POINTS
    if work > limits.MAX_STUDY_OPERATIONS:
        raise OptionError(f"{models:,} models (hidden sizes x seeds x learning rates) of "
                          f"{num_iterations:,} iterations take about {work:.1e} multiply-adds, "
                          f"above the limit of {limits.MAX_STUDY_OPERATIONS:.1e} "
                          f"(MAX_STUDY_OPERATIONS): fewer models or iterations")
    return sizes, rates


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
    """The activation study of the course's cat model, asked over many seeds: the same network
    trained with each hidden activation, from the course's initialisation under each numpy
    seed, at each learning rate, in float64 (needs x64; seed 1 is the study's own run).
    Defaults: :data:`COURSE_MODELS`'s ``"activation_study"`` ([n0, 5, 5, 1], learning rate
    0.03, 3000 iterations); ``leaky_relu`` has the study's slope 0.1. ``report(run)`` after
    each. Returns the list of
    :class:`Comparison` runs; a diverged run keeps its costs up to the divergence.
    """
    check.x64(np.dtype("float64"), "the study's parameters")
    study = COURSE_MODELS["activation_study"]
    if iterations is not None and numeric.iterations(iterations, "iterations") < 1:
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
    files = {COMPARE_FILES[0]: lambda f: f.write(json.dumps(
                 {"summary": summarise(runs), "runs": rows}, indent=2).encode()),
             COMPARE_FILES[1]: lambda f: plots.plot_comparison(runs, f)}
    write_files(out, files)
    return list(files)
