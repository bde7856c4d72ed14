"""Property-based verification of hand-written gradients: the public face of
:mod:`jaxdnn.verify.testing` (needs hypothesis: ``pip install 'jaxdnn[testing]'``)."""

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

__all__ = ["HIDDEN", "Case", "Network", "activation_inputs", "activations",
           "assert_backward_matches_vjp", "assert_gradients_match", "check_activation",
           "check_network", "layer_dims", "networks", "problems", "witness_errors"]
