"""The suite bites outside the backward chain too: the fused output step, the cost from logits,
the updates, the Gram loop, the initialisation and the finite-difference witness.

Each place where a derivative, an update or a scale is written by hand gets plausible faults.
Each fault is injected, then a property is searched by hypothesis (not told where to look), and
the search must fail; the same search over the unbroken code passes (the controls). Compiled
loops are cached by shape, so tests that inject into a jitted program clear the caches before
and after: no broken program is reused, and none outlives its test.
"""

import jax
import jax.numpy as jnp
import jaxdnn.planar
import numpy as np
import optax
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from test_faults import WITNESSES, chain_property
from tolerances import GRAM_RTOL, GRAM_TRACE_RTOL

import jaxdnn
import jaxdnn.core.init
import jaxdnn.core.network
import jaxdnn.core.outputs
import jaxdnn.train.gram
import jaxdnn.verify.gradcheck
from jaxdnn import GRADIENT_CHECK_THRESHOLD, fit, gradient_check
from jaxdnn.core import kernels
from jaxdnn.testing import problems

SEARCH = dict(phases=[Phase.generate], database=None)
"""Fault searches stop at the first failure: no shrinking, no replay of old examples."""


@pytest.fixture
def fresh_programs():
    jax.clear_caches()
    yield
    jax.clear_caches()


# -- the fused output step dZ[L] = AL - Y (the stable path of every backward) ----------------

FUSED_FAULTS = {
    "dZ = Y - AL": lambda AL, Y: Y - AL,
    "dZ = (AL - Y) / m, 1/m twice": lambda AL, Y: (AL - Y) / AL.shape[1],
}


@pytest.mark.parametrize("witness", sorted(WITNESSES))
@pytest.mark.parametrize("fault", sorted(FUSED_FAULTS))
def test_fused_output_step_fault_is_caught(fault, witness, monkeypatch):
    monkeypatch.setattr(kernels, "fused_output_step", FUSED_FAULTS[fault])  # every caller's
    check = chain_property(lambda case: WITNESSES[witness](
        case.X, case.Y, case.parameters, case.hidden_activation, output=case.output,
        stable=True), outputs=("sigmoid", "softmax"))
    with pytest.raises(AssertionError, match="differ from jax.grad"):
        check()


# -- the cross-entropy from logits ---------------------------------------------------------

def logits_property(output, max_examples=60):
    """``compute_cost_from_logits`` equals the cross-entropy of the probabilities where those
    are computed accurately (|Z| <= 4), and is finite for logits of any size."""

    @settings(max_examples=max_examples, **SEARCH)
    @given(data=st.data())
    def check(data):
        K = 1 if output == "sigmoid" else data.draw(st.integers(2, 4), label="K")
        m = 6  # a few shapes: each new one compiles the eager ops afresh
        scale = data.draw(st.sampled_from([1.0, 4.0, 1e3]), label="scale")
        rng = np.random.RandomState(data.draw(st.integers(0, 2**31), label="seed"))
        Z = np.clip(rng.randn(K, m), -1, 1) * scale
        Y = (np.eye(K)[:, rng.randint(0, K, m)] if output == "softmax"
             else (rng.rand(1, m) < 0.5).astype(np.float64))
        cost = float(jaxdnn.compute_cost_from_logits(Z, Y, output=output))
        assert np.isfinite(cost), f"cost from logits {cost} at |Z| up to {scale}"
        if scale <= 4:
            A = jaxdnn.core.outputs.get_output(output).forward(jnp.asarray(Z))[0]
            expected = float(jaxdnn.compute_cost(A, Y, output=output))
            assert abs(cost - expected) <= 1e-12 * max(1.0, abs(expected)), (cost, expected)

    return check


def _softplus_sign_flipped(Z, Y):
    return jnp.sum(jax.nn.softplus(-Z) - Y * Z) / Y.shape[1]


def _softplus_unstable(Z, Y):  # log(1 + e^Z): inf once e^Z overflows
    return jnp.sum(jnp.log1p(jnp.exp(Z)) - Y * Z) / Y.shape[1]


def _logsumexp_unshifted(Z, Y):  # log sum e^Z without subtracting max Z first
    return (jnp.sum(jnp.log(jnp.sum(jnp.exp(Z), axis=0))) - jnp.sum(Y * Z)) / Y.shape[1]


def _softmax_cost_without_labels(Z, Y):  # forgets the Y Z term's weighting: one class only
    return (jnp.sum(jax.nn.logsumexp(Z, axis=0)) - jnp.sum(Z[:1])) / Y.shape[1]


LOGIT_FAULTS = {
    "sigmoid: softplus(-Z)": ("sigmoid", _softplus_sign_flipped),
    "sigmoid: log1p(exp(Z))": ("sigmoid", _softplus_unstable),
    "softmax: log sum exp unshifted": ("softmax", _logsumexp_unshifted),
    "softmax: class 0's logit for every label": ("softmax", _softmax_cost_without_labels),
}


@pytest.mark.parametrize("fault", sorted(LOGIT_FAULTS))
def test_cost_from_logits_fault_is_caught(fault, monkeypatch):
    output, broken = LOGIT_FAULTS[fault]
    outputs = jaxdnn.core.outputs.OUTPUTS
    monkeypatch.setitem(outputs, output, outputs[output]._replace(
        cost_from_logits=broken))
    with pytest.raises(AssertionError):
        logits_property(output)()


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_cost_from_logits_property_holds(output):
    logits_property(output)()


# -- the updates: update_parameters and descend (plain and heavy-ball momentum) -------------



def descent_property(max_examples=60):
    """``descend`` makes the steps of ``optax.sgd(lr, momentum)`` on a random pytree, and
    ``update_parameters`` makes its momentum-free step on the course's dict."""

    @settings(max_examples=max_examples, **SEARCH)
    @given(data=st.data())
    def check(data):
        dims = data.draw(st.lists(st.integers(1, 4), min_size=2, max_size=4), label="dims")
        steps = data.draw(st.integers(1, 4), label="steps")
        lr = data.draw(st.sampled_from([0.01, 0.5, 1.2]), label="lr")
        momentum = data.draw(st.sampled_from([0.0, 0.5, 0.9]), label="momentum")
        rng = np.random.RandomState(data.draw(st.integers(0, 2**31), label="seed"))
        params = {}
        for l in range(1, len(dims)):
            params[f"W{l}"] = jnp.asarray(rng.randn(dims[l], dims[l - 1]))
            params[f"b{l}"] = jnp.asarray(rng.randn(dims[l], 1))
        grads = [{k: jnp.asarray(rng.randn(*v.shape)) for k, v in params.items()}
                 for _ in range(steps)]

        sgd = optax.sgd(lr, momentum=momentum or None)
        expected, state = params, sgd.init(params)
        ours, trace = params, (jax.tree.map(jnp.zeros_like, params) if momentum else None)
        for g in grads:
            updates, state = sgd.update(g, state, expected)
            expected = optax.apply_updates(expected, updates)
            ours, trace = kernels.descend(ours, g, trace, lr, momentum)
        for key in params:
            np.testing.assert_allclose(ours[key], expected[key], rtol=1e-14, atol=1e-14,
                                       err_msg=f"descend's {key} after {steps} steps")

        course = jaxdnn.update_parameters(params, {f"d{k}": v for k, v in grads[0].items()}, lr)
        for key in params:
            np.testing.assert_array_equal(course[key], params[key] - lr * grads[0][key],
                                          err_msg=f"update_parameters' {key}")

    return check


def _ascent(parameters, grads, trace, learning_rate, momentum):
    if trace is not None:
        trace = jax.tree.map(lambda g, t: g + momentum * t, grads, trace)
        grads = trace
    return jax.tree.map(lambda p, g: p + learning_rate * g, parameters, grads), trace


def _exponential_average(parameters, grads, trace, learning_rate, momentum):  # (1 - b) g + b v
    if trace is not None:
        trace = jax.tree.map(lambda g, t: (1 - momentum) * g + momentum * t, grads, trace)
        grads = trace
    return jax.tree.map(lambda p, g: p - learning_rate * g, parameters, grads), trace


def _stale_trace(parameters, grads, trace, learning_rate, momentum):  # returns the old trace
    if trace is None:
        return jax.tree.map(lambda p, g: p - learning_rate * g, parameters, grads), None
    new = jax.tree.map(lambda g, t: g + momentum * t, grads, trace)
    return jax.tree.map(lambda p, g: p - learning_rate * g, parameters, new), trace


DESCENT_FAULTS = {"ascent: p + lr g": _ascent,
                  "momentum as an exponential average": _exponential_average,
                  "momentum trace not carried": _stale_trace}


@pytest.mark.parametrize("fault", sorted(DESCENT_FAULTS))
def test_descent_fault_is_caught(fault, monkeypatch):
    monkeypatch.setattr(kernels, "descend", DESCENT_FAULTS[fault])
    with pytest.raises(AssertionError):
        descent_property()()


def test_descent_property_holds():
    descent_property()()


# -- the Gram loop: K, its bias term, the recovered first layer, the momentum trace ---------

def gram_property(max_examples=40):
    """The Gram loop's parameters, costs and momentum trace are the plain loop's, from a fresh
    start and continuing a momentum run (test_train's property, searched; that test is this
    search's control)."""

    @settings(max_examples=max_examples, **SEARCH)
    @given(case=problems("float64", max_depth=3, max_width=6, max_examples=8, bias=("random",),
                         outputs=("sigmoid", "softmax")),
           iterations=st.integers(2, 12), momentum=st.sampled_from([0.0, 0.9]))
    def check(case, iterations, momentum):
        kwargs = dict(hidden_activation=case.hidden_activation, output=case.output,
                      learning_rate=0.1, momentum=momentum)
        state = jaxdnn.init_train_state(case.parameters, momentum=momentum)
        if momentum:  # continue a run whose trace is not zero
            state, _ = jaxdnn.train_steps(case.X, case.Y, state, 3, gram=False, **kwargs)
        (plain, plain_costs), (gram, gram_costs) = [
            jaxdnn.train_steps(case.X, case.Y, state, iterations, gram=gram, **kwargs)
            for gram in (False, True)]
        assert jaxdnn.relative_error(gram_costs, plain_costs) <= GRAM_RTOL, "costs"
        for key in plain.parameters:
            assert jaxdnn.relative_error(gram.parameters[key],
                                         plain.parameters[key]) <= GRAM_RTOL, key
        for key in plain.opt_state or ():
            assert jaxdnn.relative_error(gram.opt_state[key],
                                         plain.opt_state[key]) <= GRAM_TRACE_RTOL, f"trace {key}"

    return check


def _gram_without_bias_term(X):
    return X.T @ X


def _b1_from_the_mean(W1, b1, S, X):
    return W1 + S @ X.T, b1 + jnp.mean(S, axis=1, keepdims=True)


def _W1_with_1_over_m(W1, b1, S, X):
    return W1 + S @ X.T / X.shape[1], b1 + jnp.sum(S, axis=1, keepdims=True)


def _trace_start_not_decayed(trace_G, X, decay, T0, t0):
    return trace_G @ X.T + T0, jnp.sum(trace_G, axis=1, keepdims=True) + t0


GRAM_FAULTS = {
    "K without the bias term 1 1^T": ("_gram_matrix", _gram_without_bias_term),
    "b1 recovered from the mean of S": ("_first_layer", _b1_from_the_mean),
    "W1 recovered with 1/m": ("_first_layer", _W1_with_1_over_m),
    "momentum: the start's trace not decayed": ("_first_layer_trace", _trace_start_not_decayed),
}


@pytest.mark.parametrize("fault", sorted(GRAM_FAULTS))
def test_gram_fault_is_caught(fault, monkeypatch, fresh_programs):
    name, broken = GRAM_FAULTS[fault]
    monkeypatch.setattr(jaxdnn.train.gram, name, broken)
    with pytest.raises(AssertionError):
        gram_property()()


# -- the initialisation scales ---------------------------------------------------------------

SCALES = {"small": lambda n: 0.01, "scaled": lambda n: 1 / np.sqrt(n),
          "he": lambda n: np.sqrt(2 / n)}
"""The documented scale of each scheme given the fan-in, written here independently."""


def init_property(max_examples=100):
    """In the course's numpy mode, W{l} is the l-th ``np.random.randn`` draw after the seed times
    the scheme's scale (the same operation, so exactly), and every b{l} is zero."""

    @settings(max_examples=max_examples, **SEARCH)
    @given(dims=st.lists(st.integers(1, 30), min_size=2, max_size=5),
           scheme=st.sampled_from(sorted(SCALES)), seed=st.integers(0, 2**31))
    def check(dims, scheme, seed):
        params = jaxdnn.initialize_parameters_deep(dims, scheme=scheme, numpy_seed=seed,
                                                   dtype="float64")
        np.random.seed(seed)
        for l in range(1, len(dims)):
            draw = np.random.randn(dims[l], dims[l - 1])
            np.testing.assert_allclose(params[f"W{l}"], draw * SCALES[scheme](dims[l - 1]),
                                       rtol=1e-15, err_msg=f"{scheme} W{l}")
            assert not np.any(np.asarray(params[f"b{l}"])), f"b{l}"

    return check


INIT_FAULTS = {
    "he as sqrt(1 / n)": ("he", lambda W, n: W * np.sqrt(1 / n)),
    "scaled as 1 / n": ("scaled", lambda W, n: W / n),
    "scaled as sqrt(2) / n": ("scaled", lambda W, n: W * np.sqrt(2) / n),
    "small as 0.1": ("small", lambda W, n: W * 0.1),
}


@pytest.mark.parametrize("fault", sorted(INIT_FAULTS))
def test_init_fault_is_caught(fault, monkeypatch):
    scheme, broken = INIT_FAULTS[fault]
    monkeypatch.setitem(jaxdnn.core.init.SCHEMES, scheme, broken)
    with pytest.raises(AssertionError):
        init_property()()


def test_init_property_holds():
    init_property()()


# -- the finite-difference witness itself ----------------------------------------------------

def finite_difference_property(max_examples=15):
    """``gradient_check`` passes the hand-written backward, and flags it once the largest
    gradient entry has its sign flipped (same sizes, wrong direction), on smooth networks (no
    kinks to straddle)."""

    @settings(max_examples=max_examples, **SEARCH)
    @given(case=problems("float64", max_depth=3, max_width=5, max_examples=6,
                         hidden=("tanh", "sigmoid"), bias=("random",)))
    def check(case):
        AL, caches = jaxdnn.L_model_forward(case.X, case.parameters, case.hidden_activation)
        grads = jaxdnn.L_model_backward(AL, case.Y, caches, case.hidden_activation)
        approx = jaxdnn.finite_difference_gradients(case.parameters, case.X, case.Y,
                                                    case.hidden_activation)
        kwargs = dict(approx=approx)
        assert gradient_check(case.parameters, case.X, case.Y, case.hidden_activation,
                              grads=grads, **kwargs) < GRADIENT_CHECK_THRESHOLD, "correct"
        worst = max(approx, key=lambda k: np.abs(np.asarray(grads[k])).max())
        flat = np.asarray(grads[worst]).ravel().copy()
        flat[np.argmax(np.abs(flat))] *= -1
        wrong = dict(grads, **{worst: flat.reshape(grads[worst].shape)})
        assert gradient_check(case.parameters, case.X, case.Y, case.hidden_activation,
                              grads=wrong, **kwargs) > GRADIENT_CHECK_THRESHOLD, "wrong"

    return check


def _one_sided_step_over_2_eps(cost, theta, direction, epsilon):
    return (cost(theta + epsilon * direction) - cost(theta)) / (2 * epsilon)


def _central_over_eps(cost, theta, direction, epsilon):
    return (cost(theta + epsilon * direction) - cost(theta - epsilon * direction)) / epsilon


def _norm_of_leaf_norms(grads, approx):  # compares sizes per leaf: blind to swapped entries
    g = np.array([np.linalg.norm(np.asarray(grads[k], np.float64)) for k in sorted(approx)])
    a = np.array([np.linalg.norm(np.asarray(approx[k])) for k in sorted(approx)])
    return float(np.linalg.norm(g - a) / (np.linalg.norm(g) + np.linalg.norm(a)))


@pytest.mark.parametrize("fault", ["central difference over eps", "one-sided over 2 eps",
                                   "norm of per-leaf norms"])
def test_finite_difference_fault_is_caught(fault, monkeypatch):
    name, broken = {"central difference over eps": ("_central_difference", _central_over_eps),
                    "one-sided over 2 eps": ("_central_difference", _one_sided_step_over_2_eps),
                    "norm of per-leaf norms": ("_course_difference", _norm_of_leaf_norms)}[fault]
    monkeypatch.setattr(jaxdnn.verify.gradcheck, name, broken)
    with pytest.raises(AssertionError):
        finite_difference_property()()


def test_finite_difference_property_holds():
    finite_difference_property(max_examples=6)()


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_fused_step_search_passes_unbroken(output):
    chain_property(lambda case: WITNESSES["autodiff"](
        case.X, case.Y, case.parameters, case.hidden_activation, output=output, stable=True),
        max_examples=8, outputs=(output,))()


def test_fit_sees_an_injected_update_fault(monkeypatch, fresh_programs):
    """The compiled loops call the same ``descend``: a fault there changes what ``fit`` trains
    (so the property on ``descend`` speaks for the loops)."""
    rng = np.random.RandomState(0)
    X, Y = rng.randn(3, 8), (rng.rand(1, 8) < 0.5).astype(np.float64)
    params = jaxdnn.initialize_parameters_deep([3, 4, 1], numpy_seed=1, dtype="float64")
    good, _ = fit(X, Y, params, num_iterations=5, learning_rate=0.1, gram=False)
    jax.clear_caches()
    monkeypatch.setattr(kernels, "descend", _ascent)
    bad, _ = fit(X, Y, params, num_iterations=5, learning_rate=0.1, gram=False)
    assert jaxdnn.relative_error(bad["W1"], good["W1"]) > 1e-3
