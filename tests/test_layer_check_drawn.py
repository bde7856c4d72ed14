"""check_layer's further properties, each shown to fail on a broken backward: hypothesis
strategies as inputs (standalone and inside a @given test), the counterexample shrunk,
subnormal inputs on request, the second order of a pair; and no silent downgrade through any of
them."""

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import jaxdnn
from jaxdnn.testing import check_layer, check_vjp
from jaxdnn.verify import drawn, gallery, layer, shrink
from jaxdnn.verify import witnesses as w
from jaxdnn.verify.faults import FAULTS

TANH, TANH_BACKWARD, _ = gallery.LAYERS["tanh"]


def tanh_as_1_minus_tanh(d, z):
    return d * (1 - jnp.tanh(z))


def arrays(dtype=np.float32, shape=(2, 3)):
    """Fixed-shape arrays (one compilation), values from a few (quick to shrink)."""
    return hnp.arrays(dtype, shape, elements=st.sampled_from([-2.0, -0.5, 0.0, 1.0, 3.0]))


# --- hypothesis strategies as inputs -----------------------------------------------------------

def test_a_strategy_input_is_drawn_and_checked_standalone():
    report = check_layer(TANH, TANH_BACKWARD, arrays(), draws=4)
    assert report.finding is None and report.draws == 4 and report.leaves[0].shape == (2, 3)


def test_a_strategy_input_catches_a_wrong_backward_with_hypothesis_shrinking():
    with pytest.raises(AssertionError) as caught:
        check_layer(TANH, tanh_as_1_minus_tanh, arrays(shape=(1, 1)), draws=4)
    message = str(caught.value)
    assert "\nformula: d0" in message
    assert "counterexample: the input hypothesis drew and shrank: shapes (1, 1)" in message


def test_strategies_mix_with_example_inputs():
    dense, backward, _ = gallery.LAYERS["dense"]
    wrong = lambda d, c: (-backward(d, c)[0], *backward(d, c)[1:])  # noqa: E731
    examples = gallery.examples("dense", "float32")
    report = check_vjp(dense, backward, (examples[0], arrays(shape=(4, 5)), examples[2]),
                       draws=1)
    assert report.finding is None
    with pytest.raises(AssertionError, match=r"\nsign: d0"):
        check_vjp(dense, wrong, (examples[0], arrays(shape=(4, 5)), examples[2]), draws=2,
                  shrink=False)


@settings(max_examples=2, deadline=None)
@given(scale=st.floats(0.5, 2.0))
def test_inside_a_given_test_the_check_draws_from_that_test(scale):
    check_layer(lambda z: (scale * jnp.tanh(z), z),
                lambda d, z: scale * TANH_BACKWARD(d, z), arrays())


def test_inside_a_given_test_a_wrong_backward_fails_that_test():
    @settings(max_examples=3, deadline=None, database=None, phases=[Phase.generate])
    @given(st.just(None))
    def user_test(_):
        check_layer(TANH, tanh_as_1_minus_tanh, arrays(), shrink=False)

    with pytest.raises(AssertionError, match=r"\nformula: d0"):
        user_test()


def test_strategies_need_hypothesis_and_say_so(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "hypothesis", None)
    with pytest.raises(jaxdnn.OptionError, match=r"pip install 'jaxdnn\[testing\]'"):
        drawn.hypothesis()


def test_a_strategy_object_is_told_without_hypothesis_and_arrays_are_not():
    assert drawn.is_strategy(arrays()) and not drawn.is_strategy(np.zeros(3))


# --- the counterexample, shrunk --------------------------------------------------------------

def test_the_failing_input_is_shrunk_to_a_smaller_one_that_fails_the_same_way():
    fault = next(f for f in FAULTS if f.name == "dW negated")
    report = layer.verify(gallery.LAYERS["dense"].forward, fault.backward,
                          gallery.examples("dense", "float32"))
    assert report.finding.bug == "sign" and report.finding.witness == "vjp"
    shrunk = report.counterexample
    assert shrunk.how == "shrunk" and shrunk.steps > 0
    assert sum(np.size(a) for a in shrunk.inputs) < 16 + 20 + 4
    assert "smallest failing input found" in str(report) and "property vjp" in str(report)
    again = layer.verify(gallery.LAYERS["dense"].forward, fault.backward, shrunk.inputs,
                         shrink=False)
    assert again.finding.bug == "sign"


def test_shrinking_keeps_only_candidates_that_still_fail():
    x = (jnp.arange(1.0, 7.0).reshape(2, 3),)
    big = lambda point: np.max(np.abs(np.asarray(point[0]))) >= 5  # noqa: E731
    small, steps = shrink.shrink(x, big)
    assert big(small) and steps > 0 and np.count_nonzero(small[0]) < 6
    same, none = shrink.shrink(x, lambda point: False)
    assert none == 0 and np.array_equal(same[0], x[0])


def test_without_shrinking_the_report_says_the_input_is_not_shrunk():
    report = layer.verify(TANH, tanh_as_1_minus_tanh, (jnp.zeros((2, 2), jnp.float32),),
                          shrink=False)
    assert "the failing input, not shrunk: shapes (2, 2)" in str(report)


# --- subnormals, on request ----------------------------------------------------------------

def swish_keeping_its_output(z):
    out = z * jax.nn.sigmoid(z)
    return out, (z, out)


def swish_backward_from_its_output(d, cache):
    """sigmoid(z) recovered as out / z: right to rounding, except where z is subnormal and out
    keeps only a few bits."""
    z, out = cache
    safe = jnp.where(z == 0, jnp.ones_like(z), z)
    s = jnp.where(z == 0, jnp.asarray(0.5, z.dtype), out / safe)
    return d * s * (1 + z * (1 - s))


def test_subnormals_are_drawn_only_when_asked():
    examples = (jnp.zeros((4, 6), jnp.float32), jnp.zeros((3,), jnp.float16))
    for leaf in w.draw_inputs(examples, np.random.RandomState(0), subnormals=True):
        a = np.abs(np.asarray(leaf, np.float64))
        assert np.any((a > 0) & (a < jnp.finfo(leaf.dtype).smallest_normal))
    for leaf in w.draw_inputs(examples, np.random.RandomState(0)):
        a = np.abs(np.asarray(leaf, np.float64))
        assert not np.any((a > 0) & (a < jnp.finfo(leaf.dtype).smallest_normal))


def test_a_backward_wrong_only_at_subnormals_is_caught_only_with_them():
    examples = (jnp.zeros((1, 2), jnp.float16),)
    assert check_layer(swish_keeping_its_output, swish_backward_from_its_output, *examples,
                       draws=10).finding is None
    with pytest.raises(AssertionError, match="formula: d0.*not at subnormal inputs"):
        check_layer(swish_keeping_its_output, swish_backward_from_its_output, *examples,
                    draws=10, subnormals=True, shrink=False)


@pytest.mark.parametrize("name", ["relu", "abs", "maxout"])
def test_correct_layers_pass_with_subnormals(name):
    layer_ = gallery.LAYERS[name]
    assert check_layer(layer_.forward, layer_.backward, *gallery.examples(name, "float32"),
                       subnormals=True, draws=2).finding is None


# --- the second order ------------------------------------------------------------------------

def tanh_keeping_t(z):
    t = jnp.tanh(z)
    return t, t


def tanh_backward_from_t(d, t):
    return d * (1 - t * t)


def tanh_backward_stopping_t(d, t):
    """Right values; its own derivative treats the cache as a constant."""
    return d * (1 - jax.lax.stop_gradient(t) ** 2)


@jax.custom_jvp
def sigmoid_wrong_rule(z):
    return jax.nn.sigmoid(z)


sigmoid_wrong_rule.defjvp(lambda p, t: (sigmoid_wrong_rule(p[0]), t[0] * sigmoid_wrong_rule(
    p[0])))  # s, not s (1 - s)


def sigmoid_backward_wrong_rule(d, z):
    s = sigmoid_wrong_rule(z)
    return d * s * (1 - s)


@pytest.mark.parametrize("dtype, name", [("float32", "dense"), ("float64", "glu")])
def test_second_order_passes_correct_pairs(dtype, name):
    pair = gallery.LAYERS[name]
    report = check_layer(pair.forward, pair.backward, *gallery.examples(name, dtype),
                         second_order=True, draws=1)
    assert all("hvp" in leaf.errors and "hvp fd" in leaf.errors for leaf in report.leaves)
    check_layer(tanh_keeping_t, tanh_backward_from_t, jnp.zeros((3, 4), dtype),
                second_order=True)


def test_second_order_sees_a_stop_gradient_in_the_backward():
    examples = (jnp.zeros((3, 4), jnp.float32),)
    assert check_layer(tanh_keeping_t, tanh_backward_stopping_t, *examples).finding is None
    with pytest.raises(AssertionError, match=r"\nmissing-term: d0\[.*second order.*property "
                                             r"second order"):
        check_layer(tanh_keeping_t, tanh_backward_stopping_t, *examples, second_order=True,
                    shrink=False)


def test_second_order_sees_a_wrong_rule_inside_the_backward():
    forward = gallery.LAYERS["sigmoid"].forward
    examples = (jnp.zeros((3, 4), jnp.float64),)
    assert check_layer(forward, sigmoid_backward_wrong_rule, *examples).finding is None
    with pytest.raises(AssertionError, match="second order: jax.jvp through the backward"):
        check_layer(forward, sigmoid_backward_wrong_rule, *examples, second_order=True,
                    shrink=False)


def test_second_order_of_a_backward_jax_cannot_trace_refuses():
    def numpy_backward(d, z):
        return jnp.asarray(np.asarray(d) * (1 - np.tanh(np.asarray(z)) ** 2))

    examples = (jnp.zeros((2, 2), jnp.float32),)
    assert check_layer(TANH, numpy_backward, *examples).finding is None
    with pytest.raises(jaxdnn.OptionError, match="second_order=True needs a backward"):
        check_layer(TANH, numpy_backward, *examples, second_order=True)


# --- no silent downgrade through the new entry points ---------------------------------------

def test_a_float64_strategy_with_x64_off_refuses():
    with jax.enable_x64(False), pytest.raises(jaxdnn.OptionError, match="x64"):
        check_layer(TANH, TANH_BACKWARD, arrays(np.float64), draws=1)


def test_strategy_draws_are_all_run_and_none_is_refused():
    for bad in (0, -1):
        with pytest.raises((AssertionError, jaxdnn.OptionError), match="draws must"):
            check_layer(TANH, TANH_BACKWARD, arrays(), draws=bad)
    assert check_layer(TANH, TANH_BACKWARD, arrays(), draws=3).draws == 3
    with pytest.raises(jaxdnn.OptionError, match="hypothesis ran 1 examples of the 3 asked"):
        check_layer(TANH, TANH_BACKWARD, st.just(np.ones((2, 2), np.float32)), draws=3)


def test_a_tolerance_below_the_floor_refuses_with_strategies_and_second_order():
    with pytest.raises(AssertionError, match="precision: rtol"):
        check_layer(TANH, TANH_BACKWARD, arrays(), rtol=1e-12, draws=1)
    with pytest.raises(AssertionError, match="precision: rtol"):
        check_layer(TANH, TANH_BACKWARD, jnp.zeros((2, 2), jnp.float32), rtol=1e-12,
                    second_order=True, subnormals=True)


def test_check_layer_imports_without_hypothesis_and_the_searches_say_what_they_need(
        monkeypatch):
    import sys

    import jaxdnn.testing as face
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "jaxdnn.verify.testing", raising=False)
    assert face.check_layer(TANH, TANH_BACKWARD, jnp.zeros((2, 2), jnp.float32)).finding is None
    with pytest.raises(ImportError, match=r"check_activation needs hypothesis.*jaxdnn\[testing\]"):
        face.check_activation("relu")
