"""The bad-input fuzzer's problems. The property tests' strategies are public, in
:mod:`jaxdnn.testing` (one source for our suite and for users)."""

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st


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
