"""What a finished ``jaxdnn train`` run writes: ``model.npz``, ``metrics.json`` and its figures,
all or none (:func:`~jaxdnn.io.files.write_files`)."""

import json
import os
import sys

import jax
import numpy as np

from ..core import checks as check
from ..core import layout
from ..core import predict as prediction
from ..io import datasets
from ..io.files import write_files
from ..io.models import write_model
from . import plots

FILES = ("model.npz", "metrics.json", "costs.png", "learning_curves.png", "mislabeled.png",
         "decision_boundary.png")
"""Every file :func:`write_run` may write (the figures depend on the run)."""
CURVES = ("training set", "test set", "validation set")
"""The learning curves' sets, in the order a run monitors them."""


def drawable(figures):
    """Whether to draw the figures: asked for, and pyplot imported (a matplotlib that fails to
    import gets a note, and the other outputs are still written)."""
    failure = plots.import_failure() if figures else None
    if failure is not None:
        print(plots.skipped(failure), file=sys.stderr)
    return figures and failure is None


def write_run(out, settings, params, costs, curves, split, figures, path, hidden, early=None,
              data_dir=None):
    """Write the run's outputs into ``out``; returns its metrics with the files' names.
    ``curves``: (epochs, sets) costs of :data:`CURVES`' sets; ``early``: early stopping's
    ``{"best_epoch", "stopped_epoch"}``, or None; ``data_dir``: the folder its data was read
    from, recorded (as an absolute path) for ``jaxdnn evaluate``."""
    train_x, train_y, test_x, test_y, classes = split
    layers = check.parameters(params)

    def predict(X):
        return prediction.labels(prediction.layer_probabilities(X, layers, hidden,
                                                                settings.output),
                                 settings.output)

    m = train_x.shape[1]  # one program for both sets
    p_train, p_test = np.split(predict(np.concatenate([train_x, test_x], axis=1)), [m], axis=1)
    metrics = _metrics(settings, layers, costs, path, classes, p_train, train_y, p_test, test_y,
                       early)
    if data_dir is not None:
        metrics["data_dir"] = os.path.abspath(data_dir)
    meta = {k: metrics[k] for k in ("dataset", "hidden_activation", "output", "learning_rate",
                                    "iterations", "init", "seed", "data_seed", "optimizer",
                                    "classes", "data_dir") if k in metrics}
    files = {"model.npz": lambda f: write_model(f, params, meta),
             "metrics.json": lambda f: f.write(json.dumps(metrics, indent=2).encode() + b"\n")}
    if drawable(figures):
        files.update(_figures(settings, metrics, costs, curves, split, predict, p_test))
    write_files(out, files)
    return dict(metrics, files=list(files))


def _metrics(settings, layers, costs, path, classes, p_train, train_y, p_test, test_y, early):
    confusion = np.zeros((len(classes), len(classes)), int)  # rows: true class, columns: predicted
    np.add.at(confusion, (test_y[0].astype(int), p_test[0]), 1)
    training = settings.training
    return {"dataset": settings.dataset, "layer_dims": layout.layer_dims(layers),
            "hidden_activation": settings.hidden_activation, "output": settings.output,
            "learning_rate": training["learning_rate"], "l2": training.get("lambd", 0.0),
            "keep_prob": training.get("keep_prob", 1.0),
            "mini_batch_size": training.get("mini_batch_size"),
            "iterations": settings.iterations, "init": settings.init, "seed": settings.seed,
            "data_seed": settings.data_seed, "optimizer": settings.optimizer,
            "dtype": settings.dtype, "training": training, "path": path, "classes": classes,
            "devices": len(layers[0][0].devices()) if isinstance(layers[0][0], jax.Array) else 1,
            "train_accuracy": prediction.fraction_equal(p_train, train_y),
            "test_accuracy": prediction.fraction_equal(p_test, test_y),
            "test_accuracy_per_class": [float(row[k] / max(row.sum(), 1))
                                        for k, row in enumerate(confusion)],
            "test_confusion_matrix": confusion.tolist(),
            "initial_cost": float(costs[0]) if len(costs) else None,
            "final_cost": float(costs[-1]) if len(costs) else None,
            **(early or {})}


def _figures(settings, metrics, costs, curves, split, predict, p_test):
    train_x, train_y, test_x, test_y, classes = split
    trained = (f"{settings.dataset}: hidden {settings.hidden_activation} {settings.hidden}, "
               f"{settings.output}")
    accuracies = (f"train accuracy {metrics['train_accuracy']:.3f}, test "
                  f"{metrics['test_accuracy']:.3f}")
    files = {}
    if len(costs):  # no cost plot of no iterations
        files["costs.png"] = lambda f: plots.plot_costs(
            costs, f, f"{trained}\n{settings.optimizer}, learning rate {metrics['learning_rate']}"
                      f", {settings.dtype}; final cost {costs[-1]:.4g}", unit=settings.unit)
    if len(curves):
        files["learning_curves.png"] = lambda f: plots.plot_learning_curves(
            curves, f, f"{settings.dataset}: hidden {settings.hidden}, batches of "
                       f"{metrics['mini_batch_size'] or 'all'}, L2 {metrics['l2']}, keep_prob "
                       f"{metrics['keep_prob']}", CURVES[:curves.shape[1]],
            metrics.get("best_epoch"))
    if settings.dataset in datasets.IMAGES:
        wrong = np.flatnonzero(p_test[0] != test_y[0])
        px = int(np.sqrt(test_x.shape[0] // 3))
        images = test_x.T.reshape(-1, px, px, 3)[wrong]  # as stored, scaled to [0, 1]
        files["mislabeled.png"] = lambda f: plots.plot_mislabeled(
            images, p_test[0, wrong], test_y[0, wrong].astype(int), classes, f)
    elif settings.dataset in datasets.DATASETS:  # the 2-D sets
        files["decision_boundary.png"] = lambda f: plots.plot_decision_boundary(
            predict, train_x, train_y, f, f"{trained}\n{accuracies}",
            num_classes=len(classes), test=(test_x, test_y), classes=classes)
    return files
