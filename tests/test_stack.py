"""Many models in one program: every model of a stack ends as it would trained alone by fit."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from tolerances import STACK_RTOL

import jaxdnn
import jaxdnn.train.stack
from jaxdnn import (
    ModelStack,
    TrainingDiverged,
    fit,
    fit_many,
    predict_labels,
    predict_labels_many,
    stack_models,
    unstack_models,
)
from jaxdnn.train import loop
from jaxdnn.train.stack import run_stacked

ADAM = optax.adam(0.05)  # static: one object, one compilation
SWEEP_SIZES = (1, 2, 3, 4, 5, 20, 50)  # the course's planar hidden-layer sizes


class Case:
    """S models of one depth with their own widths, data, and per-model hyperparameters."""

    def __init__(self, X, Y, models, hidden, output, iterations, hyper, optimizer):
        self.X, self.Y, self.models, self.hidden, self.output = X, Y, models, hidden, output
        self.iterations, self.hyper, self.optimizer = iterations, hyper, optimizer

    def __repr__(self):
        dims = [jaxdnn.core.layout.layer_dims(jaxdnn.core.layout.to_layers(m)) for m in self.models]
        return (f"Case(dims={dims}, hidden={self.hidden}, output={self.output}, "
                f"m={self.X.shape[1]}, iterations={self.iterations}, hyper={self.hyper}, "
                f"optimizer={self.optimizer is not None})")


@st.composite
def stacks(draw, min_models=1, min_depth=1):
    L = draw(st.integers(min_depth, 3), label="L")
    n0 = draw(st.integers(1, 4), label="n0")
    output = draw(st.sampled_from(["sigmoid", "softmax"]), label="output")
    nL = draw(st.integers(2, 4), label="classes") if output == "softmax" else 1
    S = draw(st.integers(min_models, 3), label="models")
    widths = [draw(st.lists(st.integers(1, 6), min_size=L - 1, max_size=L - 1), label="widths")
              for _ in range(S)]
    activations = tuple(draw(st.lists(st.sampled_from(sorted(jaxdnn.ACTIVATIONS)), min_size=L - 1,
                                      max_size=L - 1), label="hidden"))
    m = draw(st.integers(1, 16), label="m")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.RandomState(seed)
    X = rng.randn(n0, m)
    X[:, :draw(st.integers(0, m), label="zero columns")] = 0.0  # Z exactly on ReLU's kink
    Y = (np.eye(nL)[:, rng.randint(0, nL, m)] if output == "softmax"
         else (rng.rand(1, m) < 0.5).astype(np.float64))
    models = []
    for own in widths:
        dims = [n0, *own, nL]
        models.append({k: jnp.asarray(v) for l in range(1, L + 1) for k, v in (
            (f"W{l}", rng.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])),
            (f"b{l}", rng.randn(dims[l], 1) * 0.5 * draw(st.sampled_from([0, 1]))))})
    optimizer = draw(st.sampled_from([None, ADAM]), label="optimizer")
    # each option in the program or not (a drawn 0 or 1 in some models: the models without it)
    momentum = optimizer is None and draw(st.booleans(), label="momentum")
    l2, dropout = draw(st.booleans(), label="L2"), L > 1 and draw(st.booleans(), label="dropout")
    hyper = {"learning_rate": [draw(st.floats(0.01, 2.0), label="rate") for _ in range(S)],
             "momentum": [draw(st.sampled_from([0.0, 0.5, 0.9]), label="momentum")
                          if momentum else 0.0 for _ in range(S)],
             "lambd": [draw(st.sampled_from([0.0, 0.3, 2.0]), label="lambd") if l2 else 0.0
                       for _ in range(S)],
             "keep_prob": [draw(st.sampled_from([1.0, 0.9, 0.5]), label="keep_prob")
                           if dropout else 1.0 for _ in range(S)]}
    iterations = draw(st.integers(1, 40), label="iterations")
    return Case(jnp.asarray(X), jnp.asarray(Y), models, activations, output, iterations, hyper,
                optimizer)


def error(a, b):
    """||a - b|| over the larger norm (0 when both are zero)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    top = max(np.max(np.abs(a), initial=0), np.max(np.abs(b), initial=0))
    if not top:
        return 0.0
    a, b = a / top, b / top  # no overflow in the norms of a diverging model's weights
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b)))


def assert_each_model_trains_as_alone(case):
    """The property: fit_many's model k equals fit on model k alone, parameters and costs (a
    diverged model: its TrainingDiverged); padded entries stay exactly zero."""
    keys = jax.random.split(jax.random.PRNGKey(7), len(case.models))
    stack = stack_models(case.models)
    trained, costs, diverged = fit_many(
        case.X, case.Y, stack, hidden_activation=case.hidden, output=case.output,
        num_iterations=case.iterations, key=keys, optimizer=case.optimizer, **case.hyper)
    mask = jaxdnn.train.stack._grad_mask(stack)
    for key, value in trained.parameters.items():
        if mask is not None:
            padded = np.asarray(value)[~np.asarray(mask[key])]
            assert not padded.any(), f"{key}: padded entries left zero: {padded[padded != 0]}"
    worst = 0.0
    for k, (model, got) in enumerate(zip(case.models, unstack_models(trained), strict=True)):
        own = {name: values[k] for name, values in case.hyper.items()}
        try:
            alone, alone_costs = fit(case.X, case.Y, model, hidden_activation=case.hidden,
                                     output=case.output, num_iterations=case.iterations,
                                     key=keys[k], optimizer=case.optimizer, gram=False, **own)
            assert diverged[k] == -1, f"model {k} diverged in the stack only"
        except TrainingDiverged as e:
            assert diverged[k] == e.iteration, f"model {k}: {diverged[k]} != {e.iteration}"
            alone, alone_costs = e.parameters, e.costs[:-1]
            assert np.isnan(costs[k, e.iteration + 1:]).all()
        errors = {name: error(got[name], alone[name]) for name in alone}
        errors["costs"] = error(costs[k, :len(alone_costs)], alone_costs)
        bad = {name: e for name, e in errors.items() if not e <= STACK_RTOL}
        assert not bad, f"model {k} differs from fit alone: {bad}"
        worst = max(worst, *errors.values())
    return worst


@settings(max_examples=max(5, settings().max_examples // 2))  # S + 1 compilations each
@given(case=stacks())
def test_every_model_of_a_stack_trains_as_it_does_alone(case):
    assert_each_model_trains_as_alone(case)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_the_course_sweep_sizes_train_together_as_apart(activation):
    """The planar hidden-size sweep padded to 50 units: each size as trained alone; every
    padded unit's weights in, bias and weights out exactly zero at the end."""
    X, Y = jaxdnn.load_planar_dataset()
    models = [jaxdnn.initialize_parameters_deep([2, n, 1], numpy_seed=2, dtype="float64")
              for n in SWEEP_SIZES]
    trained, costs, diverged = fit_many(X, Y, stack_models(models), hidden_activation=activation,
                                        learning_rate=1.2, num_iterations=100)
    assert (diverged == -1).all()
    for k, n in enumerate(SWEEP_SIZES):
        alone, alone_costs = fit(X, Y, models[k], hidden_activation=activation,
                                 learning_rate=1.2, num_iterations=100)
        got = unstack_models(trained)[k]
        for name in alone:
            assert error(got[name], alone[name]) <= STACK_RTOL, (n, name)
        assert error(costs[k], alone_costs) <= STACK_RTOL, n
        W1, b1, W2 = (np.asarray(trained.parameters[name][k]) for name in ("W1", "b1", "W2"))
        assert not W1[n:].any() and not b1[n:].any() and not W2[:, n:].any(), n


def test_unmasked_padding_is_caught(monkeypatch):
    """Fault injection: padding with zeros but without the gradient mask. A padded sigmoid unit
    outputs 0.5, so its outgoing weights learn and leak into the output; the property search
    finds it (tanh, ReLU and leaky ReLU units output 0 there and would hide it)."""
    monkeypatch.setattr(jaxdnn.train.stack, "_grad_mask", lambda stack: None)

    @settings(max_examples=200, phases=[Phase.generate], database=None)
    @given(case=stacks(min_models=2, min_depth=2))  # padding needs two models and a hidden layer
    def search(case):
        assert_each_model_trains_as_alone(case)

    with pytest.raises(AssertionError, match="differs from fit alone|padded entries"):
        search()


def test_the_mask_matters_for_sigmoid_units_only():
    """The fault's reach, by activation: without the mask a sweep stack of sigmoid units leaks
    into its padding, one of tanh units does not (so the property must draw sigmoid units)."""
    X, Y = jaxdnn.load_planar_dataset()
    models = [jaxdnn.initialize_parameters_deep([2, n, 1], numpy_seed=2, dtype="float64")
              for n in (1, 4)]
    stack = stack_models(models)
    for activation, leaks in (("sigmoid", True), ("tanh", False)):
        program = loop.Program(loop.PLAIN, jaxdnn.core.network.layer_activations(activation, 2),
                               50)
        n = len(models)
        carry = loop.Carry(jax.tree.map(jnp.array, stack.parameters), None, {})
        W2 = run_stacked(loop.Data(jnp.asarray(X, jnp.float64), jnp.asarray(Y, jnp.float64)),
                         carry, jnp.int32(0), jnp.int32(50),
                         loop.Hyper(jnp.full(n, 1.2), jnp.zeros(n)), None,
                         program=program)[0].parameters["W2"]
        assert bool(np.asarray(W2)[0, :, 1:].any()) == leaks, activation


def test_divergence_is_reported_per_model_and_spares_the_others():
    X, Y = jaxdnn.load_planar_dataset()
    models = [jaxdnn.initialize_parameters_deep([2, n, 1], jax.random.PRNGKey(n),
                                                scheme="he", dtype="float64") for n in (3, 8, 5)]
    rates = [0.1, 1e200, 0.2]
    trained, costs, diverged = fit_many(X, Y, stack_models(models), learning_rate=rates,
                                        num_iterations=50)
    with pytest.raises(TrainingDiverged) as info:
        fit(X, Y, models[1], learning_rate=rates[1], num_iterations=50)
    e = info.value
    assert list(diverged) == [-1, e.iteration, -1]
    assert np.isnan(costs[1, e.iteration + 1:]).all() and np.isfinite(costs[[0, 2]]).all()
    np.testing.assert_allclose(costs[1, :e.iteration], e.costs[:-1], rtol=STACK_RTOL)
    got = unstack_models(trained)
    for name in e.parameters:  # the last finite parameters
        assert error(got[1][name], e.parameters[name]) <= STACK_RTOL, name
    for k in (0, 2):
        alone, _ = fit(X, Y, models[k], learning_rate=rates[k], num_iterations=50)
        assert all(error(got[k][name], alone[name]) <= STACK_RTOL for name in alone), k


def test_on_cost_hears_each_models_cost_every_100_iterations_and_changes_no_bit():
    X, Y = jaxdnn.load_planar_dataset()
    stack = stack_models([jaxdnn.initialize_parameters_deep([2, n, 1], numpy_seed=n)
                          for n in (3, 4)])
    heard = []
    options = dict(learning_rate=[1.2, 1e30], num_iterations=350)
    trained, costs, diverged = fit_many(X, Y, stack, on_cost=lambda i, c: heard.append((i, c)),
                                        **options)
    assert [i for i, _ in heard] == [0, 100, 200, 300]
    assert diverged[0] == -1 and 0 <= diverged[1] < 100
    np.testing.assert_array_equal(np.stack([c for _, c in heard], 1), costs[:, ::100])
    silent = fit_many(X, Y, stack, **options)  # cut at every report, or not: the same bits
    assert all(np.array_equal(trained.parameters[k], silent[0].parameters[k])
               for k in trained.parameters)
    np.testing.assert_array_equal(costs, silent[1])
    with pytest.raises(jaxdnn.OptionError, match="print_cost='progress'"):
        fit_many(X, Y, stack, print_cost=True, num_iterations=10)


def test_one_compilation_for_any_hyperparameter_values():
    X, Y = jaxdnn.load_planar_dataset()
    stack = stack_models([jaxdnn.initialize_parameters_deep([2, n, 1], numpy_seed=s)
                          for n, s in ((3, 1), (5, 2))])
    before = run_stacked._cache_size()
    fit_many(X, Y, stack, hidden_activation="tanh", learning_rate=[0.1, 0.5],
             lambd=[0.1, 0.0], num_iterations=17)
    fit_many(X, Y, stack, hidden_activation="tanh", learning_rate=0.3, lambd=[0.5, 0.2],
             num_iterations=17)
    assert run_stacked._cache_size() == before + 1
    program = loop.Program(loop.PLAIN, jaxdnn.core.network.layer_activations("tanh", 2), 17)
    jaxpr = str(jax.make_jaxpr(lambda p: run_stacked(
        loop.Data(jnp.asarray(X), jnp.asarray(Y, X.dtype)), loop.Carry(p, None, {}), 0, 17,
        loop.Hyper(jnp.ones(2), jnp.zeros(2)), None, program=program))(stack.parameters))
    assert jaxpr.count("while[") == 1  # one loop for every model


def test_stack_round_trip_and_predictions():
    X, Y = jaxdnn.load_dataset("blobs", multiclass=True)
    models = [jaxdnn.initialize_parameters_deep([2, n, 4, 6], jax.random.PRNGKey(n),
                                                scheme="he") for n in (2, 9, 5)]
    stack = stack_models(models)
    assert stack.parameters["W1"].shape == (3, 9, 2) and stack.parameters["W2"].shape == (3, 4, 9)
    assert stack.dims == ((2, 2, 4, 6), (2, 9, 4, 6), (2, 5, 4, 6))
    for model, back in zip(models, unstack_models(stack), strict=True):
        assert all(np.array_equal(model[k], back[k]) for k in model)
    labels = predict_labels_many(X, stack, "tanh", output="softmax")
    assert labels.shape == (3, 1, X.shape[1])
    for k, model in enumerate(models):
        np.testing.assert_array_equal(labels[k], predict_labels(X, model, "tanh",
                                                                output="softmax"))


def _models(*dims):
    return [jaxdnn.initialize_parameters_deep(d, numpy_seed=1) for d in dims]


@pytest.mark.parametrize("make, error, match", [
    (lambda: stack_models([]), jaxdnn.InputTypeError, "non-empty list"),
    (lambda: stack_models(_models([2, 3, 1], [2, 3, 3, 1])), jaxdnn.ShapeError,
     r"models\[1\] has layer sizes \[2, 3, 3, 1\].*share their depth"),
    (lambda: stack_models(_models([2, 3, 1], [3, 3, 1])), jaxdnn.ShapeError, "input and output"),
    (lambda: stack_models([*_models([2, 3, 1]), {"W1": np.ones((3, 2))}]),
     jaxdnn.NameLookupError, r"models\[1\]: parameters is missing"),
    (lambda: stack_models([*_models([2, 3, 1]), jax.tree.map(
        lambda x: np.asarray(x, np.float32), _models([2, 3, 1])[0])]), jaxdnn.InputTypeError,
     "one dtype"),
])
def test_bad_stacks_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _planar_stack():
    return stack_models(_models([2, 3, 1], [2, 5, 1]))


@pytest.mark.parametrize("change, error, match", [
    (dict(stack=lambda s: s._replace(parameters={**s.parameters, "W2": s.parameters["W2"][:1]})),
     jaxdnn.ShapeError, "W2 has 1 models on its leading axis but the stack has 2"),
    (dict(stack=lambda s: s._replace(dims=s.dims[:1])), jaxdnn.ShapeError,
     "leading axis but the stack has 1"),
    (dict(stack=lambda s: s._replace(dims=((2, 3, 1), (2, 6, 1)))), jaxdnn.ShapeError,
     r"stack.dims\[1\] = \[2, 6, 1\] does not fit"),
    (dict(stack=lambda s: s.parameters), jaxdnn.InputTypeError, "must be a ModelStack"),
    (dict(learning_rate=[0.1, 0.2, 0.3]), jaxdnn.ShapeError,
     r"learning_rate has shape \(3,\): give one number, or one per model \(2,\)"),
    (dict(learning_rate=[0.1, -1.0]), jaxdnn.OptionError,
     r"model 1: learning_rate must be finite and positive; got -1.0"),
    (dict(lambd=[[0.1, 0.2]]), jaxdnn.ShapeError, "lambd has shape"),
    (dict(keep_prob=[0.5, 0.5]), jaxdnn.InputTypeError, "needs key"),
    (dict(keep_prob=0.5, key=jax.random.split(jax.random.PRNGKey(0), 3)), jaxdnn.InputTypeError,
     r"one key per model stacked \(2, 2\)"),
    (dict(momentum=[0.9, 1.0]), jaxdnn.OptionError, r"model 1: momentum must be in \[0, 1\)"),
    (dict(momentum=0.9, optimizer=ADAM), jaxdnn.OptionError, "momentum applies"),
])
def test_bad_fit_many_arguments_are_refused(change, error, match):
    X, Y = jaxdnn.load_planar_dataset()
    arguments = {"stack": _planar_stack(), "learning_rate": 0.1, "num_iterations": 2}
    for name, value in change.items():
        arguments[name] = value(arguments[name]) if callable(value) else value
    with pytest.raises(error, match=match):
        fit_many(X, Y, **arguments)


def test_model_stack_is_the_public_type():
    stack = _planar_stack()
    assert isinstance(stack, ModelStack) and len(stack.dims) == 2
