"""jaxdnn.logistic: propagate against jax.grad, injected faults, the course's cases and cat run.

The course's printed values come from its "Logistic Regression with a Neural Network mindset"
notebook (the seeds give the formulas and names but print none of these numbers).
"""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from report import record_errors
from test_faults import LINEAR_FAULTS
from tolerances import CHAIN_RTOL, gradient_errors

import jaxdnn
import jaxdnn.core.layers
import jaxdnn.core.network
from jaxdnn import DataError, InputTypeError, OptionError, ShapeError, logistic
from jaxdnn.core import kernels

DATA = pathlib.Path(__file__).resolve().parents[1] / "datasets"
needs_cat_data = pytest.mark.skipif(
    not (DATA / "train_catvnoncat.h5").exists() or not (DATA / "test_catvnoncat.h5").exists(),
    reason=f"the course's cat files are not in {DATA} (see datasets/README.md)",
)


def make_problem(dim, m, seed, dtype="float64", from_zeros=False):
    """``(w, b, X, Y)`` drawn from ``RandomState(seed)``; w and b zero if ``from_zeros`` (the
    course's start), else N(0, 1/dim) weights, so w^T X + b stays far from saturation."""
    rng = np.random.RandomState(seed)
    X = rng.randn(dim, m)
    Y = (rng.rand(1, m) < 0.5).astype(np.float64)
    w = np.zeros((dim, 1)) if from_zeros else rng.randn(dim, 1) / np.sqrt(dim)
    b = 0.0 if from_zeros else rng.randn() * 0.5
    return tuple(jnp.asarray(a, dtype) for a in (w, b, X, Y))


@st.composite
def problems(draw, dtype, max_dim=20, max_examples=64):
    """:func:`make_problem` with dim 1..20, 1..64 examples, any seed, from zeros or not."""
    return make_problem(draw(st.integers(1, max_dim), label="dim"),
                        draw(st.integers(1, max_examples), label="m"),
                        draw(st.integers(0, 2**32 - 1), label="seed"), dtype,
                        draw(st.booleans(), label="from zeros"))


def _course_cost(w, b, X, Y):
    """The course's J, written here from its formula, independently of jaxdnn."""
    A = jax.nn.sigmoid(w.T @ X + b)
    return -jnp.mean(Y * jnp.log(A) + (1 - Y) * jnp.log(1 - A))


def propagate_errors(w, b, X, Y):
    """Errors of ``logistic.propagate`` against ``jax.value_and_grad`` of :func:`_course_cost`:
    :func:`tolerances.gradient_errors` for dw and db, the relative error for the cost.

    A fresh jit per call: never a stale trace of a function that a test has swapped out.
    """
    def hand_and_reference(w, b, X, Y):
        return logistic.propagate(w, b, X, Y), jax.value_and_grad(_course_cost, (0, 1))(
            w, b, X, Y)

    (grads, cost), (ref_cost, (ref_dw, ref_db)) = jax.jit(hand_and_reference)(w, b, X, Y)
    errors = gradient_errors(grads, {"dw": ref_dw, "db": ref_db})
    errors["cost"] = jaxdnn.relative_error(cost, ref_cost)
    return errors


# CHAIN_RTOL, the chain's bounds: 1e-9 in float64; 1e-4 in float32, where eps = 1.2e-7 and dw
# sums up to 64 products per entry (measured worst a few 1e-6, printed in the run's summary).
# An injected fault gives errors of order 1, caught by orders of magnitude either way.
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(data=st.data())
def test_propagate_equals_autodiff(dtype, data):
    w, b, X, Y = data.draw(problems(dtype))
    errors = propagate_errors(w, b, X, Y)
    record_errors(dtype, "logistic", errors)
    bad = {k: e for k, e in errors.items() if not e <= CHAIN_RTOL[np.dtype(dtype)]}
    assert not bad, f"propagate differs from jax.grad for dim {w.shape[0]}, m {X.shape[1]}: {bad}"


def test_gradient_errors_sees_what_a_wrong_formula_changes():
    """The metric itself: swapped entries (equal norms), flipped signs, a transposed or missing
    leaf all count; a near-zero leaf is measured against the whole gradient."""
    ref = {"dw": np.array([[1.0], [2.0]]), "db": np.array(0.0)}
    assert gradient_errors(ref, ref) == {"dw": 0.0, "db": 0.0}
    assert gradient_errors({"dw": ref["dw"][::-1], "db": 0.0}, ref)["dw"] > 0.5
    assert gradient_errors({"dw": -ref["dw"], "db": 0.0}, ref)["dw"] == pytest.approx(2)
    assert gradient_errors({"dw": ref["dw"].T, "db": 0.0}, ref)["dw"] == np.inf
    assert gradient_errors({"dw": ref["dw"]}, ref)["db"] == np.inf
    assert gradient_errors({"dw": ref["dw"], "db": 1e-12}, ref)["db"] < 1e-12


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_propagate_keeps_the_dtype_and_shapes(dtype):
    w, b, X, Y = make_problem(7, 11, 0, dtype)
    grads, cost = logistic.propagate(w, b, X, Y)
    assert grads["dw"].shape == w.shape and jnp.shape(grads["db"]) == () == jnp.shape(cost)
    assert {grads["dw"].dtype, grads["db"].dtype, cost.dtype} == {jnp.dtype(dtype)}


# --- the same property must catch plausible bugs ----------------------------------------------


def _broken_kernel(fault):
    """A propagate kernel written from the formulas, with ``fault`` in its gradient."""
    def kernel(w, b, X, Y):
        m = X.shape[1]
        Z = w.T @ X + b
        A = jax.nn.sigmoid(Z)
        dw = {"1/m dropped": X @ (A - Y).T,
              "dw transposed": (A - Y) @ X.T / m}.get(fault, X @ (A - Y).T / m)
        db = jnp.sum(A - Y) if fault == "db summed" else jnp.mean(A - Y)
        return {"dw": dw, "db": db}, jnp.mean(jax.nn.softplus(Z) - Y * Z)

    return kernel


def _search(max_examples=200):
    """The property, searched without shrinking (each example compiles): one failure is enough."""
    @settings(max_examples=max_examples, phases=[Phase.generate], database=None)
    @given(problem=problems("float64", max_dim=6, max_examples=8))
    def check(problem):
        errors = propagate_errors(*problem)
        bad = {k: e for k, e in errors.items() if not e <= CHAIN_RTOL[np.dtype("float64")]}
        assert not bad, f"propagate differs from jax.grad: {bad}"

    return check


@pytest.mark.parametrize("fault", ["1/m dropped", "dw transposed", "db summed"])
def test_a_broken_propagate_is_caught(fault, monkeypatch):
    monkeypatch.setattr(logistic, "_propagate", _broken_kernel(fault))
    with pytest.raises(AssertionError, match="differs from jax.grad"):
        _search()()


@pytest.mark.parametrize("fault", sorted(LINEAR_FAULTS))
def test_a_broken_core_chain_is_caught_through_propagate(fault, monkeypatch):
    """propagate runs on the core chain: a fault there reaches dw or db, and the property sees
    it."""
    monkeypatch.setattr(kernels, "linear_backward", LINEAR_FAULTS[fault])
    with pytest.raises(AssertionError, match="differs from jax.grad"):
        _search()()


def test_the_formula_kernel_passes_the_same_search(monkeypatch):
    """Control for the faults above: the kernel they break, unbroken, finds nothing."""
    monkeypatch.setattr(logistic, "_propagate", _broken_kernel(None))
    _search(max_examples=20)()


# --- the course's printed cases ----------------------------------------------------------------

W, B = np.array([[1.0], [2.0]]), 2.0
X_SMALL, Y_SMALL = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]]), np.array([[1, 0, 1]])


def test_course_sigmoid_and_initialize_with_zeros():
    np.testing.assert_allclose(logistic.sigmoid(np.array([0, 2])), [0.5, 0.88079708], atol=1e-8)
    w, b = logistic.initialize_with_zeros(2)
    assert w.tolist() == [[0.0], [0.0]] and b == 0.0


def test_course_propagate():
    grads, cost = logistic.propagate(jnp.asarray(W), B, X_SMALL, Y_SMALL)
    np.testing.assert_allclose(grads["dw"], [[0.99845601], [2.39507239]], atol=1e-8)
    np.testing.assert_allclose(grads["db"], 0.001455578136784208, rtol=1e-12)
    np.testing.assert_allclose(cost, 5.801545319394553, rtol=1e-12)


def test_course_optimize(capsys):
    params, grads, costs = logistic.optimize(jnp.asarray(W), B, X_SMALL, Y_SMALL,
                                             num_iterations=100, learning_rate=0.009,
                                             print_cost=True)
    np.testing.assert_allclose(params["w"], [[0.19033591], [0.12259159]], atol=1e-8)
    np.testing.assert_allclose(params["b"], 1.92535983008, atol=1e-11)
    np.testing.assert_allclose(grads["dw"], [[0.67752042], [1.41625495]], atol=1e-8)
    np.testing.assert_allclose(grads["db"], 0.219194504541, atol=1e-12)
    np.testing.assert_allclose(costs, [5.801545319394553], rtol=1e-12)
    assert capsys.readouterr().out == "Cost after iteration 0: 5.801545\n"


def test_course_predict():
    # The course's first version predicts with the initial (w, b) of its propagate example.
    assert logistic.predict(jnp.asarray(W), B, X_SMALL).tolist() == [[1.0, 1.0, 0.0]]
    w = jnp.array([[0.1124579], [0.23106775]])
    X = jnp.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]])
    assert logistic.predict(w, -0.3, X).tolist() == [[1.0, 1.0, 0.0]]


def test_optimize_is_the_course_loop():
    """The compiled scan takes the same steps as a Python loop over propagate."""
    w, b, X, Y = make_problem(5, 9, 1)
    params, grads, costs = logistic.optimize(w, b, X, Y, 250, 0.3)
    costs_by_hand = []
    for i in range(250):
        step_grads, cost = logistic.propagate(w, b, X, Y)
        w, b = w - 0.3 * step_grads["dw"], b - 0.3 * step_grads["db"]
        if i % 100 == 0:
            costs_by_hand.append(float(cost))
    np.testing.assert_allclose(params["w"], w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(params["b"], b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads["dw"], step_grads["dw"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(costs, costs_by_hand, rtol=1e-12)


def test_propagate_and_predict_work_under_jit():
    w = jnp.asarray(W)
    (grads, cost), (jit_grads, jit_cost) = (f(w, B, X_SMALL, Y_SMALL) for f in (
        logistic.propagate, jax.jit(logistic.propagate)))
    np.testing.assert_allclose(jit_grads["dw"], grads["dw"], rtol=1e-13)
    np.testing.assert_allclose(jit_cost, cost, rtol=1e-13)
    assert jax.jit(logistic.predict)(w, B, X_SMALL).tolist() == [[1.0, 1.0, 0.0]]


# --- the cat reproduction ----------------------------------------------------------------------

COURSE_COSTS = [0.693147, 0.584508, 0.466949, 0.376007, 0.331463, 0.303273, 0.279880, 0.260042,
                0.242941, 0.228004, 0.214820, 0.203078, 0.192544, 0.183033, 0.174399, 0.166521,
                0.159305, 0.152667, 0.146542, 0.140872]


@needs_cat_data
def test_cat_model_reproduces_the_course_in_float64(capsys):
    train_x, train_y, test_x, test_y, _ = jaxdnn.load_cat_data(DATA)
    d = logistic.model(train_x, train_y, test_x, test_y, num_iterations=2000,
                       learning_rate=0.005, print_cost=True)
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"Cost after iteration {100 * i}: {c:f}" for i, c in
                       enumerate(COURSE_COSTS)] + ["train accuracy: 99.04306220095694 %",
                                                   "test accuracy: 70.0 %"]
    assert [round(c, 6) for c in d["costs"]] == COURSE_COSTS
    assert set(d) == {"costs", "Y_prediction_test", "Y_prediction_train", "w", "b",
                      "learning_rate", "num_iterations"}
    assert d["w"].shape == (12288, 1) and d["w"].dtype == jnp.float64
    assert d["Y_prediction_train"].shape == (1, 209) and d["Y_prediction_test"].shape == (1, 50)
    assert (d["learning_rate"], d["num_iterations"]) == (0.005, 2000)


# --- bad input ---------------------------------------------------------------------------------

w2 = jnp.zeros((2, 1))
BAD_CALLS = {
    "X rows": (lambda: logistic.propagate(w2, 0.0, np.zeros((3, 4)), np.zeros((1, 4))),
               ShapeError, "X"),
    "Y columns": (lambda: logistic.propagate(w2, 0.0, np.zeros((2, 4)), np.zeros((1, 3))),
                  ShapeError, "Y"),
    "Y labels": (lambda: logistic.propagate(w2, 0.0, np.zeros((2, 3)), np.array([[0, 2, 1]])),
                 DataError, "Y"),
    "w a row": (lambda: logistic.propagate(jnp.zeros((1, 2)), 0.0, np.zeros((2, 3)),
                                           np.zeros((1, 3))), ShapeError, "w"),
    "b a list": (lambda: logistic.predict(w2, [0.0], np.zeros((2, 3))), InputTypeError, "b"),
    "b infinite": (lambda: logistic.predict(w2, np.inf, np.zeros((2, 3))), DataError, "b"),
    "X a list": (lambda: logistic.predict(w2, 0.0, [[0.0], [1.0]]), InputTypeError, "X"),
    "zero iterations": (lambda: logistic.optimize(w2, 0.0, np.zeros((2, 3)), np.zeros((1, 3)),
                                                  0, 0.1), OptionError, "num_iterations"),
    "fractional iterations": (lambda: logistic.optimize(w2, 0.0, np.zeros((2, 3)),
                                                        np.zeros((1, 3)), 1.5, 0.1),
                              InputTypeError, "num_iterations"),
    "negative rate": (lambda: logistic.optimize(w2, 0.0, np.zeros((2, 3)), np.zeros((1, 3)),
                                                10, -0.1), OptionError, "learning_rate"),
    "dim 0": (lambda: logistic.initialize_with_zeros(0), OptionError, "dim"),
    "X_test rows": (lambda: logistic.model(np.zeros((2, 3)), np.zeros((1, 3)), np.zeros((3, 3)),
                                           np.zeros((1, 3))), ShapeError, "X_test"),
    "Y_train columns": (lambda: logistic.model(np.zeros((2, 3)), np.zeros((1, 2)),
                                               np.zeros((2, 3)), np.zeros((1, 3))),
                        ShapeError, "Y_train"),
    "z text": (lambda: logistic.sigmoid("1"), InputTypeError, "z"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_input_names_the_argument(case):
    call, error, name = BAD_CALLS[case]
    with pytest.raises(error, match=rf"\b{name}\b"):
        call()
