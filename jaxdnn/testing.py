"""Verification of hand-written gradients: the public face of :mod:`jaxdnn.verify.testing`
(property searches; need hypothesis: ``pip install 'jaxdnn[testing]'``) and of
:mod:`jaxdnn.verify.layer` (``check_layer`` / ``check_vjp``: any hand-written pair)."""

from .verify.layer import Report, check_layer, check_vjp
from .verify.testing import (
    HIDDEN,
    Case,
    Network,
    activation_inputs,
    activations,
    assert_backward_matches_vjp,
    assert_gradients_match,
    check_activation,
    check_network,
    layer_dims,
    networks,
    problems,
    witness_errors,
)

__all__ = ["HIDDEN", "Case", "Network", "Report", "activation_inputs", "activations",
           "assert_backward_matches_vjp", "assert_gradients_match", "check_activation",
           "check_layer", "check_network", "check_vjp", "layer_dims", "networks", "problems",
           "witness_errors"]
