"""The L-layer chain: the course's printed cases, and the hand-written backward against jax.grad."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from report import record_errors
from tolerances import CHAIN_RTOL, COURSE_ATOL, SAME_MATH_RTOL

import jaxdnn
from jaxdnn import (
    L_model_backward,
    L_model_forward,
    SaturationError,
    autodiff_errors,
    compute_cost,
    compute_cost_from_logits,
    cost_and_grads,
    update_parameters,
)
from jaxdnn.testing import problems
from jaxdnn.verify.gradcheck import hand_and_reference, witness_inputs
from jaxdnn.verify.testing import Case

# --- the course's printed cases ---------------------------------------------------------


def randn(*shape):
    return np.random.randn(*shape)


def test_course_L_model_forward():
    np.random.seed(1)
    X, W1, b1, W2, b2 = randn(4, 2), randn(3, 4), randn(3, 1), randn(1, 3), randn(1, 1)
    AL, caches = L_model_forward(X, {"W1": W1, "b1": b1, "W2": W2, "b2": b2})
    np.testing.assert_allclose(AL, [[0.17007265, 0.2524272]], atol=COURSE_ATOL)
    assert len(caches) == 2


def test_course_compute_cost():
    cost = compute_cost(jnp.array([[0.8, 0.9, 0.4]]), jnp.array([[1, 1, 1]]))
    np.testing.assert_allclose(cost, 0.41493159961539694, atol=COURSE_ATOL)


def test_course_L_model_backward():
    np.random.seed(3)
    AL, Y = randn(1, 2), np.array([[1, 0]])
    A1, W1, b1, Z1 = randn(4, 2), randn(3, 4), randn(3, 1), randn(3, 2)
    A2, W2, b2, Z2 = randn(3, 2), randn(1, 3), randn(1, 1), randn(1, 2)
    grads = L_model_backward(AL, Y, [((A1, W1, b1), Z1), ((A2, W2, b2), Z2)])
    np.testing.assert_allclose(grads["dW1"], [[0.41010002, 0.07807203, 0.13798444, 0.10502167],
                                              [0.0, 0.0, 0.0, 0.0],
                                              [0.05283652, 0.01005865, 0.01777766, 0.0135308]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(grads["db1"], [[-0.22007063], [0.0], [-0.02835349]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(grads["dA1"], [[0.0, 0.52257901], [0.0, -0.3269206],
                                              [0.0, -0.32070404], [0.0, -0.74079187]],
                               atol=COURSE_ATOL)


def test_course_update_parameters():
    np.random.seed(2)
    params = {"W1": randn(3, 4), "b1": randn(3, 1), "W2": randn(1, 3), "b2": randn(1, 1)}
    np.random.seed(3)
    grads = {f"d{k}": randn(*v.shape) for k, v in params.items()}
    new = update_parameters(params, grads, 0.1)
    np.testing.assert_allclose(new["W1"], [[-0.59562069, -0.09991781, -2.14584584, 1.82662008],
                                           [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
                                           [-1.0535704, -0.86128581, 0.68284052, 2.20374577]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(new["b1"], [[-0.04659241], [-1.28888275], [0.53405496]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(new["W2"], [[-0.55569196, 0.0354055, 1.32964895]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(new["b2"], [[-0.84610769]], atol=COURSE_ATOL)


# --- properties ----------------------------------------------------------------------------


def summed_magnitudes(case, activations):
    """The backward pass in absolute values, float64: each gradient leaf as the sum of the
    magnitudes of its terms (|dZ| |A_prev|^T / m, sum |dZ| / m, |W|^T |dZ|, |dA| |g'(Z)|).

    Rounding bounds a leaf's error by a few eps times this, not times the leaf: a db whose
    examples cancel (|sum dZ| << sum |dZ|) carries the rounding of its terms (a CI run drew
    [6, 1, 1, 1, 1, 1, 1] with leaky ReLUs on 5 examples: db1..db3 off by 2-5e-4 of themselves,
    1e-6 of their terms). One compiled program: eagerly, each new shape compiles every op."""
    f64 = {k: jnp.asarray(v, jnp.float64) for k, v in case.parameters.items()}
    return jax.jit(_summed_magnitudes, static_argnums=3)(
        jnp.asarray(case.X, jnp.float64), jnp.asarray(case.Y, jnp.float64), f64,
        tuple(activations))


def _summed_magnitudes(X, Y, parameters, activations):
    A, As, Zs = X, [X], []
    for l in range(1, len(activations) + 1):  # a forward returns (A, cache)
        Zs.append(parameters[f"W{l}"] @ A + parameters[f"b{l}"])
        A = activations[l - 1].forward(Zs[-1])[0]
        As.append(A)
    dZ, m, magnitudes = jnp.abs(A - Y), X.shape[1], {}  # dZ[L] = AL - Y for either output
    for l in range(len(activations), 0, -1):
        magnitudes.update({f"dW{l}": dZ @ jnp.abs(As[l - 1]).T / m,
                           f"db{l}": dZ.sum(axis=1, keepdims=True) / m,
                           f"dA{l}": jnp.abs(parameters[f"W{l}"]).T @ dZ})
        if l > 1:
            slope = activations[l - 2].backward(jnp.ones_like(Zs[l - 2]), Zs[l - 2])
            dZ = magnitudes[f"dA{l}"] * jnp.abs(slope)
    return magnitudes


def chain_errors(case, stable):
    """Each hand-written leaf's distance from jax.grad's over the larger of the two leaves and
    of its summed magnitudes (:func:`summed_magnitudes`): relative where nothing cancels."""
    X, Y, layers, activations, keep = witness_inputs(
        case.X, case.Y, case.parameters, case.hidden_activation, case.output, 0.0, 1.0, None)
    hand, reference = jax.jit(lambda X, Y, layers: hand_and_reference(
        X, Y, layers, activations, stable, 0.0, keep, None))(X, Y, layers)
    magnitudes = summed_magnitudes(case, activations)
    errors = {}
    for key, ref in reference.items():
        h, r = np.asarray(hand[key], np.float64), np.asarray(ref, np.float64)
        scale = max(np.linalg.norm(h), np.linalg.norm(r), np.linalg.norm(magnitudes[key]))
        errors[key] = 0.0 if scale == 0 else float(np.linalg.norm(h - r) / scale)
    return errors


def assert_matches_autodiff(case, dtype, stable):
    errors = chain_errors(case, stable)
    record_errors(dtype, f"{'stable' if stable else 'literal'} {case.output}", errors)
    bad = {key: err for key, err in errors.items() if not err <= CHAIN_RTOL[np.dtype(dtype)]}
    assert not bad, f"gradients differ from jax.grad for {case.layer_dims}: {bad}"


@pytest.mark.parametrize("stable", [False, True], ids=["literal", "stable"])
@given(case=problems("float64", outputs=("sigmoid", "softmax")))
def test_backward_equals_autodiff_float64(case, stable):
    assert_matches_autodiff(case, "float64", stable)


@pytest.mark.parametrize("stable", [False, True], ids=["literal", "stable"])
@given(case=problems("float32", outputs=("sigmoid", "softmax")))
def test_backward_equals_autodiff_float32(case, stable):
    assert_matches_autodiff(case, "float32", stable)


@pytest.mark.parametrize("fault", ["db without 1/m", "dW off by one", "dA sign"])
def test_chain_errors_catch_a_broken_backward(monkeypatch, fault):
    """The scale by summed magnitudes keeps a wrong formula visible: each fault below is off by
    orders of magnitude more than CHAIN_RTOL."""
    rng = np.random.RandomState(0)
    parameters = {"W1": rng.randn(4, 3), "b1": rng.randn(4, 1), "W2": rng.randn(1, 4),
                  "b2": rng.randn(1, 1)}
    case = Case(jnp.asarray(rng.randn(3, 8)), jnp.asarray((rng.rand(1, 8) < 0.5) * 1.0),
                {k: jnp.asarray(v) for k, v in parameters.items()}, "relu", "sigmoid")
    honest = hand_and_reference

    def broken(*args):
        hand, reference = honest(*args)
        hand = dict(hand)
        if fault == "db without 1/m":
            hand["db1"] = hand["db1"] * case.X.shape[1]
        elif fault == "dW off by one":
            hand["dW1"] = hand["dW1"] + 1.0
        else:
            hand["dA2"] = -hand["dA2"]
        return hand, reference

    monkeypatch.setattr(sys.modules[__name__], "hand_and_reference", broken)
    errors = chain_errors(case, stable=False)
    assert max(errors.values()) > 100 * CHAIN_RTOL[np.dtype("float64")], errors


def _grads_shapes(case, **kwargs):
    def grads(X, Y, parameters):
        AL, caches = L_model_forward(X, parameters, case.hidden_activation)
        return L_model_backward(AL, Y, caches, case.hidden_activation, **kwargs)

    return jax.eval_shape(grads, case.X, case.Y, case.parameters)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
def test_gradient_keys_shapes_and_dtypes(dtype, data):
    case = data.draw(problems(dtype))
    L = len(case.parameters) // 2
    grads = _grads_shapes(case)
    assert set(grads) == {f"{d}{l}" for l in range(1, L + 1) for d in ("dA", "dW", "db")}
    for l in range(1, L + 1):  # dA{l} belongs to layer l's input A[l-1]: dA1 to X
        A_prev_rows = case.X.shape[0] if l == 1 else case.parameters[f"W{l - 1}"].shape[0]
        assert grads[f"dA{l}"].shape == (A_prev_rows, case.X.shape[1])
        assert grads[f"dW{l}"].shape == case.parameters[f"W{l}"].shape
        assert grads[f"db{l}"].shape == case.parameters[f"b{l}"].shape
    assert {g.dtype for g in grads.values()} == {jnp.dtype(dtype)}
    assert set(_grads_shapes(case, stable=True, input_grad=False)) == set(grads) - {"dA1"}


@jax.jit
def _train_step_and_reference(X, Y, parameters):
    cost, grads = cost_and_grads(X, Y, parameters)
    AL, _ = L_model_forward(X, parameters)
    reference = jaxdnn.autodiff_gradients(X, Y, parameters, stable=True)
    return cost, grads, compute_cost(AL, Y), reference


@given(case=problems("float64", hidden=("relu",)))
def test_cost_and_grads_is_the_stable_path(case):
    cost, grads, literal_cost, reference = _train_step_and_reference(
        case.X, case.Y, case.parameters)
    assert set(grads) == {k for k in reference if not k.startswith("dA")}
    for key, value in grads.items():
        assert jaxdnn.relative_error(value, reference[key]) <= CHAIN_RTOL[np.dtype("float64")]
    np.testing.assert_allclose(cost, literal_cost, rtol=SAME_MATH_RTOL)


def test_saturated_output_literal_chain_says_so_stable_path_does_not_mind():
    """The documented limit of the course's chain: a saturated sigmoid (AL exactly 0 or 1) makes
    its cost and dAL inf/NaN. Called with values, it raises SaturationError; under jit, where no
    value is known, the NaN comes out (the reason training uses the stable path)."""
    X = jnp.array([[40.0, -40.0]])
    params = {"W1": jnp.array([[1.0]]), "b1": jnp.array([[0.0]])}
    Y = jnp.array([[0.0, 1.0]])  # both examples confidently wrong
    AL, caches = L_model_forward(X, params, "relu")
    saturated = r"AL is exactly 0 or 1 at 1 of 2 entries \(the first at index \(0, 0\)\)"
    with pytest.raises(SaturationError, match=saturated):
        L_model_backward(AL, Y, caches)
    with pytest.raises(SaturationError, match="use compute_cost_from_logits|Use compute_cost"):
        compute_cost(AL, Y)
    traced = jax.jit(lambda AL, Y, caches: L_model_backward(AL, Y, caches))(AL, Y, caches)
    assert not np.isfinite(np.asarray(traced["dW1"])).all()
    assert not np.isfinite(jax.jit(compute_cost)(AL, Y))
    stable = L_model_backward(AL, Y, caches, stable=True)
    np.testing.assert_allclose(stable["dW1"], [[(40 * 1.0 + -40 * -1.0) / 2]])
    np.testing.assert_allclose(compute_cost_from_logits(caches[-1][1], Y), 40.0)


def _dot_shapes(compiled_text):
    shapes = []
    for line in compiled_text.splitlines():
        if " dot(" in line:
            shapes.append(line.split("=")[1].split("dot(")[0].strip())
    return shapes


@pytest.mark.parametrize("input_grad", [True, False])
def test_jit_does_not_compute_unrequested_input_gradient(input_grad):
    """Under jit, leaving dA1 out removes the (n0, m) product W1^T dZ1 from the compiled step."""
    n0, m = 37, 11
    params = jaxdnn.initialize_parameters_deep([n0, 5, 3, 1], jax.random.PRNGKey(0),
                                               dtype=jnp.float32)
    X = jnp.ones((n0, m), jnp.float32)
    Y = jnp.ones((1, m), jnp.float32)

    def grads(params, X, Y):
        AL, caches = L_model_forward(X, params)
        return L_model_backward(AL, Y, caches, stable=True, input_grad=input_grad)

    text = jax.jit(grads).lower(params, X, Y).compile().as_text()
    shapes = _dot_shapes(text)
    assert any("[5,11]" in s for s in shapes), shapes  # control: the W1 @ X product is listed
    input_sized = [s for s in shapes if f"[{n0},{m}]" in s or f"[{m},{n0}]" in s]
    assert bool(input_sized) == input_grad, shapes


def test_cost_and_grads_compiles_without_input_gradient():
    n0, m = 37, 11
    params = jaxdnn.initialize_parameters_deep([n0, 4, 1], jax.random.PRNGKey(1),
                                               dtype=jnp.float32)
    text = jax.jit(cost_and_grads).lower(jnp.ones((n0, m), jnp.float32),
                                         jnp.ones((1, m), jnp.float32), params).compile().as_text()
    shapes = _dot_shapes(text)
    assert any("[4,11]" in s for s in shapes), shapes
    assert not [s for s in shapes if f"[{n0},{m}]" in s or f"[{m},{n0}]" in s]


@given(case=problems("float64", max_depth=3))
def test_update_parameters_is_gradient_descent(case):
    rng = np.random.RandomState(0)
    grads = {f"d{k}": jnp.asarray(rng.randn(*v.shape)) for k, v in case.parameters.items()}
    grads["dA1"] = case.X  # dA entries are ignored
    new = update_parameters(case.parameters, grads, 0.5)
    assert list(new) == list(case.parameters)  # the course's order, W1, b1, W2, ...
    for key, value in case.parameters.items():
        np.testing.assert_array_equal(new[key], value - 0.5 * grads[f"d{key}"])


def test_jit_with_per_layer_activations():
    params = jaxdnn.initialize_parameters_deep([3, 4, 4, 1], jax.random.PRNGKey(2),
                                               scheme="he")
    X = jax.random.normal(jax.random.PRNGKey(3), (3, 5))
    forward = jax.jit(L_model_forward, static_argnames="hidden_activation")
    AL, _ = forward(X, params, hidden_activation=("tanh", "leaky_relu"))
    AL_eager, _ = L_model_forward(X, params, ("tanh", "leaky_relu"))
    np.testing.assert_allclose(AL, AL_eager, rtol=SAME_MATH_RTOL)


def test_activation_object_as_hidden_activation():
    """An Activation pair (itself a tuple) means one activation for every hidden layer."""
    params = jaxdnn.initialize_parameters_deep([3, 4, 4, 1], jax.random.PRNGKey(2))
    X = jax.random.normal(jax.random.PRNGKey(3), (3, 5))
    pair = jaxdnn.leaky_relu_with(0.2)
    AL, caches = L_model_forward(X, params, pair)
    assert len(caches) == 3
    errors = autodiff_errors(X, jnp.ones((1, 5)), params, pair)
    assert max(errors.values()) <= CHAIN_RTOL[np.dtype("float64")]


def test_dA_numbering_of_the_current_notebooks():
    """dA_from=0 renames dA{l} to dA{l-1} (dA0 for X); every array stays the same."""
    params = jaxdnn.initialize_parameters_deep([3, 4, 2, 1], jax.random.PRNGKey(0))
    X = jax.random.normal(jax.random.PRNGKey(1), (3, 5))
    Y = jnp.array([[0, 1, 1, 0, 1]])
    AL, caches = L_model_forward(X, params)
    seeds = L_model_backward(AL, Y, caches)
    notebooks = L_model_backward(AL, Y, caches, dA_from=0)
    assert set(notebooks) == {"dA0", "dA1", "dA2", "dW1", "db1", "dW2", "db2", "dW3", "db3"}
    for l in range(3):
        np.testing.assert_array_equal(notebooks[f"dA{l}"], seeds[f"dA{l + 1}"])
    assert notebooks["dA0"].shape == X.shape
    without_input = L_model_backward(AL, Y, caches, dA_from=0, input_grad=False)
    assert "dA0" not in without_input and "dA1" in without_input
    with pytest.raises(jaxdnn.OptionError, match="dA_from must be 1"):
        L_model_backward(AL, Y, caches, dA_from=2)


# --- L2 regularisation ----------------------------------------------------------------------


@pytest.mark.parametrize("stable", [False, True], ids=["literal", "stable"])
@given(case=problems("float64", outputs=("sigmoid", "softmax")),
       lambd=st.sampled_from([0.01, 0.7, 5.0]))
def test_backward_with_l2_equals_autodiff(case, stable, lambd):
    """dW[l] + lambd/m W[l] against jax.grad of the cost plus lambd/(2m) sum ||W[l]||^2."""
    errors = autodiff_errors(case.X, case.Y, case.parameters, case.hidden_activation,
                             stable=stable, output=case.output, lambd=lambd)
    record_errors("float64", f"{'stable' if stable else 'literal'} L2", errors)
    bad = {key: err for key, err in errors.items() if not err <= CHAIN_RTOL[np.dtype("float64")]}
    assert not bad, f"gradients with L2 differ from jax.grad for {case.layer_dims}: {bad}"


def test_regularized_cost_adds_the_penalty_of_the_weights_only():
    params = {"W1": jnp.array([[1.0, 2.0]]), "b1": jnp.array([[3.0]])}
    AL, Y = jnp.array([[0.8, 0.4]]), jnp.array([[1, 0]])
    plain = compute_cost(AL, Y)
    # lambd / (2 m) * ||W1||^2 = 0.5 / 4 * 5; b1 is not penalised
    np.testing.assert_allclose(jaxdnn.compute_cost_with_regularization(AL, Y, params, 0.5),
                               plain + 0.625, rtol=SAME_MATH_RTOL)
    with pytest.raises(jaxdnn.OptionError, match="lambd \\(the L2 penalty\\) must be finite"):
        jaxdnn.compute_cost_with_regularization(AL, Y, params, -1.0)


def test_zero_lambd_adds_nothing_to_the_program():
    """lambd=0 (the default) compiles to the same program as no L2 at all."""
    params = jaxdnn.initialize_parameters_deep([3, 4, 1], jax.random.PRNGKey(0))
    X, Y = jnp.ones((3, 5)), jnp.ones((1, 5))

    def hlo(**kwargs):
        return jax.jit(lambda p: cost_and_grads(X, Y, p, **kwargs)).lower(params).as_text()

    assert hlo() == hlo(lambd=0.0)
    assert hlo(lambd=0.5) != hlo()


# --- inverted dropout -----------------------------------------------------------------------


@pytest.mark.parametrize("stable", [False, True], ids=["literal", "stable"])
@given(case=problems("float64", outputs=("sigmoid", "softmax")), data=st.data())
def test_backward_with_dropout_equals_autodiff(case, stable, data):
    """With the same key, the hand-written gradients (masks read from the caches) equal
    jax.grad of the dropped-out cost, for random keep probabilities per hidden layer."""
    L = len(case.parameters) // 2
    assume(L >= 2)
    keep_prob = tuple(data.draw(st.lists(st.sampled_from([0.3, 0.5, 0.8, 1.0]), min_size=L - 1,
                                         max_size=L - 1), label="keep_prob"))
    key = jax.random.PRNGKey(data.draw(st.integers(0, 2**31 - 1), label="key"))
    lambd = data.draw(st.sampled_from([0.0, 0.5]), label="lambd")
    errors = autodiff_errors(case.X, case.Y, case.parameters, case.hidden_activation,
                             stable=stable, output=case.output, lambd=lambd,
                             keep_prob=keep_prob, key=key)
    record_errors("float64", f"{'stable' if stable else 'literal'} dropout", errors)
    bad = {k: err for k, err in errors.items() if not err <= CHAIN_RTOL[np.dtype("float64")]}
    assert not bad, f"gradients with dropout differ from jax.grad for {case.layer_dims}: {bad}"


def test_dropout_masks_are_in_the_caches_and_scaled():
    params = jaxdnn.initialize_parameters_deep([3, 50, 40, 1], jax.random.PRNGKey(0))
    X = jax.random.normal(jax.random.PRNGKey(1), (3, 200))
    _, caches = L_model_forward(X, params, keep_prob=(0.5, 1.0), key=jax.random.PRNGKey(2))
    assert [len(c) for c in caches] == [3, 2, 2]  # only layer 1 is dropped
    mask = np.asarray(caches[0][2])
    assert set(np.unique(mask)) == {0.0, 2.0} and 0.4 < np.mean(mask > 0) < 0.6
    AL_kept, _ = L_model_forward(X, params)
    AL_again, _ = L_model_forward(X, params, keep_prob=1.0)
    np.testing.assert_array_equal(AL_kept, AL_again)
    with pytest.raises(jaxdnn.InputTypeError, match="dropout .* needs key="):
        L_model_forward(X, params, keep_prob=0.5)
    with pytest.raises(jaxdnn.OptionError, match=r"keep_prob must be in \(0, 1\]"):
        L_model_forward(X, params, keep_prob=0.0, key=jax.random.PRNGKey(0))
    with pytest.raises(jaxdnn.ShapeError, match="keep_prob lists 1 probabilities"):
        L_model_forward(X, params, keep_prob=(0.5,), key=jax.random.PRNGKey(0))
    one = jaxdnn.initialize_parameters_deep([3, 1], jax.random.PRNGKey(0))
    with pytest.raises(jaxdnn.OptionError, match="dropout needs a hidden layer"):
        L_model_forward(X, one, keep_prob=0.5, key=jax.random.PRNGKey(0))


# --- overflow from finite inputs (called eagerly: an error naming the layer; under jit: pure) ---


def deep_relu(scale, x_scale=1.0):
    """A 50-layer ReLU network whose He weights are multiplied by ``scale``: every layer
    multiplies the activations by about ``scale`` forward and the gradients backward."""
    dims = [10] + [100] * 50 + [1]
    params = jaxdnn.initialize_parameters_deep(dims, jax.random.PRNGKey(0), scheme="he",
                                               dtype=jnp.float32)
    X = jnp.full((10, 5), x_scale, jnp.float32)
    return X, jnp.array([[0.0, 1.0, 0.0, 1.0, 1.0]], jnp.float32), {k: v * scale for k, v
                                                                     in params.items()}


def first_nonfinite(named):
    """The first name of ``named`` ((name, array)) whose array is not finite."""
    return next(name for name, x in named if not np.isfinite(np.asarray(x)).all())


def test_forward_overflow_names_the_layer_eagerly_and_stays_pure_under_jit():
    X, Y, params = deep_relu(8.0)
    _, caches = jax.jit(L_model_forward)(X, params)  # pure: no check on tracers
    layer = first_nonfinite([(l, Z) for l, (_, Z) in enumerate(caches, start=1)])
    assert 1 < layer < 50
    match = rf"the forward pass overflowed at layer {layer}: Z{layer} has"
    with pytest.raises(jaxdnn.NumericalOverflow, match=match):
        L_model_forward(X, params)
    with pytest.raises(jaxdnn.NumericalOverflow, match=match):
        cost_and_grads(X, Y, params)
    cost, grads = jax.jit(cost_and_grads)(X, Y, params)
    assert not all(np.isfinite(np.asarray(g)).all() for g in [cost, *grads.values()])


def test_backward_overflow_names_the_layer_eagerly_and_stays_pure_under_jit():
    X, Y, params = deep_relu(8.0, x_scale=1e-20)  # tiny inputs: the forward stays finite
    AL, caches = L_model_forward(X, params)
    assert all(np.isfinite(np.asarray(Z)).all() for _, Z in caches)
    grads = jax.jit(L_model_backward, static_argnames="stable")(AL, Y, caches, stable=True)
    L = len(caches)
    layer, name = first_nonfinite([((l, f"{p}{l}"), grads[f"{p}{l}"]) for l in range(L, 0, -1)
                                   for p in ("dW", "db", "dA")])
    match = rf"the backward pass overflowed at layer {layer}: {name} has"
    with pytest.raises(jaxdnn.NumericalOverflow, match=match):
        L_model_backward(AL, Y, caches, stable=True)
    with pytest.raises(jaxdnn.NumericalOverflow, match=match):
        cost_and_grads(X, Y, params)


def test_update_overflow_names_the_parameter_and_non_finite_inputs_carry_through():
    params = {"W1": jnp.ones((2, 3), jnp.float32), "b1": jnp.zeros((2, 1), jnp.float32)}
    grads = {"dW1": jnp.zeros((2, 3), jnp.float32), "db1": jnp.full((2, 1), -1e30, jnp.float32)}
    with pytest.raises(jaxdnn.NumericalOverflow,
                       match=r"the update overflowed at layer 1: b1 has 2 non-finite.*smaller "
                             r"learning rate"):
        update_parameters(params, grads, 1e10)
    updated = jax.jit(update_parameters)(params, grads, 1e10)
    assert np.isinf(np.asarray(updated["b1"])).all()
    # an inf given is carried through, as numpy does: it is not this call's overflow
    grads["db1"] = jnp.full((2, 1), jnp.inf, jnp.float32)
    assert np.isinf(np.asarray(update_parameters(params, grads, 0.1)["b1"])).all()
    X = jnp.array([[jnp.inf], [1.0], [0.0]], jnp.float32)
    assert not np.isfinite(np.asarray(L_model_forward(X, params)[1][0][1])).all()
