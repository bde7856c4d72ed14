"""jaxdnn.basics: the course's softmax and normalizeRows values, row by row, and their limits."""

import hypothesis.extra.numpy as hnp
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxdnn import InputTypeError, ShapeError, basics


def test_course_softmax():
    s = basics.softmax(jnp.array([[9, 2, 5, 0, 0], [7, 5, 0, 0, 0]]))
    np.testing.assert_allclose(s, [
        [9.80897665e-01, 8.94462891e-04, 1.79657674e-02, 1.21052389e-04, 1.21052389e-04],
        [8.78679856e-01, 1.18916387e-01, 8.01252314e-04, 8.01252314e-04, 8.01252314e-04]],
        rtol=1e-8)


def test_course_normalize_rows():
    x = basics.normalizeRows(jnp.array([[0, 3, 4], [1, 6, 4]]))
    np.testing.assert_allclose(x, [[0.0, 0.6, 0.8], [0.13736056, 0.82416338, 0.54944226]],
                               atol=1e-8)
    np.testing.assert_allclose(basics.normalize_rows(jnp.array([[0.0, 3, 4], [2, 6, 4]])),
                               [[0, 3 / 5, 4 / 5], np.array([2, 6, 4]) / np.sqrt(56)],
                               rtol=1e-15)


def rows(bound):
    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=8),
                      elements=st.floats(-bound, bound, allow_subnormal=False))


@given(x=rows(50))
def test_softmax_is_the_formula_row_by_row(x):
    s = basics.softmax(jnp.asarray(x))
    expected = np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)
    np.testing.assert_allclose(s, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(np.sum(s, axis=-1), 1.0, rtol=1e-14)


@given(x=rows(1e300))
def test_normalize_rows_gives_unit_rows_or_keeps_zero_rows(x):
    norms = np.linalg.norm(np.asarray(basics.normalize_rows(jnp.asarray(x))), axis=-1)
    zero = (x == 0).all(axis=-1)
    np.testing.assert_allclose(norms[~zero], 1.0, rtol=1e-14)
    assert (norms[zero] == 0).all()


def test_softmax_is_finite_where_the_course_formula_overflows():
    s = basics.softmax(jnp.array([[1000.0, 0.0], [-1000.0, -1000.0]]))
    np.testing.assert_allclose(s, [[1.0, 0.0], [0.5, 0.5]])


@pytest.mark.parametrize("f", [basics.softmax, basics.normalize_rows])
@pytest.mark.parametrize("x, error", [([[1.0, 2.0]], InputTypeError),
                                      (np.zeros((2, 2, 2)), ShapeError),
                                      (np.array([[1.0, 2j]]), InputTypeError)],
                         ids=["list", "3-D", "complex"])
def test_bad_input_names_x(f, x, error):
    with pytest.raises(error, match=r"\bx\b"):
        f(x)


@pytest.mark.parametrize("f", [basics.softmax, basics.normalize_rows])
def test_a_nan_row_stays_in_its_row(f):
    """Values are not checked (they only compute, like numpy): NaN spreads within its row."""
    out = np.asarray(f(np.array([[1.0, np.nan], [3.0, 4.0]])))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
