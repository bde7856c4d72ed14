"""jaxdnn: L-layer fully-connected networks in JAX with a hand-written, autodiff-verified backward.

The public names follow the course's "deep neural network step by step" chain; every function is
pure and works under ``jax.jit`` (activation names are static arguments).
"""

import sys as _sys
from importlib.metadata import version as _version

from .core.activations import (
    ACTIVATIONS,
    LEAKY_RELU_SLOPE,
    Activation,
    custom_activation,
    get_activation,
    leaky_relu,
    leaky_relu_backward,
    leaky_relu_with,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    tanh,
    tanh_backward,
)
from .core.init import SCHEMES, initialize_parameters, initialize_parameters_deep
from .core.layers import (
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
)
from .core.network import (
    L_model_backward,
    L_model_forward,
    compute_cost,
    compute_cost_from_logits,
    compute_cost_with_regularization,
    cost_and_grads,
    network_cost,
    update_parameters,
)
from .core.outputs import OUTPUTS, Output, get_output
from .core.predict import accuracy, predict, predict_labels, predict_proba

# The course's other assignments, as namespaces ("as" marks them re-exported).
from .course import basics as basics
from .course import logistic as logistic
from .course import planar as planar
from .course.models import COURSE_MODELS, L_layer_model, nn_model, two_layer_model
from .errors import (
    DataError,
    InputTypeError,
    JaxdnnError,
    NameLookupError,
    NumericalOverflow,
    OptionError,
    SaturationError,
    ShapeError,
    TrainingDiverged,
)
from .io.cat import flatten_images, load_cat_data, load_data
from .io.datasets import DATASETS, load_dataset, load_digits, load_planar_dataset
from .io.examples import H5Examples
from .io.models import load_model, save_model
from .train.batches import epoch_costs, random_mini_batches
from .train.fit import fit, train_steps
from .train.mesh import data_mesh, local_columns
from .train.stack import ModelStack, fit_many, predict_labels_many, stack_models, unstack_models
from .train.state import TrainState, init_train_state, load_checkpoint, save_checkpoint
from .train.stream import fit_stream
from .verify.gradcheck import (
    GRADIENT_CHECK_THRESHOLD,
    autodiff_errors,
    autodiff_gradients,
    finite_difference_gradients,
    gradient_check,
    relative_error,
    transpose_errors,
)

__version__ = _version("jaxdnn")

for _name, _module in (("basics", basics), ("logistic", logistic), ("planar", planar)):
    _sys.modules[f"{__name__}.{_name}"] = _module  # ``import jaxdnn.planar`` keeps working

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "COURSE_MODELS",
    "DATASETS",
    "DataError",
    "GRADIENT_CHECK_THRESHOLD",
    "H5Examples",
    "InputTypeError",
    "JaxdnnError",
    "LEAKY_RELU_SLOPE",
    "L_layer_model",
    "L_model_backward",
    "L_model_forward",
    "ModelStack",
    "NameLookupError",
    "OUTPUTS",
    "NumericalOverflow",
    "OptionError",
    "Output",
    "SCHEMES",
    "SaturationError",
    "ShapeError",
    "TrainState",
    "TrainingDiverged",
    "accuracy",
    "autodiff_errors",
    "autodiff_gradients",
    "compute_cost",
    "compute_cost_from_logits",
    "compute_cost_with_regularization",
    "cost_and_grads",
    "data_mesh",
    "epoch_costs",
    "finite_difference_gradients",
    "fit",
    "fit_many",
    "fit_stream",
    "flatten_images",
    "custom_activation",
    "get_activation",
    "get_output",
    "gradient_check",
    "init_train_state",
    "initialize_parameters",
    "initialize_parameters_deep",
    "leaky_relu",
    "leaky_relu_backward",
    "leaky_relu_with",
    "linear_activation_backward",
    "linear_activation_forward",
    "linear_backward",
    "linear_forward",
    "load_cat_data",
    "load_checkpoint",
    "local_columns",
    "load_data",
    "load_dataset",
    "load_digits",
    "load_model",
    "load_planar_dataset",
    "network_cost",
    "nn_model",
    "predict",
    "predict_labels",
    "predict_labels_many",
    "predict_proba",
    "random_mini_batches",
    "relative_error",
    "relu",
    "relu_backward",
    "save_checkpoint",
    "save_model",
    "sigmoid",
    "sigmoid_backward",
    "stack_models",
    "tanh",
    "tanh_backward",
    "train_steps",
    "transpose_errors",
    "two_layer_model",
    "unstack_models",
    "update_parameters",
]
