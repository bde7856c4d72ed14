"""Early stopping and learning-rate schedules, the two options that came through the one
training door: properties of what they return, and that they cut and resume like any run.

float64 throughout (x64 is on for the suite, see conftest.py): the comparisons between two runs
of the same steps are bitwise where the two are one program by construction, else bounded by
SAME_MATH_RTOL (tolerances.py)."""

import jax
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import SAME_MATH_RTOL

import jaxdnn
from jaxdnn import OptionError, network_cost


def _problem(seed, m=120):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, m))
    Y = (X[0] * X[1] + 0.3 * rng.standard_normal(m) > 0).astype(np.float64)[None]
    params = jaxdnn.initialize_parameters_deep([2, 6, 1], numpy_seed=seed % 1000 + 1)
    return X, Y, params


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), patience=st.integers(1, 6),
       min_delta=st.sampled_from([0.0, 1e-4, 1e-2]))
def test_early_stopping_returns_the_best_epoch_never_worse_than_the_last(seed, patience,
                                                                         min_delta):
    X, Y, params = _problem(seed)
    Xv, Yv, _ = _problem(seed + 1, m=60)
    result = jaxdnn.fit(X, Y, params, hidden_activation="tanh", learning_rate=2.0,
                        num_epochs=80, mini_batch_size=40, key=jax.random.PRNGKey(seed),
                        validation_data=(Xv, Yv), patience=patience, min_delta=min_delta)
    curve = np.asarray(result.validation_costs)
    ran = result.stopped_epoch + 1 if result.stopped_epoch is not None else 80
    assert curve.shape == (ran,)
    best = result.best_epoch
    assert curve[best] <= curve[-1] and curve[best] == np.min(curve)
    returned = network_cost(Xv, Yv, result.parameters, "tanh")
    np.testing.assert_allclose(returned, curve[best], rtol=SAME_MATH_RTOL)
    if result.stopped_epoch is not None:  # no improvement by min_delta for patience epochs
        assert result.stopped_epoch - best >= patience or min_delta
        assert np.all(curve[best + 1:] > np.min(curve[:best + 1]) - min_delta)


def test_the_best_parameters_are_those_of_the_run_cut_at_the_best_epoch():
    X, Y, params = _problem(3)
    Xv, Yv, _ = _problem(4, m=60)
    options = dict(hidden_activation="tanh", learning_rate=2.0, mini_batch_size=40,
                   key=jax.random.PRNGKey(3))
    early = jaxdnn.fit(X, Y, params, num_epochs=200, validation_data=(Xv, Yv), patience=3,
                       **options)
    assert early.stopped_epoch is not None and early.stopped_epoch < 199  # it did stop
    cut, _ = jaxdnn.fit(X, Y, params, num_epochs=early.best_epoch + 1, **options)
    for name in params:
        np.testing.assert_allclose(early.parameters[name], cut[name], rtol=SAME_MATH_RTOL)


def test_validation_fraction_holds_out_a_stratified_share_and_trains_on_the_rest():
    X, Y, params = _problem(5, m=200)
    result = jaxdnn.fit(X, Y, params, hidden_activation="tanh", learning_rate=1.0,
                        num_iterations=30, validation_fraction=0.25)
    assert result.validation_costs.shape == (30,)  # full batch: an epoch is an iteration
    again = jaxdnn.fit(X, Y, params, hidden_activation="tanh", learning_rate=1.0,
                       num_iterations=30, validation_fraction=0.25, validation_seed=1)
    assert not np.array_equal(result.validation_costs, again.validation_costs)  # another draw
    with pytest.raises(OptionError, match="validation_fraction"):
        jaxdnn.fit(X, Y, params, num_iterations=3, validation_fraction=1.0)


def test_early_stopping_catches_a_validation_curve_that_never_improves():
    X, Y, params = _problem(6)
    result = jaxdnn.fit(X, Y, params, hidden_activation="tanh", learning_rate=1.0,
                        num_iterations=50, validation_data=(X, 1 - Y), patience=2,
                        min_delta=1e9)  # no epoch improves by 1e9
    assert result.best_epoch == 0 and result.stopped_epoch == 2


@settings(deadline=None, max_examples=10)
@given(rate=st.floats(0.01, 2.0), optimizer=st.sampled_from([None, "momentum", "adam"]))
def test_a_schedule_of_constant_value_is_the_run_without_one(rate, optimizer):
    X, Y, params = _problem(7)
    options = dict(hidden_activation="tanh", num_epochs=8, mini_batch_size=40,
                   key=jax.random.PRNGKey(7))
    options.update({None: {}, "momentum": {"momentum": 0.9},
                    "adam": {"optimizer": "adam"}}[optimizer])
    plain, costs = jaxdnn.fit(X, Y, params, learning_rate=rate, **options)
    for schedule in (dict(learning_rate=optax.constant_schedule(rate)),
                     dict(learning_rate=rate, schedule="exponential", decay_rate=1.0)):
        got, got_costs = jaxdnn.fit(X, Y, params, **schedule, **options)
        np.testing.assert_array_equal(got_costs, costs)
        for name in params:
            np.testing.assert_array_equal(got[name], plain[name])


@pytest.mark.parametrize("schedule", [
    dict(schedule="cosine", decay_steps=40, warmup_steps=5),
    dict(schedule="exponential", decay_steps=7, decay_rate=0.5),
])
def test_a_schedule_resumes_bit_for_bit_mid_schedule(schedule):
    X, Y, params = _problem(8)
    options = dict(hidden_activation="tanh", learning_rate=1.5, **schedule)
    whole, whole_costs = jaxdnn.train_steps(X, Y, jaxdnn.init_train_state(params), 40, **options)
    first, costs = jaxdnn.train_steps(X, Y, jaxdnn.init_train_state(params), 13, **options)
    second, more = jaxdnn.train_steps(X, Y, first, 27, **options)
    np.testing.assert_array_equal(np.concatenate([costs, more]), whole_costs)
    for name in params:
        np.testing.assert_array_equal(second.parameters[name], whole.parameters[name])


def test_the_cosine_schedule_is_optax_s_in_plain_descent():
    X, Y, params = _problem(9)
    ours, _ = jaxdnn.fit(X, Y, params, hidden_activation="tanh", learning_rate=1.5,
                         schedule="cosine", warmup_steps=4, num_iterations=30)
    schedule = optax.warmup_cosine_decay_schedule(0.0, 1.5, 4, 30)
    theirs, _ = jaxdnn.fit(X, Y, params, hidden_activation="tanh", learning_rate=schedule,
                           num_iterations=30)
    for name in params:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=SAME_MATH_RTOL)
    constant, _ = jaxdnn.fit(X, Y, params, hidden_activation="tanh", learning_rate=1.5,
                             num_iterations=30)
    assert not np.allclose(ours["W1"], constant["W1"])  # the schedule does change the run


def test_schedule_options_are_checked_naming_them():
    X, Y, params = _problem(10)
    for options, match in ((dict(schedule="linear"), "schedule"),
                           (dict(schedule="exponential", decay_rate=1.5), "decay_rate"),
                           (dict(warmup_steps=-1), "warmup_steps"),
                           (dict(optimizer=optax.adam(0.1), schedule="cosine"), "optax")):
        with pytest.raises(jaxdnn.JaxdnnError, match=match):
            jaxdnn.fit(X, Y, params, num_iterations=3, **options)
    with pytest.raises(OptionError, match="decay_steps"):
        jaxdnn.train_steps(X, Y, jaxdnn.init_train_state(params), 3, schedule="cosine")
