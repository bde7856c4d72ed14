"""Model files read for use: their parameters, how they compute, their classes; and their
accuracy on the data they were trained on (``jaxdnn evaluate``)."""

from typing import NamedTuple

from ..core import checks as check
from ..core.activations import ACTIVATIONS
from ..core.outputs import get_output
from ..core.predict import accuracy, predict_labels
from ..errors import OptionError
from ..io import datasets
from ..io.models import load_model


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
    sigmoid model must have one output unit. A float64 model needs jax's x64 mode (the
    command turns it on for one, :func:`dtype`)."""
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
    check.x64(params["W1"].dtype, f"{path}'s parameters")
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
    train_x, train_y, test_x, test_y, _ = datasets.load_split(
        dataset, data_dir, m.meta.get("data_seed"), multiclass=get_output(m.output).one_hot)
    if train_x.shape[0] != m.parameters["W1"].shape[1]:
        raise OptionError(f"{model} expects {m.parameters['W1'].shape[1]} input features but "
                          f"data set {dataset!r} has {train_x.shape[0]}")
    return {split: accuracy(predict_labels(X, m.parameters, m.hidden_activation,
                                           output=m.output), Y, num_classes=len(m.classes))
            for split, X, Y in (("train", train_x, train_y), ("test", test_x, test_y))}


def dtype(path):
    """The dtype of a model file's (or checkpoint's) parameters, read without making a jax
    array: what the command needs to know before it decides on x64."""
    return str(load_model(path)[0]["W1"].dtype)
