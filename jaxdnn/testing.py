"""Verification of hand-written gradients: the public face of :mod:`jaxdnn.verify.layer`
(``check_layer`` / ``check_vjp``: any hand-written pair; no hypothesis needed unless a strategy
is given) and of :mod:`jaxdnn.verify.testing` (property searches over activations and networks;
they need hypothesis: ``pip install 'jaxdnn[testing]'``, imported on first use)."""

import importlib

from .verify.layer import Report, check_layer, check_vjp

SEARCHES = ("HIDDEN", "Case", "Network", "activation_inputs", "activations",
            "assert_backward_matches_vjp", "assert_gradients_match", "check_activation",
            "check_network", "layer_dims", "networks", "problems", "witness_errors")
"""The names of :mod:`jaxdnn.verify.testing`, served from here on first use."""

__all__ = ["Report", "check_layer", "check_vjp"]
__all__ += SEARCHES


def __getattr__(name):
    if name not in SEARCHES:
        raise AttributeError(f"module 'jaxdnn.testing' has no attribute {name!r}")
    try:
        searches = importlib.import_module("jaxdnn.verify.testing")
    except ImportError as e:
        if "hypothesis" not in str(e):
            raise
        raise ImportError(f"jaxdnn.testing.{name} needs hypothesis, which is not installed: "
                          f"pip install 'jaxdnn[testing]'") from None
    return getattr(searches, name)
