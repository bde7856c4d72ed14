"""Mini-batch training: the compiled loop equals a Python loop over the course's batches."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from tolerances import SAME_MATH_RTOL

import jaxdnn
from jaxdnn import (
    L_model_backward,
    L_model_forward,
    compute_cost_from_logits,
    fit,
    init_train_state,
    train_steps,
    update_parameters,
)
from jaxdnn.core import kernels
from jaxdnn.testing import problems
from jaxdnn.train import batches, loop
from jaxdnn.train.batches import epoch_costs, random_mini_batches

OPTIMIZERS = {"gd": (None, 0.0), "momentum": (None, 0.9), "adam": (optax.adam(0.01), 0.0)}


def python_loop(case, size, epochs, key, learning_rate, lambd, keep_prob, optimizer):
    """The reference: the course's loop, written with the public chain, one batch at a time."""
    opt, momentum = OPTIMIZERS[optimizer]
    shuffle_key, dropout_key = jax.random.split(key)
    full_batch = size == case.X.shape[1]  # full-batch descent: unshuffled, its dropout keys
    if full_batch:
        dropout_key = key
    params, state = dict(case.parameters), init_train_state(
        case.parameters, momentum=momentum, optimizer=opt).opt_state
    one_batch = jax.jit(_one_batch, static_argnums=range(4, 9))  # the chain, traced per shape
    costs, i = [], 0
    for epoch in range(epochs):
        for Xb, Yb in ([(case.X, case.Y)] if full_batch else random_mini_batches(
                case.X, case.Y, size, jax.random.fold_in(shuffle_key, epoch))):
            params, state, cost = one_batch(
                params, state, (Xb, Yb), jax.random.fold_in(dropout_key, i),
                case.hidden_activation, case.output, keep_prob, lambd,
                (optimizer, learning_rate))
            costs.append(cost)
            i += 1
    return params, np.array(costs)


def _one_batch(params, state, batch, key, hidden_activation, output, keep_prob, lambd, rule):
    """One iteration of the course's loop on one batch: cost, backward, update."""
    (Xb, Yb), (optimizer, learning_rate) = batch, rule
    opt, momentum = OPTIMIZERS[optimizer]
    AL, caches = L_model_forward(Xb, params, hidden_activation, output=output,
                                 keep_prob=keep_prob, key=key)
    penalty = lambd / (2 * Xb.shape[1]) * sum(jnp.sum(params[k] ** 2)
                                              for k in params if k[0] == "W")
    cost = compute_cost_from_logits(caches[-1][1], Yb, output=output) + penalty
    grads = L_model_backward(AL, Yb, caches, hidden_activation, stable=True,
                             output=output, lambd=lambd)
    grads = {k: v for k, v in grads.items() if k[1] != "A"}
    if opt is not None:
        with jax.numpy_dtype_promotion("standard"):  # optax mixes int and float
            updates, state = opt.update({k[1:]: g for k, g in grads.items()}, state, params)
        return optax.apply_updates(params, updates), state, cost
    if momentum:
        state = {k: grads[f"d{k}"] + momentum * state[k] for k in params}
        return update_parameters(params, {f"d{k}": v for k, v in state.items()},
                                 learning_rate), state, cost
    return update_parameters(params, grads, learning_rate), state, cost


def compiled(case, size, epochs, key, learning_rate, lambd, keep_prob, optimizer):
    opt, momentum = OPTIMIZERS[optimizer]
    state = init_train_state(case.parameters, momentum=momentum, optimizer=opt)
    steps = epochs * -(-case.X.shape[1] // size)
    state, costs = train_steps(case.X, case.Y, state, steps,
                               hidden_activation=case.hidden_activation, output=case.output,
                               learning_rate=learning_rate, momentum=momentum, optimizer=opt,
                               lambd=lambd, keep_prob=keep_prob, key=key, mini_batch_size=size)
    return state.parameters, costs


def relative(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)


@st.composite
def batch_runs(draw):
    case = draw(problems("float64", max_depth=4, max_width=6, max_examples=20,
                         outputs=("sigmoid", "softmax"), bias=("random",)))
    m = case.X.shape[1]
    size = draw(st.integers(1, m), label="mini_batch_size")
    hidden = len(case.parameters) // 2 - 1
    keep = draw(st.sampled_from([1.0, 0.8]), label="keep_prob") if hidden else 1.0
    return (case, size, draw(st.integers(1, 2), label="epochs"),
            jax.random.PRNGKey(draw(st.integers(0, 2**31), label="key")),
            draw(st.sampled_from([0.05, 0.3]), label="learning_rate"),
            draw(st.sampled_from([0.0, 0.7]), label="lambd"), keep,
            draw(st.sampled_from(sorted(OPTIMIZERS)), label="optimizer"))


def mini_batch_property(max_examples=None):
    """Compiled mini-batch training == the Python loop over random_mini_batches, to rounding.
    By default at most 25 examples: every example compiles a new program (its shapes)."""
    @settings(**({"max_examples": max_examples, "phases": [Phase.generate], "database": None}
                 if max_examples else {"max_examples": min(25, settings().max_examples)}))
    @given(run=batch_runs())
    def check(run):
        case, size, epochs = run[:3]
        expected, expected_costs = python_loop(*run)
        params, costs = compiled(*run)
        for k in expected:
            assert relative(params[k], expected[k]) <= SAME_MATH_RTOL, \
                f"{k} differs from the Python loop (m={case.X.shape[1]}, batch {size})"
        np.testing.assert_allclose(costs, expected_costs, rtol=SAME_MATH_RTOL, atol=0)

    return check


def test_compiled_mini_batches_equal_the_python_loop_over_the_same_batches():
    mini_batch_property()()


def _last_batch_averaged_over_full_size(size):
    real = kernels.cost_and_grads

    def broken(X, Y, layers, activations, lambd=0.0, masks=()):
        cost, grads = real(X, Y, layers, activations, lambd, masks)
        scale = X.shape[1] / size  # the ragged batch divided by the full size, not its own
        return cost * scale, [(dW * scale, db * scale) for dW, db in grads]

    return broken


@pytest.fixture
def fresh_compilations():
    """A fault is traced in only if nothing compiled before it is reused."""
    jax.clear_caches()
    yield
    jax.clear_caches()


def test_a_last_batch_averaged_over_the_full_size_is_caught(monkeypatch, fresh_compilations):
    rng = np.random.RandomState(0)
    X, Y = rng.randn(3, 10), (rng.rand(1, 10) < 0.5).astype(float)
    params = {"W1": jnp.asarray(rng.randn(4, 3)), "b1": jnp.zeros((4, 1)),
              "W2": jnp.asarray(rng.randn(1, 4)), "b2": jnp.zeros((1, 1))}
    case = type("Case", (), dict(X=X, Y=Y, parameters=params, hidden_activation="relu",
                                 output="sigmoid"))
    run = (case, 4, 2, jax.random.PRNGKey(1), 0.3, 0.0, 1.0, "gd")  # batches 4, 4, 2
    monkeypatch.setattr(kernels, "cost_and_grads", _last_batch_averaged_over_full_size(4))
    expected, _ = python_loop(*run)
    params, _ = compiled(*run)
    assert relative(params["W1"], expected["W1"]) > 1e-3
    # and the property search finds it on its own
    with pytest.raises(AssertionError):
        monkeypatch.setattr(kernels, "cost_and_grads",
                            _last_batch_averaged_over_full_size(3))
        mini_batch_property(max_examples=100)()


def test_random_mini_batches_cut_a_permutation_into_batches():
    X = np.arange(2 * 10, dtype=float).reshape(2, 10)
    Y = np.arange(10, dtype=float)[None]
    batches = random_mini_batches(X, Y, 4, jax.random.PRNGKey(0))
    assert [b[0].shape[1] for b in batches] == [4, 4, 2]  # the last one keeps the remainder
    order = np.concatenate([b[1][0] for b in batches]).astype(int)
    assert sorted(order) == list(range(10)) and list(order) != list(range(10))
    for Xb, Yb in batches:  # columns stay paired
        np.testing.assert_array_equal(Xb[1], X[1, Yb[0].astype(int)])
    again = random_mini_batches(X, Y, 4, 0)  # an integer seed means PRNGKey(seed)
    np.testing.assert_array_equal(again[0][1], batches[0][1])


def test_epoch_costs_are_the_course_cost_total_over_m():
    costs = np.array([1.0, 2.0, 4.0, 3.0, 3.0, 3.0])  # m = 10, batches of 4, 4, 2
    np.testing.assert_allclose(epoch_costs(costs, 10, 4), [(4 + 8 + 8) / 10, 3.0])


@given(m=st.integers(1, 300), size=st.integers(1, 300), epochs=st.integers(1, 5),
       seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(["float32", "float64"]))
def test_an_epoch_cost_is_one_number_whichever_epochs_come_with_it(m, size, epochs, seed,
                                                                     dtype):
    """A run reports each epoch's cost as its epochs end (one at a time) and returns them all:
    the two must be the same number on any CPU, so an epoch's cost may not depend on the other
    rows passed with it (a matrix product picks its kernel, hence its summation order, by
    shape). Each epoch is the exactly rounded sum: its bits are checked against math.fsum."""
    import math

    size = min(size, m)
    per = -(-m // size)
    costs = np.random.default_rng(seed).uniform(0, 5, per * epochs).astype(dtype)
    together = epoch_costs(costs, m, size)
    alone = [epoch_costs(costs[e * per:(e + 1) * per], m, size)[0] for e in range(epochs)]
    assert together.tobytes() == np.array(alone).tobytes()
    sizes = [size] * (per - 1) + [m - size * (per - 1)]
    exact = [math.fsum(float(c) * b for c, b in zip(costs[e * per:(e + 1) * per], sizes,
                                                    strict=True)) / m for e in range(epochs)]
    assert together.tolist() == exact


def _problem(m=50, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(4, m)
    Y = (X[:1] + X[1:2] > 0).astype(float)
    params = jaxdnn.initialize_parameters_deep([4, 6, 3, 1], key=jax.random.PRNGKey(seed),
                                               dtype="float64")
    return X, Y, params


def test_a_run_split_mid_epoch_resumes_bit_for_bit(tmp_path):
    X, Y, params = _problem()
    options = dict(optimizer=optax.adam(0.01), key=jax.random.PRNGKey(5), mini_batch_size=16,
                   keep_prob=0.8, lambd=0.1)  # 4 batches per epoch: 16, 16, 16, 2
    start = init_train_state(params, optimizer=options["optimizer"])
    whole, whole_costs = train_steps(X, Y, start, 10, **options)
    first, c1 = train_steps(X, Y, start, 6, **options)  # stops inside epoch 1
    jaxdnn.save_checkpoint(tmp_path / "c.npz", first, c1)
    loaded, costs, _ = jaxdnn.load_checkpoint(tmp_path / "c.npz", first.opt_state)
    resumed, c2 = train_steps(X, Y, loaded, 4, **options)
    split, _ = train_steps(X, Y, first, 4, **options)
    assert resumed.iteration == whole.iteration == 10
    for k in params:
        np.testing.assert_array_equal(resumed.parameters[k], split.parameters[k])
        np.testing.assert_array_equal(resumed.parameters[k], whole.parameters[k])
    np.testing.assert_array_equal(np.concatenate([costs, c2]), whole_costs)


def test_fit_in_epochs_reports_epoch_costs_and_the_monitored_sets():
    """The reported costs are the very elements returned (bits, not to rounding)."""
    X, Y, params = _problem(60)
    Xt, Yt, _ = _problem(30, seed=1)
    lines = []
    result = fit(X, Y, params, learning_rate=0.5, mini_batch_size=16, num_epochs=201,
                 key=jax.random.PRNGKey(0), monitor=[(X, Y), (Xt, Yt)],
                 on_cost=lambda e, c: lines.append((e, c)))
    trained, costs, monitored = result.parameters, result.costs, result.monitored
    assert costs.shape == (201,) and monitored.shape == (201, 2)
    assert [e for e, _ in lines] == [0, 100, 200]  # every 100th epoch, as the course prints
    assert [c for _, c in lines] == costs[::100].tolist()
    final = [compute_cost_from_logits(L_model_forward(x, trained)[1][-1][1], y)
             for x, y in ((X, Y), (Xt, Yt))]
    np.testing.assert_allclose(monitored[-1], final, rtol=1e-12)
    assert monitored[-1, 0] < monitored[0, 0] and costs[-1] < costs[0]


def test_full_batch_monitor_costs_after_every_iteration():
    X, Y, params = _problem(20)
    result = fit(X, Y, params, num_iterations=3, monitor=[(X, Y)])
    _, more = fit(X, Y, result.parameters, num_iterations=1)
    assert result.monitored.shape == (3, 1)
    np.testing.assert_allclose(result.monitored[-1, 0], more[0], rtol=1e-12)  # the next cost
    with pytest.warns(DeprecationWarning, match="result.monitored"):
        trained, costs, monitored = result  # the older three values, for one more release
    assert monitored is result.monitored and costs is result.costs


def test_one_batch_of_all_examples_is_full_batch_descent():
    X, Y, params = _problem(20)
    expected, expected_costs = fit(X, Y, params, num_iterations=5, learning_rate=0.1)
    result = fit(X, Y, params, num_epochs=5, mini_batch_size=20, learning_rate=0.1)
    trained, costs = result
    assert result.path == "plain"  # the full-batch program, not the mini-batch one
    np.testing.assert_array_equal(costs, expected_costs)
    for k in params:
        np.testing.assert_array_equal(trained[k], expected[k])


def _dots(text):
    return len(re.findall(r"\bdot\(", text))


def test_a_mini_batch_iteration_does_the_dot_products_of_a_full_batch_one():
    X, Y, params = _problem(48)
    activations = jaxdnn.core.network.layer_activations("relu", 3)
    carry, rest = loop.Carry(params, None, {}), (jnp.int32(0), jnp.int32(4),
                                                 loop.Hyper(jnp.full(4, 0.1), jnp.float64(0.0)))
    plain = loop.run.lower(loop.Data(jnp.asarray(X), jnp.asarray(Y)), carry, *rest,
                           program=loop.Program(loop.PLAIN, activations, 4))
    batched = loop.run.lower(loop.Data(jnp.asarray(X), jnp.asarray(Y), jax.random.PRNGKey(0)),
                             carry, *rest, program=loop.Program(
                                 batches.BODY, activations, 4, mini_batch_size=16,
                                 per_epoch=3))
    n_plain, n_batched = _dots(plain.compile().as_text()), _dots(batched.compile().as_text())
    assert n_plain > 0 and n_batched == n_plain


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(mini_batch_size=0, num_epochs=1), jaxdnn.OptionError, "mini_batch_size must be at "
                                                                 "least 1; got 0"),
    (dict(mini_batch_size=51, num_epochs=1), jaxdnn.OptionError, "between 1 and m = 50"),
    (dict(mini_batch_size=2.5, num_epochs=1), jaxdnn.InputTypeError, "mini_batch_size"),
    (dict(mini_batch_size=True, num_epochs=1), jaxdnn.InputTypeError, "mini_batch_size"),
    (dict(mini_batch_size=10), jaxdnn.OptionError, "needs num_epochs"),
    (dict(mini_batch_size=10, num_iterations=5), jaxdnn.OptionError, "counts in epochs"),
    (dict(num_iterations=5, num_epochs=5), jaxdnn.OptionError, "not both"),
    (dict(mini_batch_size=10, num_epochs=1, key=None), jaxdnn.InputTypeError, "key="),
    (dict(mini_batch_size=10, num_epochs=1, gram=True), jaxdnn.OptionError, "gram=True"),
    (dict(num_epochs=1, monitor=[np.ones((4, 3))]), jaxdnn.InputTypeError, "sequence of"),
    (dict(num_epochs=1, monitor=[(np.ones((5, 3)), np.ones((1, 3)))]), jaxdnn.ShapeError,
     "5"),
    (dict(num_epochs=1, monitor=[(np.full((4, 3), np.nan), np.ones((1, 3)))]),
     jaxdnn.DataError, "monitor\\[0\\]'s X"),
])
def test_bad_mini_batch_options_are_refused(kwargs, error, match):
    X, Y, params = _problem()
    kwargs = {"key": jax.random.PRNGKey(0), **kwargs}
    with pytest.raises(error, match=match):
        fit(X, Y, params, **kwargs)


def test_random_mini_batches_refuses_bad_input():
    X, Y = np.ones((2, 5)), np.ones((1, 5))
    with pytest.raises(jaxdnn.OptionError, match="between 1 and m = 5"):
        random_mini_batches(X, Y, 6)
    with pytest.raises(jaxdnn.ShapeError, match="Y has 4"):
        random_mini_batches(X, Y[:, :4], 2)


def test_a_divergence_in_a_later_epoch_keeps_the_last_finite_iterate():
    """The guard halts at the first non-finite batch (here the second of the second epoch) and
    returns the parameters of the iterations before it, bit for bit."""
    X, Y = jaxdnn.load_planar_dataset()
    params = jaxdnn.initialize_parameters_deep([2, 5, 1], numpy_seed=2)
    options = dict(learning_rate=1e3, mini_batch_size=64, key=jax.random.PRNGKey(0))
    with pytest.raises(jaxdnn.TrainingDiverged) as info:
        jaxdnn.fit(X, Y, params, num_epochs=20, **options)
    i = info.value.iteration
    assert i > batches.batches_per_epoch(X.shape[1], 64)  # past the first epoch's order
    state, _ = jaxdnn.train_steps(X, Y, jaxdnn.init_train_state(params), i, **options)
    for name, value in state.parameters.items():
        np.testing.assert_array_equal(info.value.parameters[name], value, err_msg=name)
