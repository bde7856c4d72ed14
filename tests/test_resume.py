"""Training in segments and resuming from checkpoints: bit for bit the same run."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from test_train import small_problem

import jaxdnn
from jaxdnn import (
    DataError,
    TrainState,
    fit,
    init_train_state,
    initialize_parameters_deep,
    load_checkpoint,
    save_checkpoint,
    train_steps,
)

ADAM = optax.adam(0.01)  # one object: the optimizer is a static argument of the compiled loop


def tall_problem(dtype=jnp.float64):
    """n[0] = 40 > m = 30: fit(gram="auto") takes the Gram loop in float64."""
    X, Y, _ = small_problem(dtype)
    X = jnp.asarray(np.random.RandomState(1).randn(40, 30), dtype)
    params = initialize_parameters_deep([40, 6, 1], jax.random.PRNGKey(2), scheme="he",
                                        dtype=dtype)
    return X, Y, params


def softmax_problem(dtype=jnp.float64):
    """Three classes on the tall problem's inputs: the Gram loop with a softmax output."""
    X, _, _ = tall_problem(dtype)
    Y = np.arange(X.shape[1])[None] % 3
    params = initialize_parameters_deep([40, 6, 3], jax.random.PRNGKey(2), scheme="he",
                                        dtype=dtype)
    return X, Y, params


CONFIGS = {
    "gd": (small_problem, dict(learning_rate=0.1)),
    "momentum": (small_problem, dict(learning_rate=0.05, momentum=0.9)),
    "adam": (small_problem, dict(optimizer=ADAM)),
    "gram+momentum": (tall_problem, dict(learning_rate=0.05, momentum=0.9)),
    "float32 adam": (lambda: small_problem(jnp.float32), dict(optimizer=ADAM)),
    "softmax gram+momentum": (softmax_problem, dict(learning_rate=0.05, momentum=0.9,
                                                    output="softmax")),
    "softmax adam": (softmax_problem, dict(optimizer=ADAM, output="softmax")),
}


def segments(X, Y, state, lengths, options):
    costs = []
    for n in lengths:
        state, c = train_steps(X, Y, state, n, **options)
        costs.append(c)
    return state, np.concatenate(costs)


def assert_same_bits(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
        assert np.asarray(a[key]).dtype == np.asarray(b[key]).dtype


@pytest.mark.parametrize("config", CONFIGS)
def test_resumed_from_a_checkpoint_is_bit_identical(config, tmp_path):
    problem, options = CONFIGS[config]
    X, Y, params = problem()
    start = init_train_state(params, momentum=options.get("momentum", 0.0),
                             optimizer=options.get("optimizer"))
    straight, straight_costs = segments(X, Y, start, [8, 8, 8, 6], options)

    first, first_costs = segments(X, Y, start, [8, 8], options)
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, first, first_costs, {"config": config})
    del first
    template = init_train_state(params, momentum=options.get("momentum", 0.0),
                                optimizer=options.get("optimizer")).opt_state
    loaded, loaded_costs, meta = load_checkpoint(path, template)
    assert loaded.iteration == 16 and meta["config"] == config
    resumed, resumed_costs = segments(X, Y, loaded, [8, 6], options)

    assert resumed.iteration == straight.iteration == 30
    assert_same_bits(resumed.parameters, straight.parameters)
    np.testing.assert_array_equal(np.concatenate([loaded_costs, resumed_costs]), straight_costs)
    # and segments compute the bits of one uninterrupted fit (the Gram path's state included)
    whole, whole_costs = fit(X, Y, params, num_iterations=30, **options)
    assert_same_bits(straight.parameters, whole)
    np.testing.assert_array_equal(straight_costs, whole_costs)


@pytest.mark.parametrize("config", [*CONFIGS, "mini-batches adam"])
def test_the_compiled_length_changes_no_bit(config):
    """A loop compiled for more iterations than it runs (a traced count; 40 for 11) gives the
    bits of one compiled for exactly those: the parameters, the optimiser state, every cost."""
    if config == "mini-batches adam":
        problem, options = small_problem, dict(optimizer=ADAM, mini_batch_size=16,
                                               key=jax.random.PRNGKey(4))
    else:
        problem, options = CONFIGS[config]
    X, Y, params = problem()
    start = init_train_state(params, momentum=options.get("momentum", 0.0),
                             optimizer=options.get("optimizer"))
    runs = [train_steps(X, Y, start, 11, compiled_length=length, **options)
            for length in (11, 40)]
    for state, costs in runs[1:]:
        assert state.iteration == 11 and costs.shape == (11,)
        assert_same_bits(state.parameters, runs[0][0].parameters)
        for a, b in zip(jax.tree.leaves(state.opt_state), jax.tree.leaves(runs[0][0].opt_state),
                        strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(costs, runs[0][1])


def test_segment_costs_are_reported_with_their_global_iteration():
    X, Y, params = small_problem()
    seen = []
    state = init_train_state(params)
    for n in (150, 130):
        state, _ = train_steps(X, Y, state, n, learning_rate=0.1,
                               on_cost=lambda i, c: seen.append(i))
    jax.effects_barrier()
    assert seen == [0, 100, 200]


def test_divergence_in_a_later_segment_names_the_global_iteration():
    X, Y, params = small_problem()
    state, _ = train_steps(X, Y, init_train_state(params), 5, learning_rate=0.1)
    with pytest.raises(jaxdnn.TrainingDiverged) as info:
        train_steps(X, Y, state, 20, learning_rate=1e300)
    assert info.value.iteration >= 5
    assert len(info.value.costs) == info.value.iteration - 5 + 1


def test_a_checkpoint_of_another_optimizer_is_refused(tmp_path):
    X, Y, params = small_problem()
    state, costs = train_steps(X, Y, init_train_state(params, optimizer=ADAM), 3,
                               optimizer=ADAM)
    save_checkpoint(tmp_path / "c.npz", state, costs)
    with pytest.raises(DataError, match=r"optimiser state does not fit .* \(13 arrays saved, "
                                        r"6 expected"):
        load_checkpoint(tmp_path / "c.npz", init_train_state(params, momentum=0.9).opt_state)
    with pytest.raises(DataError, match="not a checkpoint"):
        jaxdnn.save_model(tmp_path / "m.npz", params)
        load_checkpoint(tmp_path / "m.npz", None)


def test_train_steps_checks_its_state():
    X, Y, params = small_problem()
    with pytest.raises(jaxdnn.InputTypeError, match="state must be a TrainState"):
        train_steps(X, Y, params, 3)
    with pytest.raises(jaxdnn.InputTypeError, match="state.iteration must be an integer"):
        train_steps(X, Y, TrainState(params, None, 1.5), 3)


def test_optimizer_states_with_python_scalars_are_accepted():
    """States are compared as jax sees them: a custom transformation whose state holds a Python
    int fits the options it was built with, and is refused for others."""
    def init(params):
        return {"count": 0}

    def update(updates, state, params=None):
        return jax.tree.map(lambda g: -0.1 * g, updates), {"count": state["count"] + 1}

    custom = optax.GradientTransformation(init, update)
    X, Y, params = small_problem()
    state, _ = train_steps(X, Y, init_train_state(params, optimizer=custom), 3, optimizer=custom)
    assert int(state.opt_state["count"]) == 3
    with pytest.raises(jaxdnn.OptionError, match="which need the optimizer's state"):
        train_steps(X, Y, init_train_state(params), 3, optimizer=custom)


TAMPERED_RUNS = [  # (recorded setting, value written instead; "training." for a training option)
    ("iterations", "100"), ("iterations", 2**31), ("iterations", -5),
    ("optimizer", 5), ("optimizer", "sgd"), ("training.learning_rate", -1.0),
    ("training.learning_rate", "0.1"), ("dtype", "float16"), ("hidden", ["a", 3]),
    ("hidden", [10**12]), ("hidden", 4), ("hidden_activation", {"relu": 1}), ("seed", 1.5),
    ("data_seed", -1), ("checkpoint_every", "10"), ("training.lambd", -1.0),
    ("training.keep_prob", 2), ("training.patience", 0), ("training.schedule", "linear"),
    ("training.validation_fraction", 1.5), ("training.gram", True), ("training", [1]),
    ("dataset", "mnist"), ("output", ["sigmoid"]), ("init", None),
]


@pytest.mark.parametrize("field, value", TAMPERED_RUNS)
def test_a_checkpoints_recorded_settings_are_checked_as_the_command_line(tmp_path, field,
                                                                         value):
    """A tampered checkpoint's settings: refused by name, as the command line's would be: the
    training options by the configuration, the one check of each."""
    from jaxdnn.app import settings as run_settings

    recorded = run_settings.new_settings(iterations=5)._asdict()
    if field.startswith("training."):
        recorded["training"] = dict(recorded["training"], **{field[9:]: value})
    else:
        recorded[field] = value
    params = initialize_parameters_deep([2, 4, 1], jax.random.PRNGKey(0))
    save_checkpoint(tmp_path / "checkpoint.npz", init_train_state(params), np.zeros(0),
                    {"run": recorded})
    with pytest.raises(DataError, match=rf"checkpoint.npz: invalid recorded run setting: .*"
                                        rf"{field.removeprefix('training.')}") as info:
        run_settings.resume(tmp_path)
    assert "\n" not in str(info.value)


def test_the_gram_state_carries_the_data_s_product_and_an_older_state_starts_afresh(tmp_path):
    """K = X^T X + 1 is made by a run's first call and carried (not remade each segment); a
    checkpoint whose Gram state has no K (written before it was carried) resumes from its
    parameters on a fresh Gram start, to rounding of the uninterrupted run."""
    jax.config.update("jax_enable_x64", True)
    X, Y, params = tall_problem()
    options = dict(learning_rate=0.05, momentum=0.9)
    start = init_train_state(params, momentum=0.9)
    first, _ = segments(X, Y, start, [8], options)
    np.testing.assert_allclose(first.loop["gram"]["K"], np.asarray(X.T @ X + 1), rtol=1e-12)
    older = first._replace(loop={"gram": {k: v for k, v in first.loop["gram"].items()
                                          if k != "K"}})
    save_checkpoint(tmp_path / "older.npz", older, np.zeros(8))
    loaded, _, _ = load_checkpoint(tmp_path / "older.npz", start.opt_state)
    assert "K" not in loaded.loop["gram"]
    resumed, _ = segments(X, Y, loaded, [8], options)
    straight, _ = segments(X, Y, first, [8], options)
    assert resumed.iteration == straight.iteration == 16
    np.testing.assert_allclose(resumed.parameters["W1"], straight.parameters["W1"], rtol=1e-10)
