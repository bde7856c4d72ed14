"""A scikit-learn style face of :func:`~jaxdnn.fit`: :class:`Classifier`, for users who keep
examples as rows and labels of any kind. The course's ``(features, examples)`` functions are
unchanged; this is a thin shell over them."""

import jax
import numpy as np

from ..core import checks as check
from ..core import predict as prediction
from ..core.init import initialize_parameters_deep
from ..errors import InputTypeError, OptionError, ShapeError
from .fit import fit

DEFAULTS = {"hidden_activation": "relu", "optimizer": "adam", "learning_rate": 0.01,
            "num_iterations": 1000}
"""The options a :class:`Classifier` trains with unless told otherwise: :func:`~jaxdnn.fit`'s
own, whose names it takes."""


class Classifier:
    """A fully-connected classifier: ``Classifier([20, 7]).fit(X, y).predict(X)``.

    ``hidden``: the hidden layers' sizes (``[]``: logistic regression), or ``layers_dims``,
    the course's ``[n[0], ..., n[L]]`` whose first and last sizes must then fit the data. ``X``
    is ``(examples, features)`` as in scikit-learn; ``y`` holds one label per example, of any
    kind (numbers, strings, booleans): two classes train a sigmoid output, more a softmax.
    ``seed``: of the initialisation (He's scheme, ``jax.random``); the other keywords are
    :func:`~jaxdnn.fit`'s options (``num_iterations``, ``learning_rate``, ``optimizer``,
    ``mini_batch_size``, ``lambd``, ``keep_prob``, ...), by default :data:`DEFAULTS`.

    After :meth:`fit`: ``classes_`` (the labels, sorted), ``parameters_`` (the course's dict),
    ``costs_`` and ``n_features_in_``.

    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
    >>> y = np.array(["no", "yes", "yes", "yes"] * 5)
    >>> model = Classifier([4], num_iterations=300, learning_rate=0.05).fit(X, y)
    >>> model.predict(X[:4]).tolist()
    ['no', 'yes', 'yes', 'yes']
    """

    def __init__(self, hidden=(), *, layers_dims=None, seed=0, **options):
        if layers_dims is not None and hidden:
            raise OptionError("give hidden sizes or layers_dims, not both")
        self.hidden = None if layers_dims is not None else _sizes(hidden, "hidden")
        self.layers_dims = None if layers_dims is None else _sizes(layers_dims, "layers_dims")
        self.seed, self.options = seed, {**DEFAULTS, **options}

    def fit(self, X, y):
        """Train on ``X`` (examples, features) and ``y`` (one label per example); returns the
        classifier."""
        X = _rows(X, "X")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != X.shape[0]:
            raise ShapeError(f"y must hold one label per example (row of X): shape "
                             f"({X.shape[0]},); got {y.shape}")
        self.classes_, ids = np.unique(y, return_inverse=True)
        K = len(self.classes_)
        if K < 2:
            raise OptionError(f"y holds one class ({self.classes_[0]!r}): a classifier needs "
                              f"two or more")
        outputs = 1 if K == 2 else K
        dims = self._dims(X.shape[1], outputs)
        params = initialize_parameters_deep(dims, jax.random.PRNGKey(self.seed), scheme="he")
        dtype = params["W1"].dtype
        self.output_ = "sigmoid" if K == 2 else "softmax"
        labels = ids.reshape(1, -1).astype(dtype if K == 2 else np.int32)
        self.parameters_, self.costs_ = fit(np.asarray(X.T, dtype), labels, params,
                                            output=self.output_, **self.options)
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        """``(examples, classes)``: each class's probability, in ``classes_``'s order."""
        P = np.asarray(prediction.predict_proba(self._columns(X), self.parameters_,
                                                self.options["hidden_activation"],
                                                output=self.output_))
        return (np.concatenate([1 - P, P]) if len(P) == 1 else P).T

    def predict(self, X):
        """One label per example (row of ``X``), among ``classes_``."""
        P = self.predict_proba(X)
        return self.classes_[P.argmax(axis=1)]

    def score(self, X, y):
        """The fraction of examples whose label :meth:`predict` gets right."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def _dims(self, features, outputs):
        if self.layers_dims is None:
            return check.layer_dims([features, *self.hidden, outputs])
        dims = check.layer_dims(self.layers_dims)
        if dims[0] != features or dims[-1] != outputs:
            raise ShapeError(f"layers_dims {dims} must start with the {features} features of X "
                             f"and end with {outputs} output unit{'s' if outputs > 1 else ''} "
                             f"(the classes of y)")
        return dims

    def _columns(self, X):
        if not hasattr(self, "parameters_"):
            raise OptionError("this Classifier is not trained yet: call fit(X, y) first")
        X = _rows(X, "X")
        if X.shape[1] != self.n_features_in_:
            hint = " (did you mean X.T?)" if X.shape[0] == self.n_features_in_ else ""
            raise ShapeError(f"X has shape {X.shape} but the classifier was fitted on "
                             f"{self.n_features_in_} features: one row per example{hint}")
        return np.asarray(X.T, self.parameters_["W1"].dtype)


def _rows(X, name):
    """``X`` as a 2-D float array of examples (rows) by features."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be an array of numbers, one row per example") from None
    if X.ndim != 2 or 0 in X.shape:
        raise ShapeError(f"{name} must be 2-D, one row per example and one column per feature; "
                         f"got shape {X.shape}")
    return X


def _sizes(sizes, name):
    """A list of the layer sizes (each checked with the network, by ``check.layer_dims``)."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise InputTypeError(f"{name} must be a list of layer sizes, e.g. [20, 7]; got "
                             f"{sizes!r}")
    return list(sizes)
