"""Layers with hand-written backward passes, correct ones and realistic wrong ones, each wrong one
labelled with its bug class: what the verifiers are measured on (``tests/test_faults_layers.py``,
``scripts/bench_verify.py``).

A :class:`Layer` is ``forward(*inputs) -> (out, cache)`` with its correct ``backward(d_out,
cache)`` and the example inputs' shapes; :data:`LAYERS` holds them by name. :data:`FAULTS` are
``(name, layer, backward, bug)``. Constants (labels, targets) are closed over in the input's
dtype.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Layer(NamedTuple):
    """A hand-written pair and its inputs' shapes."""

    forward: object
    backward: object
    shapes: tuple


class Fault(NamedTuple):
    """A wrong backward for ``layer`` and the class of its bug."""

    name: str
    layer: str
    backward: object
    bug: str


def examples(layer, dtype):
    """Example inputs of ``layer`` (a name) in ``dtype``."""
    return tuple(jnp.zeros(shape, dtype) for shape in LAYERS[layer].shapes)


# dense: out = W x + b, W (4, 4), x (4, 5), b (4, 1)
def dense(W, x, b):
    return W @ x + b, (W, x)


def dense_backward(d, cache):
    W, x = cache
    return d @ x.T, W.T @ d, jnp.sum(d, axis=1, keepdims=True)


# elementwise activations of z (4, 6): forward (out, z), backward(d, z)
def _act(f):
    return lambda z: (f(z), z)


def relu_backward(d, z):
    return jnp.where(z > 0, d, jnp.zeros_like(d))


def leaky_backward(d, z):
    return jnp.where(z > 0, d, 0.1 * d)


def abs_backward(d, z):
    return jnp.sign(z) * d


def swish_backward(d, z):
    s = jax.nn.sigmoid(z)
    return d * s * (1 + z * (1 - s))


def tanh_backward(d, z):
    t = jnp.tanh(z)
    return d * (1 - t * t)


def sigmoid_backward(d, z):
    s = jax.nn.sigmoid(z)
    return d * s * (1 - s)


# softmax over classes (axis 0) of z (5, 4); softmax cross-entropy averaged over the 4 columns
_LABELS = np.eye(5)[:, [0, 3, 1, 3]]


def softmax(z):
    s = jax.nn.softmax(z, axis=0)
    return s, s


def softmax_backward(d, s):
    return s * (d - jnp.sum(s * d, axis=0, keepdims=True))


def softmax_ce(z):
    Y = jnp.asarray(_LABELS, z.dtype)
    J = -jnp.sum(Y * jax.nn.log_softmax(z, axis=0)) / z.shape[1]
    return J, (jax.nn.softmax(z, axis=0), Y)


def softmax_ce_backward(d, cache):
    p, Y = cache
    return d * (p - Y) / p.shape[1]


# layer normalisation over features (axis 0) of x (6, 4), gain g and shift c (6, 1)
def layer_norm(x, g, c):
    mu = jnp.mean(x, axis=0, keepdims=True)
    sigma = jnp.sqrt(jnp.mean((x - mu) ** 2, axis=0, keepdims=True) + 1e-5)
    xhat = (x - mu) / sigma
    return g * xhat + c, (xhat, sigma, g)


def layer_norm_backward(d, cache, drop=()):
    xhat, sigma, g = cache
    dxhat = d * g
    terms = {"mean": jnp.mean(dxhat, axis=0, keepdims=True),
             "projection": xhat * jnp.mean(dxhat * xhat, axis=0, keepdims=True)}
    dx = (dxhat - sum(v for k, v in terms.items() if k not in drop)) / sigma
    return dx, jnp.sum(d * xhat, axis=1, keepdims=True), jnp.sum(d, axis=1, keepdims=True)


# gated linear unit a * sigmoid(b), and maxout max(a, b), of a, b (4, 5)
def glu(a, b):
    s = jax.nn.sigmoid(b)
    return a * s, (a, s)


def glu_backward(d, cache):
    a, s = cache
    return d * s, d * a * s * (1 - s)


def maxout(a, b):
    return jnp.maximum(a, b), (a, b)


def maxout_backward(d, cache):
    a, b = cache
    zero = jnp.zeros_like(d)
    return jnp.where(a >= b, d, zero), jnp.where(a < b, d, zero)


# 1-D convolution (correlation, "valid") of x (9,) with a kernel k (3,)
def conv1d(x, k):
    return jnp.correlate(x, k, mode="valid"), (x, k)


def conv1d_backward(d, cache):
    x, k = cache
    return jnp.convolve(d, k, mode="full"), jnp.correlate(x, d, mode="valid")


# losses of predictions p (3, 5): mean squared error, binary cross-entropy from logits
_TARGETS = np.linspace(-1.0, 1.0, 15).reshape(3, 5)


def mse(p):
    y = jnp.asarray(_TARGETS, p.dtype)
    return jnp.mean((p - y) ** 2), (p - y)


def mse_backward(d, r):
    return d * 2 * r / r.size


def bce(z):
    y = jnp.asarray(_TARGETS > 0, z.dtype)
    return jnp.mean(jax.nn.softplus(z) - y * z), (z, y)


def bce_backward(d, cache):
    z, y = cache
    return d * (jax.nn.sigmoid(z) - y) / z.size


LAYERS = {
    "dense": Layer(dense, dense_backward, ((4, 4), (4, 5), (4, 1))),
    "relu": Layer(_act(jax.nn.relu), relu_backward, ((4, 6),)),
    "relu (maximum)": Layer(_act(lambda z: jnp.maximum(z, 0)), relu_backward, ((4, 6),)),
    "leaky relu": Layer(_act(lambda z: jnp.where(z > 0, z, 0.1 * z)), leaky_backward, ((4, 6),)),
    "abs": Layer(_act(jnp.abs), abs_backward, ((4, 6),)),
    "swish": Layer(_act(lambda z: z * jax.nn.sigmoid(z)), swish_backward, ((4, 6),)),
    "tanh": Layer(_act(jnp.tanh), tanh_backward, ((4, 6),)),
    "sigmoid": Layer(_act(jax.nn.sigmoid), sigmoid_backward, ((4, 6),)),
    "softmax": Layer(softmax, softmax_backward, ((5, 4),)),
    "softmax-ce": Layer(softmax_ce, softmax_ce_backward, ((5, 4),)),
    "layer norm": Layer(layer_norm, layer_norm_backward, ((6, 4), (6, 1), (6, 1))),
    "glu": Layer(glu, glu_backward, ((4, 5), (4, 5))),
    "maxout": Layer(maxout, maxout_backward, ((4, 5), (4, 5))),
    "conv1d": Layer(conv1d, conv1d_backward, ((9,), (3,))),
    "mse": Layer(mse, mse_backward, ((3, 5),)),
    "bce": Layer(bce, bce_backward, ((3, 5),)),
}
"""The correct layers, by name."""
