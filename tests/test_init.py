"""Initialisation: the course's printed values, the schemes' scales, keys and dtypes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdnn import (
    NameLookupError,
    OptionError,
    ShapeError,
    initialize_parameters,
    initialize_parameters_deep,
)


def test_course_initialize_parameters_deep_seed_3():
    p = initialize_parameters_deep([5, 4, 3], numpy_seed=3, scheme="small")
    np.testing.assert_allclose(p["W1"][0], [0.01788628, 0.0043651, 0.00096497, -0.01863493,
                                            -0.00277388], atol=1e-8)
    np.testing.assert_allclose(p["W2"], [[-0.01185047, -0.0020565, 0.01486148, 0.00236716],
                                         [-0.01023785, -0.00712993, 0.00625245, -0.00160513],
                                         [-0.00768836, -0.00230031, 0.00745056, 0.01976111]],
                               atol=1e-8)
    assert p["b1"].shape == (4, 1) and p["b2"].shape == (3, 1)
    assert not np.asarray(p["b1"]).any() and not np.asarray(p["b2"]).any()


def test_course_initialize_parameters_seed_1():
    p = initialize_parameters(2, 2, 1, numpy_seed=1)
    np.testing.assert_allclose(p["W1"], [[0.01624345, -0.00611756], [-0.00528172, -0.01072969]],
                               atol=1e-8)
    np.testing.assert_allclose(p["W2"], [[0.00865408, -0.02301539]], atol=1e-8)


def test_numpy_mode_is_bit_identical_to_the_course_recipe():
    dims = [7, 5, 3, 1]
    p = initialize_parameters_deep(dims, numpy_seed=1, scheme="scaled", dtype=jnp.float64)
    np.random.seed(1)
    for l in range(1, len(dims)):
        expected = np.random.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        np.testing.assert_array_equal(p[f"W{l}"], expected)


@pytest.mark.parametrize("scheme, std", [("small", lambda n: 0.01),
                                         ("scaled", lambda n: 1 / np.sqrt(n)),
                                         ("he", lambda n: np.sqrt(2 / n))])
def test_scheme_scales(scheme, std):
    p = initialize_parameters_deep([400, 300, 1], jax.random.PRNGKey(0), scheme=scheme)
    # 120000 draws: the sample std is within 1% of the target with overwhelming probability.
    np.testing.assert_allclose(np.std(np.asarray(p["W1"])), std(400), rtol=0.01)


def test_key_mode_is_deterministic_and_respects_dtype():
    key = jax.random.PRNGKey(42)
    a = initialize_parameters_deep([3, 4, 1], key, dtype=jnp.float32)
    b = initialize_parameters_deep([3, 4, 1], key, dtype=jnp.float32)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert a[k].dtype == jnp.float32
    c = initialize_parameters_deep([3, 4, 1], jax.random.PRNGKey(43))
    assert not np.array_equal(a["W1"], c["W1"])
    assert initialize_parameters_deep([3, 1], key, dtype=jnp.float64)["W1"].dtype == jnp.float64


@pytest.mark.parametrize("dims, match", [([], "at least an input and an output"),
                                         ([5], "at least an input and an output"),
                                         ([5, 0, 1], r"layer_dims\[1\] = 0"),
                                         ([5, -2], r"layer_dims\[1\] = -2"),
                                         ([5, 2.5], r"layer_dims\[1\] = 2.5"),
                                         (None, "must be a list")])
def test_bad_layer_dims(dims, match):
    with pytest.raises(ShapeError, match=match):
        initialize_parameters_deep(dims, jax.random.PRNGKey(0))


def test_float64_without_x64_is_refused():
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(OptionError, match="needs x64"):
            initialize_parameters_deep([2, 1], jax.random.PRNGKey(0), dtype="float64")
    finally:
        jax.config.update("jax_enable_x64", True)


def test_bad_scheme_and_randomness():
    with pytest.raises(NameLookupError, match="unknown initialisation scheme 'xavier'"):
        initialize_parameters_deep([2, 1], jax.random.PRNGKey(0), scheme="xavier")
    with pytest.raises(ValueError, match="exactly one source of randomness"):
        initialize_parameters_deep([2, 1])
    with pytest.raises(ValueError, match="exactly one source of randomness"):
        initialize_parameters_deep([2, 1], jax.random.PRNGKey(0), numpy_seed=1)


def test_a_network_beyond_the_memory_available_is_refused(monkeypatch):
    """The parameters, gradients and two optimiser moments must fit in the memory available."""
    import jaxdnn.core.limits

    dims = [2, 1000, 1000, 1]  # 1,005,001 parameters: 16 MiB to train in float32, 32 in float64
    monkeypatch.setattr(jaxdnn.core.limits, "available_memory", lambda: 20 * 2**20)
    assert initialize_parameters_deep(dims, numpy_seed=1, dtype="float32")["W2"].shape == (
        1000, 1000)
    with pytest.raises(ShapeError, match=r"1,005,001 parameters: training them takes 31 MiB "
                                         r"\(4 copies of 8 bytes each\), more than the 20 MiB"):
        initialize_parameters_deep(dims, numpy_seed=1, dtype="float64")
    assert jaxdnn.core.limits.TRAINING_COPIES == 4
