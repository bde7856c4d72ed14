"""Bad input: a JaxdnnError naming the argument, layer and shapes, raised before any XLA work."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdnn import (
    DataError,
    InputTypeError,
    JaxdnnError,
    L_model_backward,
    L_model_forward,
    NameLookupError,
    NumericalOverflow,
    OptionError,
    ShapeError,
    TrainingDiverged,
    compute_cost,
    compute_cost_from_logits,
    cost_and_grads,
    fit,
    leaky_relu_with,
    linear_activation_backward,
    linear_activation_forward,
    linear_forward,
    predict_proba,
    update_parameters,
)
from jaxdnn.app import settings as run_settings
from jaxdnn.app import studies


def params(*dims):
    return {k: v for l in range(1, len(dims))
            for k, v in ((f"W{l}", jnp.ones((dims[l], dims[l - 1]))),
                         (f"b{l}", jnp.zeros((dims[l], 1))))}


X = jnp.ones((4, 5))
Y = jnp.ones((1, 5))


@pytest.mark.parametrize("call, error, match", [
    (lambda: L_model_forward(jnp.ones((3, 5)), params(4, 2, 1)), ShapeError,
     r"X has shape \(3, 5\) but W1 has shape \(2, 4\): X needs 4 rows"),
    (lambda: L_model_forward(jnp.ones(4), params(4, 2, 1)), ShapeError,
     r"X must be 2-D \(features, examples\); got shape \(4,\)"),
    (lambda: L_model_forward(X, dict(params(4, 2, 1), b1=jnp.zeros(2))), ShapeError,
     r"b1 has shape \(2,\), expected \(2, 1\) to match W1 of shape \(2, 4\)"),
    (lambda: L_model_forward(X, dict(params(4, 2, 1), b2=jnp.zeros((2, 1)))), ShapeError,
     r"b2 has shape \(2, 1\), expected \(1, 1\)"),
    (lambda: L_model_forward(X, dict(params(4, 2, 1), W2=jnp.ones((1, 3)))), ShapeError,
     r"W2 has shape \(1, 3\) but W1 has 2 rows: W2 needs 2 columns"),
    (lambda: L_model_forward(X, {k: v for k, v in params(4, 2, 1).items() if k != "b2"}),
     NameLookupError, r"parameters is missing \['b2'\] for a 2-layer network"),
    (lambda: L_model_forward(X, {k: v for k, v in params(4, 3, 2, 1).items() if k != "W2"}),
     NameLookupError, r"missing \['W2'\]"),
    (lambda: L_model_forward(X, dict(params(4, 1), W0=jnp.ones((1, 1)))), NameLookupError,
     r"unexpected entries \['W0'\]"),
    (lambda: L_model_forward(X, dict(params(4, 1), gamma=1.0)), NameLookupError,
     r"unexpected entries \['gamma'\]"),
    (lambda: L_model_forward(X, {}), ShapeError, "non-empty dict"),
    (lambda: L_model_forward(jnp.ones((4, 0)), params(4, 1)), ShapeError,
     r"X has shape \(4, 0\): it needs at least one column"),
    (lambda: L_model_forward(X, dict(params(4, 1), W1=[[1.0] * 4])), InputTypeError,
     r"parameters\['W1'\] is a list; expected an array"),
    (lambda: L_model_forward(X, [jnp.ones((1, 4))]), ShapeError, "non-empty dict"),
    (lambda: L_model_forward(X, params(4, 2, 1), "swish"), NameLookupError,
     "unknown activation 'swish'; expected one of: leaky_relu, relu, sigmoid, tanh"),
    (lambda: L_model_forward(X, params(4, 2, 2, 1), ("relu",)), ShapeError,
     "hidden_activation lists 1 names but the network has 2 hidden layers"),
    (lambda: compute_cost(jnp.full((1, 5), 0.5), jnp.ones((1, 4))), ShapeError,
     r"Y has shape \(1, 4\) but AL has shape \(1, 5\)"),
    (lambda: compute_cost(jnp.full((1, 5), 0.5), jnp.ones(5)), ShapeError,
     r"Y has shape \(5,\) but AL has shape \(1, 5\)"),
    (lambda: compute_cost_from_logits(jnp.zeros((1, 5)), jnp.ones((5, 1))), ShapeError,
     r"Y has shape \(5, 1\) but ZL has shape \(1, 5\)"),
    (lambda: L_model_backward(jnp.full((1, 5), 0.5), jnp.ones((1, 3)),
                              L_model_forward(X, params(4, 1))[1]), ShapeError,
     r"Y has shape \(1, 3\) but AL has shape \(1, 5\)"),
    (lambda: L_model_backward(jnp.full((1, 5), 0.5), Y, []), InputTypeError, "caches must be"),
    (lambda: linear_forward(jnp.ones((3, 2)), jnp.ones((1, 4)), jnp.zeros((1, 1))), ShapeError,
     r"W has shape \(1, 4\) but A has shape \(3, 2\): A needs 4 rows"),
    (lambda: linear_activation_forward(jnp.ones((3, 2)), jnp.ones((1, 3)), jnp.zeros((1, 1)),
                                       "Relu"), NameLookupError, "unknown activation 'Relu'"),
    (lambda: linear_activation_backward(jnp.ones((2, 2)), ((jnp.ones((3, 2)), jnp.ones((1, 3)),
                                        jnp.zeros((1, 1))), jnp.ones((1, 2))), "relu"),
     ShapeError, r"dA has shape \(2, 2\) but the cached Z has \(1, 2\)"),
    (lambda: update_parameters(params(4, 1), {"dW1": jnp.ones((1, 4))}, 0.1), NameLookupError,
     "grads has no db1 for parameter b1"),
    (lambda: update_parameters(params(4, 1), {"dW1": jnp.ones((4, 1)), "db1": jnp.ones((1, 1))},
                               0.1),
     ShapeError, r"dW1 has shape \(4, 1\) but W1 has shape \(1, 4\)"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert isinstance(info.value, JaxdnnError)
    assert isinstance(info.value, (ValueError, TypeError, KeyError))


def test_name_errors_are_key_errors_with_readable_messages():
    with pytest.raises(KeyError) as info:
        L_model_forward(X, params(4, 1), "swish")
    assert str(info.value).startswith("unknown activation 'swish'")  # not a quoted repr


def test_checks_run_at_trace_time_under_jit():
    """Shapes are static under jit: the error comes from tracing, before anything is compiled."""
    traced = jax.jit(cost_and_grads)
    with pytest.raises(ShapeError, match=r"X has shape \(3, 5\) but W1 has shape \(2, 4\)"):
        traced.trace(jnp.ones((3, 5)), Y, params(4, 2, 1))
    traced.trace(X, Y, params(4, 2, 1))  # the same function traces fine on good input


def test_numpy_inputs_accepted():
    AL, _ = L_model_forward(np.ones((4, 5)), {k: np.asarray(v) for k, v in params(4, 1).items()})
    assert AL.shape == (1, 5)


def test_an_overflow_inside_the_forward_is_reported_where_results_leave():
    """Finite inputs whose W A + b overflows float32. Called eagerly, the chain names the layer
    (under jit it computes, as numpy would, and returns the non-finite values); prediction
    checks the output layer's Z and training says the initial parameters overflow."""
    params = {"W1": jnp.full((2, 4), 1e20, jnp.float32), "b1": jnp.zeros((2, 1), jnp.float32),
              "W2": jnp.full((1, 2), -1e20, jnp.float32), "b2": jnp.zeros((1, 1), jnp.float32)}
    X = jnp.full((4, 5), 1e19, jnp.float32)
    with pytest.raises(NumericalOverflow, match=r"forward pass overflowed at layer 1: Z1 has"):
        L_model_forward(X, params)
    _, caches = jax.jit(L_model_forward)(X, params)
    assert not np.isfinite(caches[-1][1]).any()
    with pytest.raises(DataError, match=r"Z2 has 5 non-finite values"):
        predict_proba(X, params)
    with pytest.raises(TrainingDiverged, match="initial parameters already overflow .*layer 1"):
        fit(X, jnp.ones((1, 5), jnp.float32), params, num_iterations=3)


def test_a_traced_leaky_slope_is_refused():
    with pytest.raises(OptionError, match="slope must be a concrete number"):
        jax.jit(lambda s: leaky_relu_with(s).forward(jnp.ones((1, 1)))[0])(0.1)


def test_review_findings_are_clear_errors(tmp_path):
    """Inputs a review found crashing or answering silently, now refused by name."""
    import jaxdnn
    from jaxdnn.app import models as run

    two = jaxdnn.initialize_parameters_deep([2, 3, 2], jax.random.PRNGKey(0), scheme="he")
    jaxdnn.save_model(tmp_path / "two.npz", two, {"dataset": "moons"})  # no "output" recorded
    with pytest.raises(OptionError, match="has 2 sigmoid outputs"):
        run.evaluate(tmp_path / "two.npz")
    one = jaxdnn.initialize_parameters_deep([2, 3, 1], jax.random.PRNGKey(0))
    with pytest.raises(ShapeError, match="softmax output needs K >= 2"):
        jaxdnn.predict_proba(np.ones((2, 4)), one, output="softmax")
    with pytest.raises(ShapeError, match=r"\bx\b has shape \(2, 0\)"):
        jaxdnn.basics.normalize_rows(np.zeros((2, 0)))
    with pytest.raises(OptionError, match=r"z is too large"):
        jaxdnn.logistic.sigmoid(10**400)
    state = jaxdnn.init_train_state(one)._replace(iteration=2**31 - 1)
    with pytest.raises(OptionError, match="must stay below 2\\*\\*31"):
        jaxdnn.train_steps(np.ones((2, 4)), np.ones((1, 4)), state, 2)


def test_sizes_beyond_the_documented_limits_are_refused_in_one_line():
    """Limits of _checks (MAX_PARAMETERS, MAX_ITERATIONS): refused before anything is
    allocated or compiled."""
    import jaxdnn

    for dims in ([2, 10**20, 1], [2, 10**5, 10**5, 1], [12288, 10**5, 1]):
        with pytest.raises(ShapeError, match=r"above the budget of 268,435,456 \(MAX_PARAMETERS\)"):
            jaxdnn.initialize_parameters_deep(dims, numpy_seed=1)
    one = jaxdnn.initialize_parameters_deep([2, 3, 1], jax.random.PRNGKey(0))
    with pytest.raises(OptionError, match=r"num_iterations must be at most 2147483647"):
        fit(np.ones((2, 4)), np.ones((1, 4)), one, num_iterations=2**31)
    with pytest.raises(OptionError, match=r"num_iterations must be at most"):
        studies.sweep([1], 10**10, "unused")
    with pytest.raises(OptionError, match=r"hidden layer sizes \[10000000000\]"):
        run_settings.new_settings(layers=[10**10])


def test_bad_arguments_to_any_public_function_stay_in_the_family(tmp_path):
    """Arguments that escaped as plain TypeError/ValueError/RecursionError."""
    import jaxdnn

    calls = [lambda: jaxdnn.flatten_images(np.zeros((0, 64, 64, 3), np.uint8)),
             lambda: jaxdnn.load_model(None), lambda: jaxdnn.load_cat_data(3),
             lambda: jaxdnn.load_data(None), lambda: jaxdnn.two_layer_model(X, Y, 3.5),
             lambda: jaxdnn.relative_error("a", "b"),
             lambda: jaxdnn.relative_error({"dW1": 1}, object())]
    for call in calls:
        with pytest.raises(JaxdnnError) as info:
            call()
        assert "\n" not in str(info.value)


def test_an_on_cost_that_raises_surfaces_as_its_own_exception(capfd):
    """The user's error, re-raised as itself once the compiled loop returns: no
    JaxRuntimeError, no traceback printed by the runtime; later reports are skipped."""
    import jaxdnn

    calls = []

    class Stop(Exception):
        pass

    def on_cost(i, cost):
        calls.append(i)
        raise Stop(f"stop at {i}")

    one = jaxdnn.initialize_parameters_deep([2, 3, 1], jax.random.PRNGKey(0))
    for gram in (False, True):
        calls.clear()
        with pytest.raises(Stop, match="stop at 0"):
            fit(np.ones((2, 4)), np.ones((1, 4)), one, num_iterations=300, on_cost=on_cost,
                gram=gram)
        assert calls == [0]
    assert "Traceback" not in capfd.readouterr().err
    _, costs = fit(np.ones((2, 4)), np.ones((1, 4)), one, num_iterations=3)  # nothing left over
    assert len(costs) == 3


# --- arrays jax cannot take, and inputs that only overflow in the training dtype -------------

def _big_endian(d):
    return {k: np.asarray(v, np.float64).astype(">f8") for k, v in d.items()}


@pytest.mark.parametrize("call, name", [
    (lambda: fit(np.ones((4, 5)), np.ones((1, 5)), _big_endian(params(4, 2, 1)),
                 num_iterations=2), "W1"),
    (lambda: fit(np.ones((4, 5)), np.ones((1, 5)), {**params(4, 2, 1), "b2": np.zeros(
        (1, 1), ">f8")}, num_iterations=2), "b2"),
    (lambda: predict_proba(np.ones((4, 5)), _big_endian(params(4, 1))), "W1"),
    (lambda: L_model_forward(np.ones((4, 5), ">f8"), params(4, 1)), "X"),
    (lambda: cost_and_grads(np.ones((4, 5)), np.ones((1, 5), ">f8"), params(4, 1), "relu"),
     "Y"),
    (lambda: compute_cost(np.full((1, 5), 0.5, ">f8"), np.ones((1, 5))), "AL"),
    (lambda: __import__("jaxdnn").init_train_state(_big_endian(params(4, 1))), "W1"),
])
def test_arrays_in_another_byte_order_are_refused_by_name(call, name):
    """numpy arrays of another byte order (a big-endian file's, here): jax cannot take them;
    refused naming the array, instead of a TypeError from inside jax or functools."""
    with pytest.raises(InputTypeError, match=rf"^{name} has dtype >f8, not in this machine's "
                                             rf"byte order"):
        call()


def test_finite_in_names_inputs_that_overflow_only_in_the_training_dtype():
    from jaxdnn.core.checks import finite_in

    X = np.ones((3, 4))
    X[1, 2] = 1e39
    finite_in(X, "X", np.float64)
    with pytest.raises(DataError, match=r"^X has 1 values beyond the range of float32 \(the "
                                        r"first, 1e\+39, at index \(1, 2\); float32 ends at "
                                        r"3\.40282e\+38\): converted to float32 for training "
                                        r"they would be inf"):
        finite_in(X, "X", np.float32)
    with pytest.raises(DataError, match=r"X has 2 values beyond the range of float16"):
        finite_in(np.array([[70000, -1e5, 3]]), "X", np.float16)
    edge = np.array([[float(np.finfo(np.float32).max) * (1 + 1e-9), -3.0]])  # rounds to max
    finite_in(edge, "X", np.float32)
    finite_in(np.array([[np.nan, 1e39]]), "X", np.float64)  # NaN is finite()'s to refuse
    with pytest.raises(DataError, match="1 values beyond the range of float32"):
        finite_in(np.array([[np.nan, 1e39]]), "X", np.float32)
    jax.jit(lambda x: finite_in(x, "X", np.float32) or x)(jnp.ones((1, 2)))  # traced: nothing
    finite_in(np.zeros((0, 3)), "X", np.float32)


def test_training_refuses_inputs_beyond_the_training_dtype_before_it_starts():
    X = np.ones((2, 5))
    X[0, 3] = 1e39  # finite as float64, inf in the float32 the parameters train in
    Y = np.array([[0, 1, 0, 1, 1]])
    parameters = {"W1": np.zeros((1, 2), np.float32), "b1": np.zeros((1, 1), np.float32)}
    with pytest.raises(DataError, match=r"^X has 1 values beyond the range of float32"):
        fit(X, Y, parameters, num_iterations=2)
