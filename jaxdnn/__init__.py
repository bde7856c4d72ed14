"""jaxdnn: L-layer fully-connected networks in JAX with a hand-written, autodiff-verified backward.

The public names follow the course's "deep neural network step by step" chain; every function is
pure and works under ``jax.jit`` (activation names are static arguments).

The names are imported when first used (PEP 562): ``import jaxdnn`` itself loads no jax, so the
command's ``--help`` and ``--version`` answer at once.
"""

import importlib as _importlib
import importlib.abc as _abc
import importlib.util as _util
import sys as _sys
from importlib.metadata import PackageNotFoundError as _NotFound
from importlib.metadata import version as _version

_DEFINED = {
    ".core.activations": (
        "ACTIVATIONS LEAKY_RELU_SLOPE Activation custom_activation get_activation leaky_relu "
        "leaky_relu_backward leaky_relu_with relu relu_backward sigmoid sigmoid_backward tanh "
        "tanh_backward"),
    ".core.init": "SCHEMES initialize_parameters initialize_parameters_deep",
    ".core.layers": (
        "linear_activation_backward linear_activation_forward linear_backward linear_forward"),
    ".core.network": (
        "L_model_backward L_model_forward compute_cost compute_cost_from_logits "
        "compute_cost_with_regularization cost_and_grads network_cost update_parameters"),
    ".core.outputs": "OUTPUTS Output get_output",
    ".core.predict": "accuracy predict predict_labels predict_proba",
    ".course.models": "COURSE_MODELS L_layer_model nn_model two_layer_model",
    ".errors": (
        "DataError FunctionError InputTypeError JaxdnnError NameLookupError NumericalOverflow "
        "OptionError SaturationError ShapeError TrainingDiverged"),
    ".io.cat": "flatten_images load_cat_data load_data",
    ".io.datasets": "DATASETS load_dataset load_digits load_planar_dataset",
    ".io.examples": "H5Examples",
    ".io.models": "load_model save_model",
    ".train.batches": "epoch_costs random_mini_batches",
    ".train.fit": "fit train_steps",
    ".train.mesh": "data_mesh local_columns",
    ".train.stack": "ModelStack fit_many predict_labels_many stack_models unstack_models",
    ".train.state": "TrainState init_train_state load_checkpoint save_checkpoint",
    ".train.stream": "fit_stream",
    ".verify.gradcheck": (
        "GRADIENT_CHECK_THRESHOLD autodiff_errors autodiff_gradients finite_difference_gradients "
        "gradient_check relative_error transpose_errors"),
    ".train.estimator": "Classifier",
}
"""Each module and the public names it defines."""
_NAMES = {name: module for module, names in _DEFINED.items() for name in names.split()}
_MODULES = {"basics": ".course.basics", "logistic": ".course.logistic", "planar": ".course.planar"}
"""The course's other assignments, as namespaces: ``jaxdnn.planar`` and ``import jaxdnn.planar``."""
_SUBPACKAGES = ("app", "core", "course", "errors", "io", "testing", "train", "verify")

try:
    __version__ = _version("jaxdnn")
except _NotFound:  # a source tree that is not installed
    __version__ = "0+unknown"


def __getattr__(name):
    if name in _NAMES:
        value = getattr(_importlib.import_module(_NAMES[name], __name__), name)
    elif name in _MODULES:
        value = _importlib.import_module(_MODULES[name], __name__)
    elif name in _SUBPACKAGES:
        value = _importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES) | set(_MODULES))


class _Aliases(_abc.MetaPathFinder, _abc.Loader):
    """``import jaxdnn.planar`` gives the module ``jaxdnn.course.planar`` itself."""

    def find_spec(self, fullname, path=None, target=None):
        prefix, _, name = fullname.rpartition(".")
        if prefix == __name__ and name in _MODULES:
            return _util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return _importlib.import_module(_MODULES[spec.name.rpartition(".")[2]], __name__)

    def exec_module(self, module):
        pass


if not any(isinstance(finder, _Aliases) for finder in _sys.meta_path):
    _sys.meta_path.append(_Aliases())

__all__ = [
    "ACTIVATIONS",
    "Classifier",
    "Activation",
    "COURSE_MODELS",
    "DATASETS",
    "DataError",
    "FunctionError",
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
