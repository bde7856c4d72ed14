"""Compiled training loops, prediction, and the course's published numbers."""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tolerances import GRAM_RTOL, GRAM_TRACE_RTOL, SAME_MATH_RTOL

import jaxdnn
from jaxdnn import (
    L_layer_model,
    accuracy,
    cost_and_grads,
    fit,
    initialize_parameters_deep,
    load_planar_dataset,
    nn_model,
    predict,
    two_layer_model,
    update_parameters,
)
from jaxdnn.core.network import layer_activations
from jaxdnn.testing import problems
from jaxdnn.train import loop

DATA = pathlib.Path(__file__).resolve().parents[1] / "datasets"
needs_cat_data = pytest.mark.skipif(
    not (DATA / "train_catvnoncat.h5").exists() or not (DATA / "test_catvnoncat.h5").exists(),
    reason=f"the course's cat files are not in {DATA} (see datasets/README.md)",
)


def small_problem(dtype=jnp.float64, m=30):
    rng = np.random.RandomState(0)
    X = jnp.asarray(rng.randn(3, m), dtype)
    Y = jnp.asarray((rng.rand(1, m) > 0.5), dtype)
    params = initialize_parameters_deep([3, 5, 4, 1], jax.random.PRNGKey(0), scheme="he",
                                        dtype=dtype)
    return X, Y, params


def test_compiled_loop_equals_python_loop_of_course_steps():
    X, Y, params = small_problem()
    trained, costs = fit(X, Y, params, learning_rate=0.1, num_iterations=25)
    expected_costs = []
    for _ in range(25):
        cost, grads = cost_and_grads(X, Y, params)
        expected_costs.append(cost)
        params = update_parameters(params, grads, 0.1)
    np.testing.assert_allclose(costs, expected_costs, rtol=SAME_MATH_RTOL)
    for key in params:
        np.testing.assert_allclose(trained[key], params[key], rtol=SAME_MATH_RTOL, atol=1e-15)


def test_loop_is_one_loop_compiled_once_for_every_length_up_to_its_own():
    X, Y, params = small_problem()
    program = loop.Program(loop.PLAIN, layer_activations("relu", 3), 8)
    jaxpr = str(jax.make_jaxpr(lambda X, Y, p, n, lr: loop.loop(
        loop.Data(X, Y), loop.Carry(p, None, {}), 0, n, loop.Hyper(lr, 0.0), program))(
            X, Y, params, 5, jnp.full(8, 0.1)))
    assert jaxpr.count("while[") == 1 and "scan[" not in jaxpr
    before = loop.run._cache_size()
    short = fit(X, Y, params, learning_rate=0.1, num_iterations=9)[1]
    fit(X, Y, params, learning_rate=0.2, num_iterations=13)  # learning rate is traced
    whole = fit(X, Y, params, learning_rate=0.1, num_iterations=16)[1]  # lengths 9..16: one
    assert loop.run._cache_size() == before + 1
    assert len(short) == 9 and np.array_equal(short, whole[:9])  # nothing runs past the count


def test_optax_sgd_matches_default_gradient_descent():
    X, Y, params = small_problem()
    a, costs_a = fit(X, Y, params, learning_rate=0.05, num_iterations=20)
    b, costs_b = fit(X, Y, params, num_iterations=20, optimizer=optax.sgd(0.05))
    np.testing.assert_allclose(costs_a, costs_b, rtol=SAME_MATH_RTOL)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=SAME_MATH_RTOL, atol=1e-16)


def test_momentum_matches_optax_sgd_with_momentum():
    X, Y, params = small_problem()
    a, costs_a = fit(X, Y, params, learning_rate=0.05, momentum=0.9, num_iterations=20,
                     gram=False)
    b, costs_b = fit(X, Y, params, num_iterations=20, optimizer=optax.sgd(0.05, momentum=0.9))
    np.testing.assert_allclose(costs_a, costs_b, rtol=SAME_MATH_RTOL)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=SAME_MATH_RTOL, atol=1e-15)


@given(case=problems("float64", max_depth=4, max_width=12, max_examples=40, bias=("random",),
                    outputs=("sigmoid", "softmax")),
       iterations=st.integers(1, 30), learning_rate=st.sampled_from([0.01, 0.1, 0.5]),
       momentum=st.sampled_from([0.0, 0.9]))
def test_gram_path_gives_the_plain_iterates(case, iterations, learning_rate, momentum):
    """Random dims with n[0] above and below m: the same parameters and costs to 1e-9 (float64),
    from a fresh start and, with momentum, continuing a run whose trace is not zero."""
    kwargs = dict(hidden_activation=case.hidden_activation, output=case.output,
                  learning_rate=learning_rate, momentum=momentum)
    plain, plain_costs = fit(case.X, case.Y, case.parameters, gram=False,
                             num_iterations=iterations, **kwargs)
    gram, gram_costs = fit(case.X, case.Y, case.parameters, gram=True,
                           num_iterations=iterations, **kwargs)
    assert jaxdnn.relative_error(gram_costs, plain_costs) <= GRAM_RTOL
    for key in plain:
        assert jaxdnn.relative_error(gram[key], plain[key]) <= GRAM_RTOL, key
    if momentum:
        state, _ = jaxdnn.train_steps(case.X, case.Y, jaxdnn.init_train_state(
            case.parameters, momentum=momentum), 3, gram=False, **kwargs)
        ends = [jaxdnn.train_steps(case.X, case.Y, state, iterations, gram=gram, **kwargs)
                for gram in (False, True)]
        (plain, plain_costs), (gram, gram_costs) = ends
        assert jaxdnn.relative_error(gram_costs, plain_costs) <= GRAM_RTOL
        for part, bound in (("parameters", GRAM_RTOL), ("opt_state", GRAM_TRACE_RTOL)):
            for key in getattr(plain, part):
                assert jaxdnn.relative_error(getattr(gram, part)[key],
                                             getattr(plain, part)[key]) <= bound, (part, key)


def test_gram_is_chosen_automatically_only_where_exact_and_cheaper():
    wide = small_problem()  # n[0] = 3 < m = 30: the plain loop
    tall_X = jnp.asarray(np.random.RandomState(1).randn(40, 30))
    tall_params = initialize_parameters_deep([40, 5, 1], jax.random.PRNGKey(0))
    tall32 = (tall_X.astype(jnp.float32), wide[1].astype(jnp.float32),
              jax.tree.map(lambda a: a.astype(jnp.float32), tall_params))
    cases = [(wide, {}, 0), ((tall_X, wide[1], tall_params), {}, 1), (tall32, {}, 1),
             ((tall_X, wide[1], tall_params), {"optimizer": optax.sgd(0.1)}, 0),
             ((tall_X, wide[1], tall_params), {"gram": False}, 0)]
    for (X, Y, params), kwargs, grams in cases:
        path = fit(X, Y, params, num_iterations=3, **kwargs).path
        assert path == ("gram" if grams else "plain"), kwargs
    with pytest.raises(ValueError, match="gram=True needs .* the built-in descent.*optax"):
        fit(tall_X, wide[1], tall_params, num_iterations=3, gram=True, optimizer=optax.adam(0.1))


@pytest.mark.parametrize("gram", [False, True])
def test_donated_parameters_are_consumed_and_results_unchanged(gram):
    X, Y, params = small_problem()
    kept, _ = fit(X, Y, params, num_iterations=5, gram=gram)
    copy = jax.tree.map(jnp.copy, params)
    donated, _ = fit(X, Y, copy, num_iterations=5, gram=gram, donate=True)
    for key in kept:
        np.testing.assert_array_equal(donated[key], kept[key])
    assert all(v.is_deleted() for v in copy.values())  # trained in the caller's buffers
    assert not any(v.is_deleted() for v in params.values())


def test_adam_trains():
    X, Y, params = small_problem(jnp.float32)
    trained, costs = fit(X, Y, params, num_iterations=200, optimizer=optax.adam(0.01))
    assert costs[-1] < 0.8 * costs[0]
    assert trained["W1"].dtype == jnp.float32


def test_print_cost_prints_the_course_lines(capsys):
    X, Y, params = small_problem()
    _, costs = fit(X, Y, params, num_iterations=250, print_cost=True)
    jax.effects_barrier()
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Cost after iteration {i}: {costs[i]:f}" for i in (0, 100, 200)]


def test_two_layer_model_prints_full_precision(capsys):
    X, Y, _ = small_problem()
    _, costs = two_layer_model(X, Y, (3, 4, 1), num_iterations=101, print_cost=True)
    jax.effects_barrier()
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Cost after iteration 0: {costs[0]}", f"Cost after iteration 100: {costs[100]}"]


@pytest.mark.parametrize("gram", [False, True])
def test_zero_iterations_returns_initial_parameters(gram):
    X, Y, params = small_problem()
    trained, costs = fit(X, Y, params, num_iterations=0, gram=gram)
    assert costs.shape == (0,)
    for key in params:
        np.testing.assert_allclose(trained[key], params[key], rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("change, error, match", [
    (dict(Y=lambda Y: Y[:, :29]), jaxdnn.ShapeError, r"Y has shape \(1, 29\)"),
    (dict(X=lambda X: X[:2]), jaxdnn.ShapeError,
     r"X has shape \(2, 30\) but W1 has shape \(5, 3\)"),
    (dict(X=lambda X: X[:, :0]), jaxdnn.ShapeError, "at least one column"),
    (dict(num_iterations=-1), jaxdnn.OptionError, "num_iterations must not be negative"),
    (dict(num_iterations=2.5), jaxdnn.InputTypeError, "num_iterations must be an integer"),
    (dict(learning_rate=float("nan")), jaxdnn.OptionError, "finite and positive"),
    (dict(learning_rate=0.0), jaxdnn.OptionError, "finite and positive"),
    (dict(momentum=1.0), jaxdnn.OptionError, r"momentum must be in \[0, 1\)"),
    (dict(momentum=0.9, optimizer=optax.adam(0.1)), jaxdnn.OptionError, "optax.sgd"),
    (dict(gram="yes"), jaxdnn.OptionError, "gram must be"),
    (dict(gram=True, optimizer=optax.adam(0.1)), jaxdnn.OptionError, "gram=True needs"),
    (dict(hidden_activation="swish"), jaxdnn.NameLookupError, "unknown activation"),
])
def test_fit_rejects_bad_input(change, error, match):
    X, Y, params = small_problem()
    change = dict(change)
    X = change.pop("X", lambda X: X)(X)
    Y = change.pop("Y", lambda Y: Y)(Y)
    with pytest.raises(error, match=match):
        fit(X, Y, params, **{"num_iterations": 1, **change})


def test_predict_accepts_a_list_of_activations():
    X, Y, params = small_problem()
    a = jaxdnn.predict_proba(X, params, ["tanh", "relu"])
    np.testing.assert_array_equal(a, jaxdnn.predict_proba(X, params, ("tanh", "relu")))


def test_accuracy_and_predict(capsys):
    assert accuracy(np.array([[1, 0, 1, 1]]), np.array([[1, 1, 1, 1]])) == 0.75
    X, Y, params = small_problem()
    result = predict(X, Y, params)
    assert capsys.readouterr().out == f"Accuracy: {result}\n"
    labels = jaxdnn.predict_labels(X, params)
    assert set(np.unique(labels)) <= {0, 1} and result == accuracy(labels, Y)


def test_planar_nn_model_reaches_90_percent():
    X, Y = load_planar_dataset()
    params, costs = nn_model(X, Y.astype(np.float32), 4, num_iterations=10000)
    assert accuracy(jaxdnn.predict_labels(X, params, "tanh"), Y) >= 0.90
    assert costs[-1] < costs[0]


@pytest.fixture(scope="module")
def cat_data():
    return jaxdnn.load_cat_data(DATA)


# The course's numbers, trained through the Gram path (chosen automatically: 12288 > 209). The
# plain loop reproduces them too (scripts/reproduce_course.py --plain); the Gram property above
# ties the two together.
@needs_cat_data
def test_course_L_layer_model_float64(cat_data):
    train_x, train_y, test_x, test_y, _ = cat_data
    params, costs = L_layer_model(train_x, train_y, [12288, 20, 7, 5, 1], num_iterations=2500,
                                  dtype=jnp.float64)
    assert f"{costs[0]:f}" == "0.771749" and f"{costs[2400]:f}" == "0.092878"
    np.testing.assert_allclose(accuracy(jaxdnn.predict_labels(train_x, params), train_y),
                               0.985645933, atol=1e-9)
    assert accuracy(jaxdnn.predict_labels(test_x, params), test_y) == 0.8


@needs_cat_data
def test_course_two_layer_model_float64(cat_data):
    train_x, train_y, test_x, test_y, _ = cat_data
    params, costs = two_layer_model(train_x, train_y, (12288, 7, 1), num_iterations=2500,
                                    dtype=jnp.float64)
    np.testing.assert_allclose(costs[0], 0.693049735659989, rtol=SAME_MATH_RTOL)
    np.testing.assert_allclose(costs[2400], 0.048554785628770, rtol=1e-9)
    assert accuracy(jaxdnn.predict_labels(train_x, params), train_y) == 1.0
    assert accuracy(jaxdnn.predict_labels(test_x, params), test_y) == 0.72


@pytest.mark.parametrize("dtype, rate", [("float32", 1e30), ("float64", 1e200)])
@pytest.mark.parametrize("gram", [False, True])
def test_divergence_stops_and_keeps_the_last_finite_parameters(dtype, rate, gram):
    X, Y = load_planar_dataset()
    params = initialize_parameters_deep([2, 8, 8, 1], jax.random.PRNGKey(0), scheme="he",
                                        dtype=dtype)
    kwargs = dict(hidden_activation="relu", learning_rate=rate, gram=gram)
    with pytest.raises(jaxdnn.TrainingDiverged, match="diverged at iteration") as info:
        fit(X, Y, params, num_iterations=300, **kwargs)
    e = info.value
    assert len(e.costs) == e.iteration + 1 and not np.isfinite(e.costs[-1])
    assert np.isfinite(e.costs[:-1]).all()
    before, _ = fit(X, Y, params, num_iterations=e.iteration, **kwargs)  # healthy up to there
    for key in params:
        assert np.isfinite(np.asarray(e.parameters[key])).all()
        np.testing.assert_array_equal(e.parameters[key], before[key])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("count", [8, 6, 3])
def test_the_guard_stops_at_a_carry_that_is_not_finite_while_the_cost_is(bad, count):
    """One entry of a carried array turns bad at iteration 4 (the cost stays finite): the loop
    reports 4, keeps the carry of iteration 3 and halts (the rows it did not run are NaN); the
    largest finite float is no divergence; a count that ends before iteration 4 sees none."""
    big = np.finfo(np.float32).max

    def step(data, inner, i, k, hyper, program, mask):
        A, n = inner
        return (A.at[1, 2].set(jnp.where(i == 4, bad, big)), n + 1), jnp.float32(0.5)

    body = loop.Body("test", lambda data, carry, *_: (data, (carry.parameters["W1"],
                                                            jnp.int32(0))),
                     step, lambda data, inner, carry, *_: ({"W1": inner[0]}, inner[1], {}),
                     None, loop.every_iteration)
    program = loop.Program(body, (), 8)
    carry = loop.Carry({"W1": jnp.zeros((3, 5), jnp.float32)}, None, {})
    carry, costs, _, diverged, stopped = jax.jit(loop.loop, static_argnames="program")(
        loop.Data(None, None), carry, jnp.int32(0), jnp.int32(count),
        loop.Hyper(jnp.float32(0.1), 0.0), program)
    ran = min(count, 5)
    assert int(diverged) == (4 if count > 4 else -1) and int(stopped) == -1
    assert int(carry.opt_state) == min(count, 4) and float(carry.parameters["W1"][1, 2]) == (
        big if count > 1 else 0)
    assert costs.shape == (8,) and np.isnan(costs[ran:]).all() and (costs[:ran] == 0.5).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stable_path_is_finite_for_pre_activations_up_to_1e4(dtype):
    ZL = jnp.array([[-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4]], dtype)
    for Y in (jnp.zeros_like(ZL), jnp.ones_like(ZL)):
        cost = jaxdnn.compute_cost_from_logits(ZL, Y)
        assert np.isfinite(cost) and cost.dtype == jnp.dtype(dtype)
        A_prev = jnp.ones((1, 7), dtype)
        cache = [((A_prev, ZL[:, :1] * 0 + 1, jnp.zeros((1, 1), dtype)), ZL)]
        AL, _ = jaxdnn.sigmoid(ZL)
        grads = jaxdnn.L_model_backward(AL, Y, cache, stable=True)
        assert all(np.isfinite(np.asarray(g)).all() for g in grads.values())
    # the literal chain divides by AL(1 - AL) = 0 there: it says so rather than return inf/NaN
    with pytest.raises(jaxdnn.SaturationError, match=r"AL is exactly 0 or 1 at \d+ of 7"):
        jaxdnn.L_model_backward(AL, jnp.zeros_like(ZL), cache)
    with pytest.raises(jaxdnn.SaturationError, match="compute_cost_from_logits"):
        jaxdnn.compute_cost(AL, jnp.zeros_like(ZL))


# --- a softmax output ---------------------------------------------------------------------


def six_blobs():
    X, Y = jaxdnn.load_dataset("blobs", multiclass=True)
    params = initialize_parameters_deep([2, 8, 6], jax.random.PRNGKey(0), scheme="he")
    return X, Y, params


def test_softmax_learns_the_six_blobs_from_ids_or_one_hot_alike():
    X, ids, params = six_blobs()
    kwargs = dict(hidden_activation="tanh", output="softmax", learning_rate=0.5,
                  num_iterations=2000)
    trained, costs = fit(X, ids, params, **kwargs)
    assert costs[-1] < costs[0] / 10
    labels = jaxdnn.predict_labels(X, trained, "tanh", output="softmax")
    assert labels.shape == (1, 200) and set(np.unique(labels)) <= set(range(6))
    assert jaxdnn.accuracy(labels, ids, num_classes=6) > 0.9
    assert predict(X, ids, trained, "tanh", output="softmax") == accuracy(labels, ids, 6)
    one_hot = np.eye(6)[:, ids[0]]
    _, same_costs = fit(X, one_hot, params, **kwargs)
    np.testing.assert_array_equal(costs, same_costs)  # one rule: ids are one-hot columns
    np.testing.assert_allclose(np.asarray(jaxdnn.predict_proba(X, trained, "tanh",
                                                               output="softmax")).sum(axis=0),
                               1, rtol=SAME_MATH_RTOL)


@pytest.mark.parametrize("labels, error, message", [
    (lambda ids: ids + 1, jaxdnn.DataError, r"class ids 0\.\.5; found 6"),
    (lambda ids: ids - 0.5, jaxdnn.DataError, r"class ids 0\.\.5; found -0\.5"),
    (lambda ids: np.eye(6)[:, ids[0]] * 2, jaxdnn.DataError, "labels 0 or 1"),
    (lambda ids: np.zeros((6, 200)), jaxdnn.DataError, "must be one-hot: column 0 sums to 0"),
    (lambda ids: np.ones((5, 200)), jaxdnn.ShapeError,
     r"needs one-hot labels \(6, 200\) or class ids \(1, 200\)"),
])
def test_softmax_labels_follow_one_rule(labels, error, message):
    X, ids, params = six_blobs()
    with pytest.raises(error, match=message):
        fit(X, labels(ids), params, output="softmax", num_iterations=1)


def test_softmax_needs_two_classes_and_sigmoid_needs_binary_labels():
    X, ids, params = six_blobs()
    one = initialize_parameters_deep([2, 8, 1], jax.random.PRNGKey(0))
    with pytest.raises(jaxdnn.ShapeError, match="softmax output needs K >= 2 classes, the rows "
                                                "of the last W in parameters"):
        fit(X, ids * 0, one, output="softmax", num_iterations=1)
    with pytest.raises(jaxdnn.DataError, match="labels 0 or 1; found 2"):
        fit(X, ids, one, num_iterations=1)  # six-class ids for a sigmoid
    with pytest.raises(jaxdnn.NameLookupError, match="unknown output 'tanh'"):
        fit(X, ids, params, output="tanh", num_iterations=1)


# --- the course's activation study------------------------------------------------------

SEED_004 = {  # "The cost after i iterations is: c" for i = 100, 200, ..., 3000, and test accuracy
    "relu": ([0.6556, 0.6468, 0.6447, 0.6441, 0.6440, 0.6440, 0.6440, 0.6440, 0.6440, 0.6440,
              0.6439, 0.6439, 0.6439, 0.6439, 0.6439, 0.6439, 0.6438, 0.6437, 0.6435, 0.6432,
              0.6423, 0.6395, 0.6259, 0.5408, 0.5262, 0.4727, 0.4386, 0.3493, 0.1877, 0.3641],
             0.42),
    "tanh": ([0.6556, 0.6468, 0.6447, 0.6441, 0.6440, 0.6440, 0.6440, 0.6439, 0.6439, 0.6439,
              0.6439, 0.6439, 0.6438, 0.6438, 0.6437, 0.6434, 0.6429, 0.6413, 0.6361, 0.6124],
             None),  # chaotic from 2100 on: rounding decides the rest (README)
}


@needs_cat_data
@pytest.mark.parametrize("activation", sorted(SEED_004))
def test_seed_004_activation_study(activation):
    """[12288, 5, 5, 1], randn * 0.01 after np.random.seed(1), learning rate 0.03, float64. The
    seed prints the cost of the parameters before the i-th update as "after i iterations"."""
    printed, test_accuracy = SEED_004[activation]
    train_x, train_y, test_x, test_y, _ = jaxdnn.load_cat_data(DATA)
    study = jaxdnn.COURSE_MODELS["activation_study"]
    params = initialize_parameters_deep([12288, *study.hidden, 1], numpy_seed=study.seed,
                                        scheme=study.scheme, dtype="float64")
    params, costs = fit(train_x, train_y, params, hidden_activation=activation,
                        learning_rate=study.learning_rate, num_iterations=100 * len(printed))
    assert [f"{costs[i - 1]:.4f}" for i in range(100, 100 * len(printed) + 1, 100)] == \
        [f"{c:.4f}" for c in printed]
    if test_accuracy is not None:
        labels = jaxdnn.predict_labels(test_x, params, activation)
        assert accuracy(labels, test_y) == test_accuracy


def test_l2_shrinks_the_weights_and_keeps_the_plain_loop():
    X, Y, params = small_problem()
    plain, _ = fit(X, Y, params, learning_rate=0.1, num_iterations=200)
    shrunk, _ = fit(X, Y, params, learning_rate=0.1, num_iterations=200, lambd=2.0)
    def norm(p):
        return sum(float(np.sum(np.asarray(p[k]) ** 2)) for k in p if k[0] == "W")
    assert norm(shrunk) < norm(plain)
    # the recorded cost includes the penalty, as compute_cost_with_regularization computes it
    AL, _ = jaxdnn.L_model_forward(X, shrunk)
    final = jaxdnn.compute_cost_with_regularization(AL, Y, shrunk, 2.0)
    _, next_costs = fit(X, Y, shrunk, learning_rate=0.1, num_iterations=1, lambd=2.0)
    np.testing.assert_allclose(next_costs[0], final, rtol=1e-12)
    tall_X = jnp.asarray(np.random.RandomState(1).randn(40, 30))
    tall = initialize_parameters_deep([40, 5, 1], jax.random.PRNGKey(0))
    assert fit(tall_X, Y, tall, num_iterations=3, lambd=0.5).path == "plain"  # auto: plain
    with pytest.raises(jaxdnn.OptionError, match="gram=True needs .* without L2.*got L2"):
        fit(tall_X, Y, tall, num_iterations=3, lambd=0.5, gram=True)


def test_dropout_training_resumes_bit_for_bit_and_predicts_without_dropout():
    X, Y, params = small_problem()
    options = dict(learning_rate=0.1, keep_prob=(0.7, 0.9), key=jax.random.PRNGKey(4))
    whole, whole_costs = fit(X, Y, params, num_iterations=20, **options)
    state = jaxdnn.init_train_state(params)
    for n in (7, 13):
        state, costs = jaxdnn.train_steps(X, Y, state, n, **options)
    for key in whole:
        np.testing.assert_array_equal(np.asarray(state.parameters[key]), np.asarray(whole[key]))
    np.testing.assert_array_equal(costs, whole_costs[7:])
    other, _ = fit(X, Y, params, num_iterations=20, **dict(options, key=jax.random.PRNGKey(5)))
    assert not np.array_equal(np.asarray(other["W1"]), np.asarray(whole["W1"]))  # masks differ
    np.testing.assert_array_equal(jaxdnn.predict_proba(X, whole),  # no dropout at prediction
                                  jaxdnn.L_model_forward(X, whole)[0])
    tall_X = jnp.asarray(np.random.RandomState(1).randn(40, 30))
    tall = initialize_parameters_deep([40, 5, 1], jax.random.PRNGKey(0))
    with pytest.raises(jaxdnn.OptionError, match="gram=True needs .*got dropout"):
        fit(tall_X, Y, tall, num_iterations=3, keep_prob=0.5, key=jax.random.PRNGKey(0),
            gram=True)


def test_an_initial_overflow_is_not_called_a_divergence():
    """A fresh run whose initial parameters already overflow says so (initialisation, inputs),
    not "try a smaller learning rate"; a divergence later keeps that advice."""
    dims = [2] + [50] * 50 + [1]
    X, Y = load_planar_dataset()
    params = initialize_parameters_deep(dims, jax.random.PRNGKey(0), scheme="he",
                                        dtype="float32")
    huge = {k: v * 8 for k, v in params.items()}
    with pytest.raises(jaxdnn.TrainingDiverged,
                       match=r"initial parameters already overflow \(the forward pass "
                             r"overflowed at layer \d+: Z\d+ .*not the cause") as info:
        fit(X, Y, huge, num_iterations=10)
    assert info.value.iteration == 0 and "smaller learning rate" not in str(info.value)
    with pytest.raises(jaxdnn.TrainingDiverged,
                       match=r"diverged at iteration \d+ .*smaller learning rate") as info:
        fit(X, Y, initialize_parameters_deep([2, 8, 1], jax.random.PRNGKey(0), scheme="he",
                                             dtype="float32"), learning_rate=1e30,
            num_iterations=10)
    assert "initial" not in str(info.value)


def test_float64_parameters_without_x64_are_one_error_not_jax_warnings(tmp_path):
    """A float64 checkpoint resumed in a process without x64: our one line, no JAX warnings."""
    import subprocess
    import sys

    code = """
import warnings, jax, jax.numpy as jnp, numpy as np
warnings.simplefilter("error")
import jaxdnn
params = {k: np.asarray(v, np.float64) for k, v in jaxdnn.initialize_parameters_deep(
    [2, 3, 1], numpy_seed=1).items()}
X, Y = jaxdnn.load_planar_dataset()
state = jaxdnn.init_train_state(params)
try:
    jaxdnn.train_steps(X, Y, state, 5)
except jaxdnn.OptionError as e:
    print(e)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**__import__("os").environ, "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "float64 but jax's x64 mode is off" in result.stdout


@given(st.data())
def test_the_guard_sees_every_non_finite_value_and_no_overflow(data):
    """The loop's finiteness check over a carry (leaves of shared shapes, as a parameter and its
    optimiser moments): False exactly when some element is inf or NaN, and True for finite
    values near the dtype's largest (a check that summed them would overflow)."""
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    big = float(np.finfo(dtype).max)
    shapes = data.draw(st.lists(st.sampled_from([(), (3,), (2, 3), (4, 1)]), min_size=1,
                                max_size=6))
    leaves = [np.array(data.draw(st.lists(st.floats(-big, big, width=np.finfo(dtype).bits),
                                          min_size=int(np.prod(s)), max_size=int(np.prod(s)))),
                       dtype).reshape(s) for s in shapes]
    if data.draw(st.booleans()):
        k = data.draw(st.integers(0, len(leaves) - 1))
        if leaves[k].size:
            flat = leaves[k].reshape(-1)
            flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(
                st.sampled_from([np.inf, -np.inf, np.nan]))
    tree = {"leaves": leaves, "count": np.int32(7)}  # integer leaves are not floats to check
    expected = all(np.isfinite(x).all() for x in leaves)
    assert bool(jax.jit(loop._all_finite)(tree)) == expected
