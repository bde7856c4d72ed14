"""jaxdnn.testing, the verification users run on their own activations and networks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from jaxdnn.testing import check_activation, check_network


def swish(Z):
    return Z * jax.nn.sigmoid(Z), Z


def swish_backward(dA, Z):
    s = jax.nn.sigmoid(Z)
    return dA * s * (1 + Z * (1 - s))


def swish_backward_without_product_rule(dA, Z):  # forgets the Z * s' term
    return dA * jax.nn.sigmoid(Z)


def test_a_correct_activation_passes_in_three_lines():
    check_activation(jaxdnn.custom_activation("swish", swish, swish_backward), max_examples=4)


def test_a_wrong_backward_is_named_with_its_class_and_element():
    broken = jaxdnn.custom_activation("swish", swish, swish_backward_without_product_rule)
    with pytest.raises(AssertionError, match=r"(?s)^swish: .*missing-term: d0\[\d+, \d+\] "
                                             r"\(.*without its x u'\(x\) term\)"):
        check_activation(broken, max_examples=50)


def test_a_kink_convention_that_differs_from_the_forward_is_caught():
    """relu's forward with a backward that passes the gradient at Z == 0: only the kink differs,
    and the search finds it (hypothesis draws exact zeros on purpose)."""
    relu_forward = jaxdnn.ACTIVATIONS["relu"].forward
    broken = jaxdnn.custom_activation("relu_ge", relu_forward,
                                      lambda dA, Z: jnp.where(Z >= 0, dA, 0))
    with pytest.raises(AssertionError, match="relu_ge"):
        check_activation(broken, max_examples=100, shrink=False)


def test_a_subgradient_at_a_kink_that_jax_differentiates_otherwise_is_explained():
    """ELU with alpha 1.5 through jnp.minimum: jax.vjp gives 0.75 at Z == 0 (half of each side
    of the tie), the backward the left slope 1.5. The failure says why and what to write."""
    def elu(Z):
        return jnp.where(Z > 0, Z, 1.5 * jnp.expm1(jnp.minimum(Z, 0))), Z

    def elu_backward(dA, Z):
        return dA * jnp.where(Z > 0, 1.0, 1.5 * jnp.exp(jnp.minimum(Z, 0)))

    pair = jaxdnn.custom_activation("elu", elu, elu_backward)
    with pytest.raises(AssertionError, match=r"Z = 0 is a kink of the forward \(one-sided "
                       r"slopes about 1.5 and 1\); the backward's slope there, 1.5, is a "
                       r"subgradient, but check_activation holds a kink to jax's derivative"):
        check_activation(pair, dtypes=("float32",), max_examples=20)
    wrong = jaxdnn.custom_activation("elu", elu, lambda dA, Z: 2 * elu_backward(dA, Z))
    with pytest.raises(AssertionError, match=r"(?s)elu: .*scale: d0"):  # the layer check's
        check_activation(wrong, dtypes=("float32",), max_examples=20)


def test_a_network_failure_names_the_layer_leaf_and_witness(monkeypatch):
    """The per-function check passes when forward and backward are wrong together; the network
    property still names where the hand chain departs from the witness (here: a backward that
    only the elementwise check is spared, by testing check_network alone)."""
    broken = jaxdnn.custom_activation("swish", swish, swish_backward_without_product_rule)
    with pytest.raises(AssertionError, match=r"d[WbA]\d+ \(layer \d+, [a-z]+\) differs from the "
                                             r"(autodiff|transpose) witness"):
        check_network(hidden=(broken,), outputs=("sigmoid",), max_examples=30, shrink=False)


@pytest.mark.parametrize("kwargs", [dict(), dict(lambd=0.5, keep_prob=0.7)])
def test_the_built_in_family_passes(kwargs):
    check_network(max_depth=4, max_width=8, max_examples=4, **kwargs)


def test_custom_activation_refuses_a_broken_contract():
    with pytest.raises(jaxdnn.OptionError, match="'relu'"):
        jaxdnn.custom_activation("relu", swish, swish_backward)  # a built-in name
    with pytest.raises(jaxdnn.OptionError, match="forward\\(Z\\) -> \\(A, cache\\)"):
        jaxdnn.custom_activation("one", lambda Z: Z, swish_backward)  # no cache
    with pytest.raises(jaxdnn.ShapeError, match="backward's dZ must have Z's shape"):
        jaxdnn.custom_activation("summed", swish, lambda dA, Z: jnp.sum(dA))
    with pytest.raises(jaxdnn.InputTypeError, match="must be functions"):
        jaxdnn.custom_activation("nothing", None, swish_backward)


def test_a_custom_activation_trains_like_a_built_in_one():
    X, Y = jaxdnn.load_planar_dataset()
    act = jaxdnn.custom_activation("swish", swish, swish_backward)
    params = jaxdnn.initialize_parameters_deep([2, 6, 1], jax.random.PRNGKey(0), scheme="he",
                                               dtype="float64")
    trained, costs = jaxdnn.fit(X, Y, params, hidden_activation=act, learning_rate=0.5,
                                num_iterations=300)
    assert costs[-1] < costs[0]
    errors = jaxdnn.autodiff_errors(X, Y, trained, act)
    assert max(errors.values()) < 1e-9
    assert np.all(np.isfinite(jaxdnn.predict_proba(X, trained, act)))
