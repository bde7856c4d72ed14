"""Realistic wrong backward passes for the layers of :mod:`.gallery`, each labelled with the class
of its bug (:data:`FAULTS`); the label says what the bug is, not what a checker finds."""

import jax
import jax.numpy as jnp

from . import gallery as g
from .gallery import Fault


def _dense(dW=None, dx=None, db=None):
    """dense_backward with some of its three gradients replaced by functions of (d, W, x)."""
    def backward(d, cache):
        W, x = cache
        right = g.dense_backward(d, cache)
        return tuple(f(d, W, x) if f else r for f, r in zip((dW, dx, db), right, strict=True))
    return backward


class _Accumulating:
    """A backward that keeps a running sum of its dW across calls (a stateful layer)."""

    def __init__(self):
        self.dW = None

    def __call__(self, d, cache):
        dW, dx, db = g.dense_backward(d, cache)
        fresh = self.dW is None or self.dW.dtype != dW.dtype
        self.dW = dW if fresh else self.dW + dW
        return self.dW, dx, db


def _zero(d):
    return jnp.zeros_like(d)


def _sig(z):
    return jax.nn.sigmoid(z)


def _conv(dx=None, dk=None):
    def backward(d, cache):
        x, k = cache
        right = g.conv1d_backward(d, cache)
        return (dx(d, x, k) if dx else right[0], dk(d, x, k) if dk else right[1])
    return backward


def _norm(drop=(), dg=None, dc=None):
    def backward(d, cache):
        dx, dg_, dc_ = g.layer_norm_backward(d, cache, drop)
        xhat = cache[0]
        return dx, dg(d, xhat) if dg else dg_, dc(d) if dc else dc_
    return backward


FAULTS = (
    # dense
    Fault("dW with a stray 1/m", "dense", _dense(dW=lambda d, W, x: d @ x.T / x.shape[1]),
          "scale"),
    Fault("dx doubled", "dense", _dense(dx=lambda d, W, x: 2 * (W.T @ d)), "scale"),
    Fault("dW negated", "dense", _dense(dW=lambda d, W, x: -(d @ x.T)), "sign"),
    Fault("dW transposed", "dense", _dense(dW=lambda d, W, x: (d @ x.T).T), "transpose"),
    Fault("dx through W, not W.T", "dense", _dense(dx=lambda d, W, x: W @ d), "transpose"),
    Fault("db summed over examples' axis 0", "dense",
          _dense(db=lambda d, W, x: jnp.sum(d, axis=0, keepdims=True)), "shape"),
    Fault("db dropped", "dense", _dense(db=lambda d, W, x: _zero(jnp.sum(d, axis=1,
                                                                        keepdims=True))),
          "missing-term"),
    Fault("dW in bfloat16", "dense", _dense(dW=lambda d, W, x: (d @ x.T).astype(jnp.bfloat16)),
          "dtype"),
    Fault("dW accumulated across calls", "dense", _Accumulating(), "nondeterministic"),
    # activations
    Fault("relu mask flipped", "relu", lambda d, z: jnp.where(z < 0, d, _zero(d)), "formula"),
    Fault("leaky relu: 0 at the kink", "leaky relu",
          lambda d, z: jnp.where(z > 0, d, jnp.where(z < 0, 0.1 * d, _zero(d))), "kink"),
    Fault("abs as z / |z|", "abs", lambda d, z: d * z / jnp.abs(z), "kink"),
    Fault("swish without the product rule", "swish", lambda d, z: d * _sig(z), "missing-term"),
    Fault("tanh' as 1 - tanh", "tanh", lambda d, z: d * (1 - jnp.tanh(z)), "formula"),
    Fault("sigmoid' as s", "sigmoid", lambda d, z: d * _sig(z), "formula"),
    Fault("sigmoid' negated", "sigmoid", lambda d, z: -g.sigmoid_backward(d, z), "sign"),
    # softmax, softmax-CE
    Fault("softmax without the sum over classes", "softmax", lambda d, s: s * d, "missing-term"),
    Fault("softmax' as s (1 - s)", "softmax", lambda d, s: d * s * (1 - s), "formula"),
    Fault("softmax-ce without 1/m", "softmax-ce", lambda d, c: d * (c[0] - c[1]), "scale"),
    Fault("softmax-ce as Y - p", "softmax-ce", lambda d, c: d * (c[1] - c[0]) / c[0].shape[1],
          "sign"),
    Fault("softmax-ce as -Y/p", "softmax-ce", lambda d, c: -d * c[1] / c[0] / c[0].shape[1],
          "formula"),
    # layer norm
    Fault("layer norm without the mean term", "layer norm", _norm(drop=("mean",)),
          "missing-term"),
    Fault("layer norm without the projection term", "layer norm",
          _norm(drop=("projection",)), "missing-term"),
    Fault("layer norm gain summed over features", "layer norm",
          _norm(dg=lambda d, xhat: jnp.sum(d * xhat, axis=0, keepdims=True)), "shape"),
    Fault("layer norm shift averaged", "layer norm",
          _norm(dc=lambda d: jnp.mean(d, axis=1, keepdims=True)), "scale"),
    # gated unit, maxout
    Fault("glu gate gradient without a", "glu",
          lambda d, c: (d * c[1], d * c[1] * (1 - c[1])), "formula"),
    Fault("glu gradients swapped", "glu", lambda d, c: g.glu_backward(d, c)[::-1], "formula"),
    Fault("glu value gradient without the gate", "glu",
          lambda d, c: (d, g.glu_backward(d, c)[1]), "formula"),
    Fault("maxout: a tie routed to both", "maxout",
          lambda d, c: (jnp.where(c[0] >= c[1], d, _zero(d)),
                        jnp.where(c[1] >= c[0], d, _zero(d))), "kink"),
    # convolution
    Fault("conv1d dx with the kernel not flipped", "conv1d",
          _conv(dx=lambda d, x, k: jnp.correlate(d, k, mode="full")), "transpose"),
    Fault("conv1d dk reversed", "conv1d",
          _conv(dk=lambda d, x, k: jnp.correlate(x, d, mode="valid")[::-1]), "transpose"),
    Fault("conv1d dx in 'same' mode", "conv1d",
          _conv(dx=lambda d, x, k: jnp.convolve(d, k, mode="same")), "shape"),
    # losses
    Fault("mse without the 2", "mse", lambda d, r: d * r / r.size, "scale"),
    Fault("mse ignoring its cotangent", "mse", lambda d, r: 2 * r / r.size, "scale"),
    Fault("bce without 1/n", "bce", lambda d, c: d * (_sig(c[0]) - c[1]), "scale"),
    Fault("bce with sigmoid(-z)", "bce",
          lambda d, c: d * (_sig(-c[0]) - c[1]) / c[0].size, "formula"),
)
"""The wrong backward passes and their classes."""
