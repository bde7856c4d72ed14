"""The course's models, and the one table of their settings.

:data:`COURSE_MODELS` holds, for each model, what the course trains it with: hidden sizes,
activation, learning rate, iterations and its initialisation (numpy's legacy
``np.random.seed(seed)``, then ``randn`` scaled by a :data:`~jaxdnn.SCHEMES` entry). The
functions' defaults and the ``jaxdnn`` command's defaults both come from it.
"""

from typing import NamedTuple

import jax

from ..core import checks as check
from ..core import numeric
from ..core.init import initialize_parameters_deep
from ..errors import ShapeError
from ..train.config import DEFAULT_ITERATIONS
from ..train.fit import fit
from ..train.reports import cost_printer


class CourseModel(NamedTuple):
    """A course model's settings (``num_iterations``: what the course's notebook runs)."""

    hidden: tuple
    hidden_activation: str
    learning_rate: float
    num_iterations: int
    scheme: str
    seed: int


COURSE_MODELS = {
    "L_layer_model": CourseModel((20, 7, 5), "relu", 0.0075, 2500, "scaled", 1),
    "two_layer_model": CourseModel((7,), "relu", 0.0075, 2500, "small", 1),
    "nn_model": CourseModel((4,), "tanh", 1.2, 10000, "small", 2),
    # Not the course's: its planar network with a softmax output (jaxdnn train --output
    # softmax). With six classes the course's rate 1.2 oscillates; 0.5 converges.
    "softmax": CourseModel((4,), "tanh", 0.5, 10000, "small", 2),
    # The course's activation study on the cat data (its hidden activation varies; its leaky ReLU
    # has slope 0.1): jaxdnn compare.
    "activation_study": CourseModel((5, 5), "relu", 0.03, 3000, "small", 1),
}
"""The course's settings per model, by name: hidden layer sizes, hidden activation, learning rate,
iterations, initialisation scheme and numpy seed (the defaults of the course models and of
``jaxdnn train``)."""
_DEEP, _TWO, _PLANAR = (COURSE_MODELS[name] for name in ("L_layer_model", "two_layer_model",
                                                        "nn_model"))


def initial_parameters(layer_dims, init, seed, course_scheme, dtype=None):
    """``init="course"``: the course's draw (numpy seed, ``course_scheme``'s scale); a scheme
    name: that scheme from ``jax.random.PRNGKey(seed)``."""
    numeric.count(seed, "seed")
    if init == "course":
        return initialize_parameters_deep(layer_dims, scheme=course_scheme, numpy_seed=seed,
                                          dtype=dtype)
    return initialize_parameters_deep(layer_dims, jax.random.PRNGKey(seed), scheme=init,
                                      dtype=dtype)


def L_layer_model(X, Y, layers_dims, learning_rate=_DEEP.learning_rate,
                  num_iterations=DEFAULT_ITERATIONS, print_cost=False, *,
                  hidden_activation=_DEEP.hidden_activation, init="course",
                  seed=_DEEP.seed, dtype=None, optimizer=None, gram="auto", lambd=0.0):
    """The course's L-layer model: ``[LINEAR -> RELU] * (L-1) -> LINEAR -> SIGMOID``.

    Args:
      X: (n[0], m) inputs; Y: (1, m) labels.
      layers_dims: ``[n[0], n[1], ..., n[L]]``.
      init: ``"course"`` draws as the course does (``np.random.seed(seed)``,
        ``randn / sqrt(n[l-1])``); a scheme name (``"small"``, ``"scaled"``, ``"he"``) draws
        from ``jax.random.PRNGKey(seed)``.
      dtype: training dtype (default float32, or float64 under x64).
      optimizer, gram, lambd: as :func:`~jaxdnn.fit` (the Gram path is chosen automatically
        for image data without L2).

    Returns:
      ``(parameters, costs)``.
    """
    parameters = initial_parameters(layers_dims, init, seed, _DEEP.scheme, dtype)
    parameters, costs = fit(X, Y, parameters, hidden_activation=hidden_activation,
                            learning_rate=learning_rate, optimizer=optimizer,
                            num_iterations=numeric.count(num_iterations, "num_iterations"),
                            gram=gram, lambd=lambd, print_cost=print_cost, donate=True)
    return parameters, costs


def two_layer_model(X, Y, layers_dims, learning_rate=_TWO.learning_rate,
                    num_iterations=DEFAULT_ITERATIONS, print_cost=False, *,
                    hidden_activation=_TWO.hidden_activation, init="course",
                    seed=_TWO.seed, dtype=None, optimizer=None, gram="auto", lambd=0.0):
    """The course's two-layer model ``LINEAR -> RELU -> LINEAR -> SIGMOID``.

    ``layers_dims = (n_x, n_h, n_y)``; ``init="course"`` draws ``randn * 0.01`` after
    ``np.random.seed(seed)``, as the course. Prints the cost with full precision, as the course.
    """
    if not hasattr(layers_dims, "__len__") or len(layers_dims) != 3:
        raise ShapeError(f"layers_dims must be (n_x, n_h, n_y); got {layers_dims!r}")
    parameters = initial_parameters(layers_dims, init, seed, _TWO.scheme, dtype)
    parameters, costs = fit(X, Y, parameters, hidden_activation=hidden_activation,
                            learning_rate=learning_rate, optimizer=optimizer,
                            num_iterations=numeric.count(num_iterations, "num_iterations"),
                            gram=gram, lambd=lambd, donate=True,
                            on_cost=cost_printer("Cost after iteration {}: {}")
                            if print_cost else None)
    return parameters, costs


def nn_model(X, Y, n_h, num_iterations=_PLANAR.num_iterations, print_cost=False, *,
             learning_rate=_PLANAR.learning_rate, hidden_activation=_PLANAR.hidden_activation,
             init="course", seed=_PLANAR.seed, dtype=None, optimizer=None, gram="auto",
             lambd=0.0):
    """The course's planar classifier: one hidden layer of ``n_h`` tanh units.

    ``init="course"`` draws as the planar assignment (``np.random.seed(2)``, ``randn * 0.01``).
    """
    check.hidden_units(n_h)
    layers_dims = [check.array(X, "X")[0], n_h, check.array(Y, "Y")[0]]
    parameters = initial_parameters(layers_dims, init, seed, _PLANAR.scheme, dtype)
    parameters, costs = fit(X, Y, parameters, hidden_activation=hidden_activation,
                            learning_rate=learning_rate, optimizer=optimizer,
                            num_iterations=numeric.count(num_iterations, "num_iterations"),
                            gram=gram, lambd=lambd, print_cost=print_cost, donate=True)
    return parameters, costs
