"""check_layer / check_vjp on any hand-written pair; no silent downgrade of what a check was
asked for (dtype, number of examples, tolerance); each witness and bound guarded against a
weaker formula."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from jaxdnn.testing import check_activation, check_layer, check_network, check_vjp, problems
from jaxdnn.verify import gallery, tolerances
from jaxdnn.verify import witnesses as w


def swish(Z):
    return Z * jax.nn.sigmoid(Z), Z


def swish_backward_off_by_1e_7(dA, Z):
    s = jax.nn.sigmoid(Z)
    return dA * s * (1 + Z * (1 - s)) * (1 + 1e-7)


# --- item: a check asked for float64 checks float64 or refuses --------------------------------

@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_float64_with_x64_off_refuses_instead_of_checking_float32():
    bad = jaxdnn.custom_activation("swish", swish, swish_backward_off_by_1e_7)
    with jax.enable_x64(False):
        with pytest.raises(jaxdnn.OptionError, match="float64 check needs x64"):
            check_activation(bad, dtypes=("float64",), max_examples=2)
        with pytest.raises(jaxdnn.OptionError, match="x64"):
            check_network(dtype="float64", max_examples=1)
        with pytest.raises(jaxdnn.OptionError, match="x64"):
            problems("float64").example()
        with pytest.raises(jaxdnn.OptionError, match="x64"):
            check_layer(lambda x: (x, None), lambda d, c: d, np.zeros(3))  # numpy float64


def test_with_x64_on_the_same_float64_check_catches_the_1e_7_error():
    bad = jaxdnn.custom_activation("swish", swish, swish_backward_off_by_1e_7)
    with pytest.raises(AssertionError, match="swish"):
        check_activation(bad, dtypes=("float64",), max_examples=5, shrink=False)


@pytest.mark.parametrize("dtypes", [(), "float64", []])
def test_no_dtype_or_a_string_of_letters_refuses(dtypes):
    with pytest.raises(jaxdnn.OptionError, match="non-empty sequence"):
        check_activation("relu", dtypes=dtypes)


def test_no_examples_refuses():
    with pytest.raises(jaxdnn.OptionError, match="at least 1"):
        check_activation("relu", max_examples=0)
    for option in ("draws", "directions", "probes"):
        with pytest.raises(AssertionError, match=f"{option} must be at least 1"):
            check_layer(*gallery.LAYERS["tanh"][:2], jnp.zeros((2, 2)), **{option: 0})


def test_a_tolerance_below_what_the_dtype_resolves_refuses_to_pass():
    forward, backward, _ = gallery.LAYERS["tanh"]
    with pytest.raises(AssertionError, match="precision: rtol 1e-12 is below"):
        check_layer(forward, backward, jnp.zeros((4, 6), jnp.float32), rtol=1e-12)
    check_layer(forward, backward, jnp.zeros((4, 6), jnp.float32), rtol=1e-4)


# --- check_layer ----------------------------------------------------------------------------

def test_the_minimal_call_returns_a_report_that_states_its_limits():
    report = check_layer(*gallery.LAYERS["layer norm"][:2],
                         *gallery.examples("layer norm", "float64"))
    assert report.finding is None and report.dtype == "float64"
    assert [leaf.name for leaf in report.leaves] == ["d0", "d1", "d2"]
    assert "matmul precision" in report.rounding
    assert all(0 < leaf.verified_to < 1e-12 for leaf in report.leaves)
    assert "verified to" in str(report)


def test_pytree_inputs_and_grads():
    def forward(p, x):
        return p["w"] * jnp.tanh(x) + p["c"], (p, x)

    def backward(d, cache):
        p, x = cache
        return {"w": jnp.sum(d * jnp.tanh(x)), "c": jnp.sum(d)}, d * p["w"] * (1 - jnp.tanh(x)
                                                                                ** 2)

    params = {"w": jnp.float32(0), "c": jnp.float32(0)}
    report = check_layer(forward, backward, params, jnp.zeros(5, jnp.float32))
    assert [leaf.name for leaf in report.leaves] == ["d0['c']", "d0['w']", "d1"]


def test_a_wrong_layer_raises_with_its_class_leaf_and_element():
    forward, backward, _ = gallery.LAYERS["dense"]
    wrong = lambda d, c: (-backward(d, c)[0], *backward(d, c)[1:])  # noqa: E731
    with pytest.raises(AssertionError, match=r"sign: d0\[\d, \d\] \(hand/reference ratio -1\)"):
        check_vjp(forward, wrong, gallery.examples("dense", "float32"), shrink=False)


@pytest.mark.parametrize("shape", [(4, 5), (2,)])
def test_a_forward_without_its_cache_is_named_not_unpacked(shape):
    """A forward that returns only its output: refused by name (a (2,) output would unpack)."""
    with pytest.raises(jaxdnn.InputTypeError, match=re.escape(
            f"tanh_only: the forward must return (output, cache); it returned an array of shape "
            f"{shape}")):
        check_layer(lambda x: jnp.tanh(x), lambda d, c: d, jnp.zeros(shape), name="tanh_only")


def test_a_pair_that_is_not_two_functions_is_refused_before_any_call():
    with pytest.raises(jaxdnn.InputTypeError, match="the backward must be a function; got "
                                                     "NoneType"):
        check_layer(lambda x: (x, x), None, jnp.zeros(3))


def test_an_error_inside_the_pair_names_the_function_and_keeps_the_original():
    def backward(d, cache):  # the matmul the wrong way round
        return d @ cache[1], cache[0].T @ d

    with pytest.raises(jaxdnn.FunctionError, match=r"dense: your backward raised TypeError: "
                       r"dot_general .* \(called with a cotangent of shapes \(3, 5\)\)") as e:
        check_layer(lambda W, x: (W @ x, (W, x)), backward, jnp.zeros((3, 4)), jnp.zeros((4, 5)),
                    name="dense")
    assert isinstance(e.value.__cause__, TypeError)

    def forward(x):
        raise ValueError("not implemented for this shape")

    with pytest.raises(jaxdnn.FunctionError, match=r"your forward raised ValueError: not "
                       r"implemented for this shape \(called with inputs of shapes \(2, 3\)\)"):
        check_layer(forward, lambda d, c: d, jnp.zeros((2, 3)))


def test_a_backward_that_is_not_finite_is_a_formula_bug_not_a_kink():
    """tanh has no kink: a NaN gradient is a formula bug, and every witness's error is inf,
    never a NaN that a comparison would let pass as 0."""
    report = jaxdnn.verify.layer.verify(lambda z: (jnp.tanh(z), jnp.tanh(z)),
                                        lambda d, a: d * jnp.nan, (jnp.zeros((4, 5)),))
    assert report.finding.bug == "formula" and "not finite where jax.vjp is" in report.finding.why
    assert all(e == np.inf for e in report.leaves[0].errors.values()), report.leaves[0].errors


def test_a_forward_that_overflows_is_named_not_its_backward():
    """softplus written as log(1 + exp(100 z)): inf past z = 0.89 in float32, its backward
    right; the finding is the forward's (jax.vjp is NaN there, so the backward would be blamed)."""
    report = jaxdnn.verify.layer.verify(
        lambda z: (jnp.log(1 + jnp.exp(100 * z)), z),
        lambda d, z: d * 100 * jax.nn.sigmoid(100 * z), (jnp.zeros((4, 5), jnp.float32),))
    f = report.finding
    assert (f.bug, f.leaf, f.witness, f.values["output"]) == ("overflow", "output", "forward",
                                                               np.inf)
    stable = jaxdnn.verify.layer.verify(lambda z: (jax.nn.softplus(100 * z), z),
                                        lambda d, z: d * 100 * jax.nn.sigmoid(100 * z),
                                        (jnp.zeros((4, 5), jnp.float32),))
    assert stable.finding is None
    # -inf on purpose (a mask): its gradient is finite, so it is judged, and verified
    mask = jaxdnn.verify.layer.verify(lambda z: (jnp.where(z > 0, z, -jnp.inf), z),
                                      lambda d, z: jnp.where(z > 0, d, 0.0),
                                      (jnp.zeros((4, 5), jnp.float32),))
    assert mask.finding is None and any("fd skipped" in n for n in mask.notes), mask.notes


def test_a_finding_without_an_element_or_values_reads_cleanly():
    """A shape finding has no element and no values: neither an empty index nor an empty
    field between semicolons."""
    report = jaxdnn.verify.layer.verify(lambda x: (jnp.tanh(x), x), lambda d, x: d.T,
                                        (jnp.zeros((4, 1)),), shrink=False)
    line = str(report).splitlines()[-2]
    assert line.startswith("shape: d0 (gradient of shape (1, 4) for an input of shape (4, 1)); "
                           "counterexample: draw 0 of seed 0, property shape"), line


@pytest.mark.parametrize("side", [12, 40])
def test_a_subgradient_at_every_one_of_many_kinks_passes(side):
    """ReLU passing the gradient at Z == 0 (slope 1, a subgradient) where jax.vjp of maximum
    gives 1/2: at a quarter of 144 or 1600 entries, each kink examined, none blamed."""
    relu = lambda x: (jnp.maximum(x, 0), x)  # noqa: E731
    report = jaxdnn.verify.layer.verify(relu, lambda d, x: jnp.where(x >= 0, d, 0.0),
                                        (jnp.zeros((side, side), jnp.float32),), shrink=False)
    assert report.finding is None, report
    doubled = jaxdnn.verify.layer.verify(relu, lambda d, x: jnp.where(x >= 0, 2 * d, 0.0),
                                         (jnp.zeros((side, side), jnp.float32),), shrink=False)
    assert doubled.finding.bug == "scale"


def test_a_second_call_gives_the_same_bits():
    a = check_layer(*gallery.LAYERS["softmax"][:2], jnp.zeros((5, 4), jnp.float32), seed=3)
    b = check_layer(*gallery.LAYERS["softmax"][:2], jnp.zeros((5, 4), jnp.float32), seed=3)
    assert a == b


# --- the witnesses and bounds, each against a weaker formula ----------------------------------

def test_vjp_errors_see_swapped_entries_of_equal_norm():
    h, r = np.array([[1.0, 2.0]]), np.array([[2.0, 1.0]])
    assert w.vjp_errors([h], [r], [0.0])[0] == pytest.approx(np.sqrt(2) / np.sqrt(5))


def test_slopes_see_both_sides_of_a_kink():
    with jax.enable_x64(True):
        x = (jnp.zeros(1, jnp.float64),)
        central, left, right, _ = w.slopes(lambda z: (jnp.abs(z), None), x,
                                           jnp.ones(1, jnp.float64), (jnp.ones(1, jnp.float64),))
    assert (central, left, right) == (0.0, -1.0, 1.0)


def test_linearity_sees_a_backward_that_ignores_its_cotangent():
    assert w.linearity_error(lambda d, c: d * c, 2.0, jnp.ones(3), jnp.ones(3), 1) == 0.0
    assert w.linearity_error(lambda d, c: c * jnp.ones(3), 2.0, jnp.ones(3), jnp.ones(3), 1) > 0.1


def test_same_bits_sees_one_ulp():
    a = jnp.ones(3, jnp.float32)
    assert not w.same_bits((a,), (a.at[1].set(jnp.nextafter(a[1], 2 * a[1])),))


def test_the_bound_is_the_formula_and_grows_with_the_precision_in_force():
    assert tolerances.vjp_bound("float32", 100) == pytest.approx(16 * 2.0**-24 * 10)
    assert tolerances.vjp_bound("float64", 100) == pytest.approx(16 * 2.0**-53 * 10)
    assert tolerances.vjp_bound("bfloat16", 4) == pytest.approx(16 * 2.0**-8 * 2)
    with jax.default_matmul_precision("tensorfloat32"):
        assert tolerances.vjp_bound("float32", 100) == pytest.approx(16 * 2.0**-11 * 10)
        assert "tensorfloat32" in tolerances.rounding("float32")[1]


@pytest.mark.parametrize("dtype, error", [("float32", 1e-4), ("float64", 1e-10)])
def test_a_small_relative_error_is_caught_at_the_bound(dtype, error):
    forward, backward, _ = gallery.LAYERS["dense"]
    off = lambda d, c: (backward(d, c)[0] * (1 + error), *backward(d, c)[1:])  # noqa: E731
    with pytest.raises(AssertionError, match="scale"):
        check_layer(forward, off, *gallery.examples("dense", dtype), shrink=False)


def test_bfloat16_layers_verify_on_cpu():
    report = check_layer(*gallery.LAYERS["glu"][:2], *gallery.examples("glu", jnp.bfloat16))
    assert report.dtype == "bfloat16" and report.finding is None


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_the_witnesses_refuse_no_directions_and_the_audit_no_draws_or_a_lost_dtype():
    from jaxdnn.verify import audit
    case = problems("float64", max_depth=2, max_width=3, max_examples=4).example()
    with pytest.raises(jaxdnn.OptionError, match="tangents must be at least 1"):
        jaxdnn.transpose_errors(case.X, case.Y, case.parameters, case.hidden_activation,
                                tangents=0)
    with pytest.raises(jaxdnn.OptionError, match="draws must be at least 1"):
        next(audit.run([3], 2, 1, "sigmoid", "float32", 4, 0, ["relu"]))
    with jax.enable_x64(False), pytest.raises(jaxdnn.OptionError, match="x64"):
        next(audit.run([3], 2, 1, "sigmoid", "float64", 4, 1, ["relu"]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(jaxdnn.ACTIVATIONS))
def test_the_built_in_activations_go_through_the_same_verifier(name, dtype):
    pair = jaxdnn.ACTIVATIONS[name]
    report = check_layer(pair.forward, pair.backward, jnp.zeros((4, 6), dtype))
    assert report.finding is None


def test_the_chain_witness_sees_a_wrong_pair_inside_a_chain():
    forward, backward, _ = gallery.LAYERS["dense"]
    x = w.draw_inputs(gallery.examples("dense", "float64"), np.random.RandomState(0), zeros=0.0)
    wrong = lambda d, c: (-backward(d, c)[0], *backward(d, c)[1:])  # noqa: E731
    assert max(w.chain_errors(forward, backward, x, np.random.RandomState(1))) < 1e-13
    assert w.chain_errors(forward, wrong, x, np.random.RandomState(1))[0] > 0.5


def test_only_finite_differences_see_a_wrong_rule_jax_itself_uses():
    """A forward whose jax.custom_jvp rule is wrong: jax.vjp and jax.jvp both use the rule,
    so the hand backward that follows it agrees with them; the float64 differences do not."""
    @jax.custom_jvp
    def softsign(x):
        return x / (1 + jnp.abs(x))

    softsign.defjvp(lambda p, t: (softsign(p[0]), t[0] / (1 + jnp.abs(p[0]))))  # not squared
    forward = lambda x: (softsign(x), x)  # noqa: E731
    backward = lambda d, x: d / (1 + jnp.abs(x))  # noqa: E731
    with pytest.raises(AssertionError, match=r"\nformula: d0\b.*float64 differences disagree"):
        check_layer(forward, backward, jnp.zeros((3, 4), jnp.float32), shrink=False)


def test_under_a_lower_matmul_precision_the_report_says_so_and_still_catches_a_bug():
    forward, backward, _ = gallery.LAYERS["dense"]
    half = lambda d, c: (0.5 * backward(d, c)[0], *backward(d, c)[1:])  # noqa: E731
    with jax.default_matmul_precision("bfloat16"):
        report = check_layer(forward, backward, *gallery.examples("dense", "float32"))
        assert "matmuls bfloat16" in report.rounding
        with pytest.raises(AssertionError, match="\nscale: d0"):
            check_layer(forward, half, *gallery.examples("dense", "float32"), shrink=False)
