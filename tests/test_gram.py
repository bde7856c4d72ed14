"""The Gram loop's float32 accuracy: its compensated products with X, and its trajectory against
float64. (Its float64 iterates against the plain loop's: tests/test_train.py.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_train import DATA, needs_cat_data
from tolerances import DOT_F32_RTOL, GRAM_F32_COST_RTOL, GRAM_F32_SMOOTH_RTOL, SAME_MATH_RTOL

import jaxdnn
import jaxdnn.train.loop
from jaxdnn.train.gram import _dot


def cat_like(k, m, seed=0):
    """W1 (20, k) as the course draws it and X (k, m) of pixel-like values in [0, 1]: positive
    terms with signed weights, where a float32 product loses most to cancellation."""
    rng = np.random.RandomState(seed)
    return rng.randn(20, k) / np.sqrt(k), rng.rand(k, m)


@pytest.mark.parametrize("k", [12288, 300, 1])
def test_compensated_dot_rounds_about_once(k):
    """Any k (padded to whole chunks), float32 within DOT_F32_RTOL of the exact product."""
    W, X = cat_like(k, 209)
    exact = W @ X
    got = np.asarray(_dot(jnp.asarray(W, jnp.float32), jnp.asarray(X, jnp.float32)), np.float64)
    rounded = np.asarray(W, np.float32).astype(np.float64) @ np.asarray(X, np.float32)
    assert np.abs(got - rounded).max() <= DOT_F32_RTOL * np.abs(exact).max()
    np.testing.assert_allclose(_dot(jnp.asarray(W), jnp.asarray(X)), exact, rtol=SAME_MATH_RTOL,
                               atol=SAME_MATH_RTOL * np.abs(exact).max())


@pytest.mark.parametrize("x64", [False, True])
def test_float32_gram_follows_float64_with_smooth_units(x64):
    """tanh hidden units, tall data: float32 Gram costs and parameters within
    GRAM_F32_SMOOTH_RTOL of the float64 plain loop's; the same bits with x64 on or off."""
    rng = np.random.RandomState(3)
    X, Y = rng.rand(600, 40), (rng.rand(1, 40) < 0.5).astype(np.float64)
    params = jaxdnn.initialize_parameters_deep([600, 8, 4, 1], numpy_seed=3, scheme="scaled")
    kwargs = dict(hidden_activation="tanh", learning_rate=0.03, num_iterations=50)
    reference, ref_costs = jaxdnn.fit(X, Y, params, gram=False, **kwargs)
    with jax.enable_x64(x64):
        p32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params)
        result = jaxdnn.fit(X.astype(np.float32), Y.astype(np.float32), p32, **kwargs)
        trained, costs = result
        assert result.path == "gram"  # "auto" took the Gram loop
    assert jaxdnn.relative_error(costs, ref_costs) <= GRAM_F32_SMOOTH_RTOL
    for key in reference:
        assert trained[key].dtype == jnp.float32
        assert jaxdnn.relative_error(trained[key], reference[key]) <= GRAM_F32_SMOOTH_RTOL, key


@needs_cat_data
def test_float32_cat_model_follows_float64_and_reproduces_the_course():
    """The course's L_layer_model in float32 takes the Gram loop by default: costs within
    GRAM_F32_COST_RTOL of float64's for 250 iterations, as the plain float32 loop's are, and
    the course's accuracies after 2500."""
    train_x, train_y, test_x, test_y, _ = jaxdnn.load_cat_data(DATA)
    dims = [12288, 20, 7, 5, 1]
    _, reference = jaxdnn.L_layer_model(train_x, train_y, dims, num_iterations=250,
                                        dtype=jnp.float64)
    for gram in (False, "auto"):
        _, costs = jaxdnn.L_layer_model(train_x, train_y, dims, num_iterations=250,
                                        dtype=jnp.float32, gram=gram)
        assert np.max(np.abs(costs / reference - 1)) <= GRAM_F32_COST_RTOL, gram
    before = jaxdnn.train.loop.run._cache_size()
    params, costs = jaxdnn.L_layer_model(train_x, train_y, dims, num_iterations=2500,
                                         dtype=jnp.float32)
    assert jaxdnn.train.loop.run._cache_size() == before + 1  # one program (the Gram loop's)
    assert f"{costs[0]:f}" == "0.771749"
    np.testing.assert_allclose(jaxdnn.accuracy(jaxdnn.predict_labels(train_x, params), train_y),
                               0.985645933, atol=1e-9)
    assert jaxdnn.accuracy(jaxdnn.predict_labels(test_x, params), test_y) == 0.8


@needs_cat_data
def test_float32_two_layer_model_reproduces_the_course():
    """The course's two_layer_model in float32, through the Gram loop by default: 1.0 / 0.72."""
    train_x, train_y, test_x, test_y, _ = jaxdnn.load_cat_data(DATA)
    params, _ = jaxdnn.two_layer_model(train_x, train_y, (12288, 7, 1), num_iterations=2500,
                                       dtype=jnp.float32)
    assert jaxdnn.accuracy(jaxdnn.predict_labels(train_x, params), train_y) == 1.0
    assert jaxdnn.accuracy(jaxdnn.predict_labels(test_x, params), test_y) == 0.72
