"""Prediction: the network's probabilities, its labels, and the accuracy of labels.

Labels follow the output layer (:mod:`jaxdnn.core.outputs`): 0/1 of shape (n[L], m) for the
course's sigmoid, 1 where the probability is above 0.5; class ids (1, m) for a softmax.
"""

from functools import partial

import jax
import numpy as np

from . import checks as check
from . import kernels, layout, numeric
from .network import layer_activations
from .outputs import get_output


@partial(jax.jit, static_argnames="activations")
def _probabilities(X, layers, activations):
    AL, caches = kernels.forward(X, layers, activations)
    return AL, caches[-1][1]


def predict_proba(X, parameters, hidden_activation="relu", *, output="sigmoid"):
    """The network's output probabilities AL, (n[L], m)."""
    layers = check.network(X, parameters)
    check.finite(X, "X")
    check.finite_parameters(parameters)
    return layer_probabilities(X, layers, hidden_activation, output)


def layer_probabilities(X, layers, hidden_activation, output):
    """:func:`predict_proba` of checked ``layers`` (:mod:`jaxdnn.core.layout`)."""
    activations = layer_activations(hidden_activation, len(layers), output)
    check.outputs(layers, activations[-1])
    AL, ZL = _probabilities(layout.device_array(X, layers[0][0].dtype), layers, activations)
    check.finite(ZL, f"Z{len(layers)}")  # finite inputs can still overflow on the way
    return AL


def predict_labels(X, parameters, hidden_activation="relu", *, output="sigmoid"):
    """The predicted labels: for a sigmoid, 0/1 (n[L], m), 1 where the output probability is
    above 0.5, as the course; for a softmax, the class ids (1, m) of the largest probability."""
    return labels(predict_proba(X, parameters, hidden_activation, output=output), output)


def labels(AL, output):
    """The output layer's labels of the probabilities AL, as a numpy int64 array."""
    return get_output(output).labels(np.asarray(AL)).astype(np.int64)  # numpy: no program


def accuracy(p, y, num_classes=2):
    """Fraction of predictions equal to the labels (count / m); both are class ids (0 or 1 by
    default, 0..num_classes-1 otherwise) of one shape."""
    K = numeric.count(num_classes, "num_classes")
    check.class_ids(p, "p", K)
    check.class_ids(y, "y", K)
    check.same_shape(y, p, "y", "p")
    return fraction_equal(p, y)


def fraction_equal(p, y):
    """The fraction of entries where ``p`` and ``y`` (checked, of one shape) are equal."""
    return float(np.mean(np.asarray(p) == np.asarray(y)))


def predict(X, y, parameters, hidden_activation="relu", *, output="sigmoid"):
    """Print ``Accuracy: ...`` for the predicted labels on (X, y) and return it; y as
    :func:`fit` takes it."""
    layers, Y = check.problem(X, y, parameters, get_output(output), "y")
    predicted = labels(layer_probabilities(X, layers, hidden_activation, output), output)
    result = fraction_equal(predicted, _class_ids(Y, output))
    print("Accuracy: " + str(result))
    return result


def _class_ids(Y, output):
    """Labels as :func:`predict_labels` gives them: one-hot columns become class ids."""
    return np.argmax(np.asarray(Y), axis=0)[None] if get_output(output).one_hot else Y
