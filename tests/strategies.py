"""Hypothesis strategies shared by the tests: random networks, data and activation inputs."""

from typing import NamedTuple

import hypothesis.extra.numpy as hnp
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

from jaxdnn import ACTIVATIONS

HIDDEN = sorted(name for name in ACTIVATIONS if name != "sigmoid") + ["sigmoid"]


class Case(NamedTuple):
    X: jnp.ndarray
    Y: jnp.ndarray
    parameters: dict
    hidden_activation: tuple
    output: str = "sigmoid"

    @property
    def layer_dims(self):
        return [self.X.shape[0]] + [self.parameters[f"W{l}"].shape[0]
                                    for l in range(1, len(self.parameters) // 2 + 1)]


@st.composite
def networks(draw, dtype="float64", max_depth=6, max_width=20, max_examples=64,
             hidden=tuple(HIDDEN), bias=("zero", "random"), outputs=("sigmoid",)):
    """A random network and data: depth 1..6, widths 1..20, 1..64 examples, per-layer activations,
    an output of ``outputs`` (a softmax has K = 2..max_width classes and one-hot labels).

    Weights are N(0, 1/n[l-1]) so outputs stay away from saturation. Zero biases and zeroed input
    columns are drawn on purpose: they make pre-activations exactly 0 (ReLU's kink) common.
    """
    L = draw(st.integers(1, max_depth), label="depth")
    output = draw(st.sampled_from(outputs), label="output")
    dims = draw(st.lists(st.integers(1, max_width), min_size=L, max_size=L), label="widths")
    if output == "softmax":
        dims[-1] = draw(st.integers(2, max(max_width, 2)), label="classes")
    dims = [draw(st.integers(1, max_width), label="n0")] + dims
    m = draw(st.integers(1, max_examples), label="m")
    activations = tuple(draw(st.lists(st.sampled_from(hidden), min_size=L - 1, max_size=L - 1),
                             label="hidden"))
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    bias_kind = draw(st.sampled_from(bias), label="bias")
    zero_columns = draw(st.integers(0, m), label="zero input columns")

    rng = np.random.RandomState(seed)
    X = rng.randn(dims[0], m)
    X[:, :zero_columns] = 0.0
    if output == "softmax":
        Y = np.eye(dims[-1])[:, rng.randint(0, dims[-1], size=m)]
    else:
        Y = (rng.rand(dims[-1], m) < 0.5).astype(np.float64)
    parameters = {}
    for l in range(1, L + 1):
        parameters[f"W{l}"] = jnp.asarray(rng.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1]),
                                          dtype)
        b = rng.randn(dims[l], 1) * 0.5 if bias_kind == "random" else np.zeros((dims[l], 1))
        parameters[f"b{l}"] = jnp.asarray(b, dtype)
    return Case(jnp.asarray(X, dtype), jnp.asarray(Y, dtype), parameters, activations, output)


def activation_inputs(dtype):
    """Arrays of pre-activations Z and upstream gradients dA of one shape, zeros likely."""
    shapes = hnp.array_shapes(min_dims=2, max_dims=2, max_side=8)
    width = 64 if dtype == "float64" else 32
    # No subnormals: XLA on CPU flushes them to zero, so two mathematically equal computations
    # could differ there by a flushed 5e-324 that says nothing about the backward pass.
    elements = st.one_of(st.just(0.0), st.floats(-30, 30, width=width, allow_subnormal=False))

    @st.composite
    def pair(draw):
        shape = draw(shapes)
        Z = draw(hnp.arrays(dtype, shape, elements=elements))
        dA = draw(hnp.arrays(dtype, shape, elements=st.floats(-10, 10, width=width,
                                                                       allow_subnormal=False)))
        return jnp.asarray(Z), jnp.asarray(dA)

    return pair()


# --- the bad-input fuzzer's problems ---------------------------------------------------------


class Problem(NamedTuple):
    X: np.ndarray
    Y: np.ndarray
    parameters: dict
    AL: np.ndarray
    caches: list
    grads: dict
    rng: np.random.RandomState

    @property
    def L(self):
        return len(self.parameters) // 2


def _sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def make_problem(dims, m, seed):
    """A valid problem in float64 numpy: data, parameters, forward caches (ReLU hidden layers),
    output and gradients."""
    rng = np.random.RandomState(seed)
    X = rng.randn(dims[0], m)
    Y = (rng.rand(dims[-1], m) > 0.5).astype(np.float64)
    parameters, grads, caches, A = {}, {}, [], X
    for l in range(1, len(dims)):
        W, b = rng.randn(dims[l], dims[l - 1]) * 0.5, rng.randn(dims[l], 1) * 0.1
        parameters.update({f"W{l}": W, f"b{l}": b})
        grads.update({f"dW{l}": rng.randn(*W.shape), f"db{l}": rng.randn(*b.shape)})
        Z = W @ A + b
        caches.append(((A, W, b), Z))
        A = np.maximum(Z, 0) if l < len(dims) - 1 else _sigmoid(Z)
    return Problem(X, Y, parameters, A, caches, grads, rng)


@st.composite
def fuzz_problems(draw):
    """Sizes from small ranges, so that the few jax computations some calls run before they
    reach the bad argument keep hitting jax's per-shape caches."""
    dims = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    return make_problem(dims, draw(st.integers(1, 4)), draw(st.integers(0, 2**32 - 1)))
