"""Property-based verification of hand-written gradients, for your own activations and networks.

Needs hypothesis (``pip install 'jaxdnn[testing]'``). In a test file::

    from jaxdnn.testing import check_activation

    def test_swish():
        check_activation(jaxdnn.custom_activation("swish", swish, swish_backward))

:func:`check_activation` and :func:`check_network` run hypothesis searches and raise an
``AssertionError`` naming the layer, the gradient leaf (``dW3``), the witness and the error, with
hypothesis's shrunk counterexample attached. The strategies they draw from are public too:
:func:`layer_dims`, :func:`activations`, :func:`networks`, :func:`problems` and
:func:`activation_inputs`. The bounds they assert (``CHAIN_RTOL``, ``ELEMENT_RTOL``, keyed by
dtype) belong to :mod:`jaxdnn.gradcheck`.

The witnesses (:mod:`jaxdnn.gradcheck`): reverse-mode ``jax.grad``
(:func:`~jaxdnn.autodiff_errors`) and forward-mode ``jax.jvp`` through the dot-product test
(:func:`~jaxdnn.transpose_errors`) for every network, in one compiled call
(:func:`witness_errors`); finite differences in float64 (:func:`~jaxdnn.gradient_check`) run
by ``jaxdnn check``. Each network compiles once (about a second on a laptop core), so the
searches default to 25 networks per dtype.
"""

from typing import NamedTuple

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ..core.activations import ACTIVATIONS, Activation, get_activation
from ..errors import OptionError
from .gradcheck import (
    CHAIN_RTOL,
    ELEMENT_RTOL,
    FLUSH_ATOL,
    GRADIENT_FLOOR,
    at_least_one,
    compare,
    draw_probes,
    forward_mode,
    hand_and_reference,
    transpose_ratios,
    verified,
    witness_inputs,
)
from .layer import check_vjp
from .tolerances import require
from .witnesses import slopes

HIDDEN = tuple(sorted(name for name in ACTIVATIONS if name != "sigmoid")) + ("sigmoid",)
"""The built-in hidden activations, the ones the strategies draw by default."""


class Case(NamedTuple):
    """A drawn problem: data, parameters and how the network computes."""

    X: jnp.ndarray
    Y: jnp.ndarray
    parameters: dict
    hidden_activation: tuple
    output: str = "sigmoid"

    @property
    def layer_dims(self):
        return [self.X.shape[0]] + [self.parameters[f"W{l}"].shape[0]
                                    for l in range(1, len(self.parameters) // 2 + 1)]


class Network(NamedTuple):
    """A drawn architecture: ``[n[0], ..., n[L]]``, one activation per hidden layer, the output."""

    layer_dims: list
    hidden_activation: tuple
    output: str


def layer_dims(max_depth=6, max_width=20):
    """``[n[0], n[1], ..., n[L]]``: depth L from 1 to ``max_depth``, widths 1 to ``max_width``."""
    return st.integers(1, max_depth).flatmap(
        lambda L: st.lists(st.integers(1, max_width), min_size=L + 1, max_size=L + 1))


def activations(hidden=HIDDEN):
    """One hidden activation: a name of the table or an :class:`Activation` of ``hidden``."""
    return st.sampled_from(tuple(hidden))


@st.composite
def networks(draw, max_depth=6, max_width=20, hidden=HIDDEN, outputs=("sigmoid",), must=None):
    """An architecture; a softmax output has K = 2..max(max_width, 2) classes. ``must``: an
    activation placed in at least one hidden layer (when there is one)."""
    dims = draw(layer_dims(max_depth, max_width), label="layer_dims")
    output = draw(st.sampled_from(outputs), label="output")
    if output == "softmax":
        dims[-1] = draw(st.integers(2, max(max_width, 2)), label="classes")
    L = len(dims) - 1
    chosen = draw(st.lists(activations(hidden), min_size=L - 1, max_size=L - 1), label="hidden")
    if must is not None and L > 1:
        chosen[draw(st.integers(0, L - 2), label="its layer")] = must
    return Network(dims, tuple(chosen), output)


@st.composite
def problems(draw, dtype="float64", max_depth=6, max_width=20, max_examples=64, hidden=HIDDEN,
             bias=("zero", "random"), outputs=("sigmoid",), saturating=False, must=None):
    """A random network (:func:`networks`) with data and parameters of ``dtype``.

    Weights are N(0, 1/n[l-1]), so outputs stay away from saturation unless ``saturating``
    (then the output layer's weights may be scaled by 30: logits of tens). Zero biases and
    zeroed input columns are drawn on purpose: they make pre-activations exactly 0 (ReLU's kink)
    common. Labels: 0/1 for a sigmoid, one-hot for a softmax.
    """
    dtype = require(dtype)
    net = draw(networks(max_depth, max_width, hidden, outputs, must))
    dims, L = net.layer_dims, len(net.layer_dims) - 1
    m = draw(st.integers(1, max_examples), label="m")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    bias_kind = draw(st.sampled_from(bias), label="bias")
    zero_columns = draw(st.integers(0, m), label="zero input columns")
    logit_scale = draw(st.sampled_from([1.0, 30.0] if saturating else [1.0]), label="logits x")

    rng = np.random.RandomState(seed)
    X = rng.randn(dims[0], m)
    X[:, :zero_columns] = 0.0
    if net.output == "softmax":
        Y = np.eye(dims[-1])[:, rng.randint(0, dims[-1], size=m)]
    else:
        Y = (rng.rand(dims[-1], m) < 0.5).astype(np.float64)
    parameters = {}
    for l in range(1, L + 1):
        W = rng.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        parameters[f"W{l}"] = jnp.asarray(W * (logit_scale if l == L else 1.0), dtype)
        b = rng.randn(dims[l], 1) * 0.5 if bias_kind == "random" else np.zeros((dims[l], 1))
        parameters[f"b{l}"] = jnp.asarray(b, dtype)
    return Case(jnp.asarray(X, dtype), jnp.asarray(Y, dtype), parameters, net.hidden_activation,
                net.output)


def activation_inputs(dtype):
    """Pairs (Z, dA) of one 2-D shape: pre-activations in [-30, 30] with exact zeros likely,
    upstream gradients 0 or of magnitude 2**-20 (about 1e-6) to 10."""
    dtype = require(dtype)
    shapes = hnp.array_shapes(min_dims=2, max_dims=2, max_side=8)
    width = 64 if np.dtype(dtype) == np.float64 else 32
    # No subnormals: XLA on CPU flushes them to zero, so two mathematically equal computations
    # could differ there by a flushed 5e-324 that says nothing about the backward pass.
    elements = st.one_of(st.just(0.0), st.floats(-30, 30, width=width, allow_subnormal=False))
    # Nor tiny gradients: dA * g'(Z) written as (dA * s) * (...) flushes dA * s to zero where
    # dA * (s * (...)) does not, a rounding artefact of the evaluation order.
    magnitudes = st.floats(2.0**-20, 10, width=width)
    gradients = st.one_of(st.just(0.0), magnitudes, magnitudes.map(lambda x: -x))

    @st.composite
    def pair(draw):
        shape = draw(shapes)
        Z = draw(hnp.arrays(dtype, shape, elements=elements))
        dA = draw(hnp.arrays(dtype, shape, elements=gradients))
        return jnp.asarray(Z), jnp.asarray(dA)

    return pair()


def _settings(max_examples, shrink):
    at_least_one(max_examples, "max_examples")
    phases = list(Phase) if shrink else [Phase.explicit, Phase.generate]
    return settings(max_examples=max_examples, deadline=None, database=None, phases=phases,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _dtypes(dtypes):
    """Every dtype asked for, each one JAX will really compute in: never none, never a string
    read letter by letter, never float64 stored as float32."""
    if isinstance(dtypes, str) or not len(dtypes):
        raise OptionError(f"dtypes must be a non-empty sequence such as ('float64',); got "
                          f"{dtypes!r}")
    return [require(dtype) for dtype in dtypes]


def _name(activation):
    return activation if isinstance(activation, str) else activation.name or "your activation"


@verified
def assert_backward_matches_vjp(activation, Z, dA):
    """One activation's backward against ``jax.vjp`` of its forward, elementwise (the bound
    :data:`ELEMENT_RTOL` relative to |dZ| + |dA|, plus :data:`FLUSH_ATOL`)."""
    pair = get_activation(activation)
    dtype = np.dtype(Z.dtype)
    _, cache = pair.forward(Z)
    hand = np.asarray(pair.backward(dA, cache), np.float64)
    _, pullback = jax.vjp(lambda z: pair.forward(z)[0], Z)
    reference = np.asarray(pullback(dA)[0], np.float64)
    slack = ELEMENT_RTOL[dtype] * (np.abs(reference) + np.abs(np.asarray(dA, np.float64))) \
        + FLUSH_ATOL[dtype]
    excess = np.abs(hand - reference) - slack
    if not (np.all(np.isfinite(hand) == np.isfinite(reference)) and np.all(excess <= 0)):
        i = np.unravel_index(np.nanargmax(np.where(np.isfinite(excess), excess, np.inf)),
                             excess.shape)
        raise AssertionError(
            f"{_name(activation)}: backward differs from jax.vjp of its forward at "
            f"Z[{', '.join(map(str, i))}] = {float(Z[i])!r} (dA = {float(dA[i])!r}): "
            f"backward {float(hand[i])!r}, vjp {float(reference[i])!r} ({dtype})"
            + _at_a_kink(pair.forward, float(Z[i]), float(dA[i]), hand[i]))


def _at_a_kink(forward, z, dA, hand):
    """What to do when Z = z is a kink of the forward (its one-sided slopes differ, in float64
    differences); "" elsewhere."""
    if dA == 0 or not np.isfinite(hand):
        return ""
    with jax.enable_x64(True):
        one = jnp.ones((1, 1), jnp.float64)
        try:
            _, left, right, _ = slopes(forward, (jnp.full((1, 1), z, jnp.float64),), one, (one,))
        except Exception:  # noqa: BLE001 - a forward that runs in float32 only: no advice
            return ""
    if not abs(left - right) > 1e-3 * max(abs(left), abs(right), 1.0):
        return ""
    slope = hand / dA
    inside = min(left, right) - 1e-3 <= slope <= max(left, right) + 1e-3
    return (f". Z = {z:g} is a kink of the forward (one-sided slopes about {left:.4g} and "
            f"{right:.4g}); the backward's slope there, {slope:.6g}, is "
            + ("a subgradient, but check_activation holds a kink to jax's derivative of the "
               "forward, so that a network's hand-written gradients equal jax.grad's: write "
               "the forward so that jax differentiates the kink as the backward does (jnp.where "
               "on Z instead of jnp.minimum or jnp.maximum, whose derivative at a tie is 1/2), "
               "or the backward as jax does; check_layer judges a kink by its one-sided slopes"
               if inside else "outside them: not a subgradient"))


@verified
def witness_errors(case, *, lambd=0.0, keep_prob=1.0, key=None, tangents=4, seed=0):
    """Every gradient leaf's relative error against each witness (leaves smaller than
    :data:`~jaxdnn.gradcheck.GRADIENT_FLOOR` judged against that floor), for the literal and the
    stable path, in one compiled call: ``{(path, witness): {"dW1": err, ...}}``, path
    ``"literal"`` or ``"stable"``, witness ``"autodiff"`` (:func:`autodiff_errors`) or
    ``"transpose"`` (:func:`transpose_errors`)."""
    X, Y, layers, activations, keep = witness_inputs(
        case.X, case.Y, case.parameters, case.hidden_activation, case.output, lambd, keep_prob,
        key)
    probes = draw_probes(layers, X.shape[1], at_least_one(tangents, "tangents"), seed)
    floor = GRADIENT_FLOOR[np.dtype(X.dtype)]

    def both(X, Y, layers, key, probes):
        return {path: (hand_and_reference(X, Y, layers, activations, stable, lambd, keep, key),
                       transpose_ratios(X, Y, layers, activations, stable, lambd, keep, key,
                                         probes, floor))
                for path, stable in (("literal", False), ("stable", True))}

    with forward_mode():
        found = jax.jit(both)(X, Y, layers, key, probes)  # fresh: fault injection traced in
    return {(path, witness): errors for path, (pair, ratios) in found.items()
            for witness, errors in (("autodiff", compare(*pair, floor)),
                                    ("transpose", {k: float(v) for k, v in ratios.items()}))}


def assert_gradients_match(case, *, lambd=0.0, keep_prob=1.0, key=None):
    """Every ``dW``, ``db``, ``dA`` of the hand-written backward (literal and stable paths)
    within :data:`CHAIN_RTOL` of both witnesses; the error names the layer and its activation."""
    dtype = np.dtype(case.X.dtype)
    for (path, witness), errors in witness_errors(case, lambd=lambd, keep_prob=keep_prob,
                                                  key=key).items():
        bad = {k: e for k, e in errors.items() if not e <= CHAIN_RTOL[dtype]}  # NaN is bad
        if bad:
            leaf = max(bad, key=lambda k: np.inf if np.isnan(bad[k]) else bad[k])
            error, l = bad[leaf], int(leaf[2:])
            layer = (case.hidden_activation[l - 1] if l < len(case.layer_dims) - 1
                     else case.output)
            raise AssertionError(
                f"{leaf} (layer {l}, {_name(layer)}) differs from the {witness} witness on the "
                f"{path} path: relative error {error:.3g} > {CHAIN_RTOL[dtype]:g} ({dtype}, "
                f"layer_dims {case.layer_dims})")


def check_activation(activation, *, dtypes=("float64", "float32"), max_examples=25,
                     shrink=True):
    """Verify your activation (an :class:`Activation`, or a name): as a layer
    (:func:`check_vjp`: every witness, a wrong backward named by its bug class), then its
    backward against ``jax.vjp`` of its forward elementwise on arrays with exact zeros (a kink
    held to jax's derivative of the forward), then whole networks with it in random hidden
    layers (between built-in ones) against both witnesses. Raises AssertionError
    with the shrunk counterexample (``shrink=False``: the first one found, sooner: every network
    compiles); returns None when every search passes."""
    activation = activation if isinstance(activation, Activation) else get_activation(activation)
    for dtype in _dtypes(dtypes):
        @_settings(max_examples, shrink)
        @given(pair=activation_inputs(dtype))
        def elementwise(pair):
            assert_backward_matches_vjp(activation, *pair)

        @_settings(max_examples, shrink)
        @given(case=problems(dtype, max_depth=4, max_width=8, max_examples=16,
                             outputs=("sigmoid", "softmax"), must=activation))
        def in_networks(case):
            assert_gradients_match(case)

        check_vjp(activation.forward, activation.backward, (jnp.zeros((4, 6), dtype),),
                  name=_name(activation), shrink=shrink)
        elementwise()
        in_networks()


def check_network(*, hidden=HIDDEN, outputs=("sigmoid", "softmax"), dtype="float64",
                  max_depth=6, max_width=20, max_examples=25, lambd=0.0, keep_prob=1.0,
                  shrink=True):
    """The full property for a family of networks: random depths, widths, data and per-layer
    activations from ``hidden`` (names or :class:`Activation`s), every gradient against both
    witnesses, with the given L2 weight and dropout. Raises AssertionError as
    :func:`check_activation`."""
    require(dtype)
    @_settings(max_examples, shrink)
    @given(case=problems(dtype, max_depth, max_width, hidden=hidden, outputs=outputs),
           seed=st.integers(0, 2**31 - 1))
    def search(case, seed):
        dropout = keep_prob != 1 and len(case.layer_dims) > 2
        assert_gradients_match(case, lambd=lambd, keep_prob=keep_prob if dropout else 1.0,
                               key=jax.random.PRNGKey(seed) if dropout else None)

    search()
