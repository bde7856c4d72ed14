"""Model files read for use: their parameters, how they compute, their classes; their
accuracy on the data they were trained on (``jaxdnn evaluate``), and the inputs ``jaxdnn
predict`` reads for them (images, or rows of features)."""

import os
from typing import NamedTuple

import numpy as np

from ..core import checks as check
from ..core.activations import ACTIVATIONS, Activation
from ..core.outputs import get_output
from ..core.predict import accuracy, predict_labels
from ..errors import DataError, OptionError
from ..io import datasets
from ..io.files import regular_file
from ..io.images import load_image
from ..io.models import load_model

ROWS = (".csv", ".npy")
"""The files ``jaxdnn predict`` reads as rows of features (one example per row)."""


class Model(NamedTuple):
    """A model file read for use: its parameters, how it computes, and its class names."""

    parameters: dict
    hidden_activation: str
    output: str
    classes: list
    meta: dict


def load(path, activation=None):
    """The model file ``path`` (:func:`~jaxdnn.load_model`; a checkpoint of ``jaxdnn train``
    too) with the defaults of files written before an option existed (ReLU, a sigmoid output,
    classes "class 0", "class 1", ...); a sigmoid model must have one output unit. A model
    trained with a user's ``module:object`` computes with ``activation``: that name and the
    :class:`~jaxdnn.Activation` the caller imported from there. A float64 model needs jax's x64
    mode (the command turns it on for one, :func:`dtype`)."""
    params, meta = load_model(path)
    run = meta.get("run")
    if isinstance(run, dict):  # a checkpoint: its run's settings
        meta = {k: run[k] for k in ("dataset", "hidden_activation", "output", "data_seed")
                if k in run} | {k: v for k, v in meta.items() if k != "run"}
    output = meta.get("output", "sigmoid")
    K = check.parameters(params)[-1][0].shape[0]
    if not get_output(output).one_hot and K != 1:
        raise OptionError(f"{path} has {K} sigmoid outputs; jaxdnn classifies with one sigmoid "
                          f"output or a softmax")
    classes = meta.get("classes")
    if not isinstance(classes, list) or len(classes) != max(K, 2) \
            or not all(isinstance(name, str) for name in classes):
        classes = [f"class {k}" for k in range(max(K, 2))]
    check.x64(params["W1"].dtype, f"{path}'s parameters")
    hidden = meta.get("hidden_activation", "relu")
    if activation is not None:
        spec, pair = activation
        if hidden != spec or not isinstance(pair, Activation):
            raise OptionError(f"{path} was trained with the hidden activation {hidden!r}, not "
                              f"--hidden-activation {spec}")
        return Model(params, pair, output, classes, meta)
    for name in hidden if isinstance(hidden, list) else [hidden]:
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise OptionError(f"{path} was trained with the activation {name!r}, which is not "
                              f"built in: name it with --hidden-activation MODULE:OBJECT (in "
                              f"Python: jaxdnn.load_model, and the same "
                              f"jaxdnn.custom_activation pair as hidden_activation)")
    return Model(params, hidden, output, classes, meta)


def evaluate(model, dataset=None, data_dir=None, activation=None):
    """``{"train": accuracy, "test": accuracy}`` of the model file ``model`` on the split of the
    data set it was trained on (or ``dataset``), in the dtype it was trained in, from the data
    folder it was trained with (or ``data_dir``; else ``datasets``); a softmax model's also
    ``"per_class"`` (the test accuracy of each class) and ``"confusion"`` (rows: true class)."""
    m = load(model, activation)
    dataset = dataset or m.meta.get("dataset")
    if dataset is None:
        raise OptionError(f"{model} does not record the data set it was trained on: name it "
                          f"with --dataset")
    data_dir = data_dir or m.meta.get("data_dir") or "datasets"
    train_x, train_y, test_x, test_y, _ = datasets.load_split(
        dataset, data_dir, m.meta.get("data_seed"), multiclass=get_output(m.output).one_hot)
    if train_x.shape[0] != m.parameters["W1"].shape[1]:
        raise OptionError(f"{model} expects {m.parameters['W1'].shape[1]} input features but "
                          f"data set {dataset!r} has {train_x.shape[0]}")

    def labels(X):
        return np.asarray(predict_labels(X, m.parameters, m.hidden_activation, output=m.output))

    result = {split: accuracy(labels(X), Y, num_classes=len(m.classes))
              for split, X, Y in (("train", train_x, train_y), ("test", test_x, test_y))}
    if get_output(m.output).one_hot:
        K = len(m.classes)
        confusion = np.zeros((K, K), int)
        np.add.at(confusion, (test_y[0].astype(int), labels(test_x)[0]), 1)
        result["per_class"] = [float(row[k] / max(row.sum(), 1))
                               for k, row in enumerate(confusion)]
        result["confusion"] = confusion.tolist()
    return result


def inputs(model, path):
    """The examples of the file ``path`` for ``model``, (features, examples): rows of features
    from a ``.csv`` (commas; a header line is skipped) or ``.npy`` file, else one image, for a
    model trained on images (RGB ``num_px`` x ``num_px``; 8 x 8 grey for digits)."""
    n_x = model.parameters["W1"].shape[1]
    if path.lower().endswith(ROWS):
        return _rows(path, n_x)
    num_px = int(round((n_x // 3) ** 0.5))
    if num_px * num_px * 3 == n_x:
        return load_image(path, num_px)
    if model.meta.get("dataset") == "digits" and n_x == 64:
        return load_image(path, 8).reshape(64, 3).mean(axis=1, keepdims=True)
    raise OptionError(f"{path}: the model was trained on {n_x} features, not on images: give "
                      f"a .csv or .npy file of rows of {n_x} features")


def _rows(path, n_x):
    regular_file(path, "file")
    try:
        if path.lower().endswith(".npy"):
            rows = np.load(path, allow_pickle=False)
        else:
            try:
                rows = np.loadtxt(path, delimiter=",", ndmin=2)
            except ValueError:
                rows = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)  # a header line
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a file of numbers ({str(e).splitlines()[0]})") from None
    rows = np.atleast_2d(rows)
    if rows.ndim != 2 or rows.shape[1] != n_x or not np.issubdtype(rows.dtype, np.number):
        hint = " (one example per row: transpose it)" if rows.ndim == 2 and \
            rows.shape[0] == n_x else ""
        raise DataError(f"{path}: rows of {n_x} features expected, got an array of shape "
                        f"{rows.shape}{hint}")
    if not np.isfinite(rows).all():
        raise DataError(f"{path}: a value that is not finite")
    return rows.astype(np.float64).T


def name(path):
    """A file name as it can be printed (undecodable bytes replaced)."""
    return os.fsencode(path).decode(errors="replace")


def dtype(path):
    """The dtype of a model file's (or checkpoint's) parameters, read without making a jax
    array: what the command needs to know before it decides on x64."""
    return str(load_model(path)[0]["W1"].dtype)
