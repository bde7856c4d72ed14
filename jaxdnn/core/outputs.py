"""Output layers, registered by name: the last layer's activation with its cost and its labels.

An :class:`Output` is an activation pair (``forward(Z) -> (A, Z)``, ``backward(dA, Z) -> dZ``,
as in :mod:`jaxdnn.activations`) that also knows its cross-entropy, the course's literal output
gradient and how to turn probabilities into labels. Both outputs share the fused output step of
the stable path, ``dZ[L] = A[L] - Y``.

``"sigmoid"`` (the course's): n[L] independent probabilities; labels Y of shape (n[L], m), 0 or 1::

    J = -(1/m) sum(Y log A + (1 - Y) log(1 - A))      from logits: (1/m) sum(softplus(Z) - Y Z)
    m dJ/dA = -(Y / A - (1 - Y) / (1 - A))              labels: A > 0.5

``"softmax"``: one of K = n[L] >= 2 classes per example; Y one-hot (K, m)::

    A = exp(Z) / sum_k exp(Z_k), per column (computed from Z - max Z)
    dZ = A * (dA - sum_k A_k dA_k)                      (the Jacobian's off-diagonal terms too)
    J = -(1/m) sum(Y log A)                             from logits: (1/m) sum(logsumexp(Z) - Y Z)
    m dJ/dA = -Y / A                                    labels: the class ids argmax_k A, (1, m)

At the API boundary softmax labels may also be class ids, ``(1, m)`` or ``(m,)`` integers in
0..K-1; they are turned into the one-hot (K, m) every computation uses.

The course's literal chain (``m dJ/dA`` into ``backward``) is not finite where A is exactly 0
(sigmoid: or 1): :meth:`Output.saturated` marks those entries.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..errors import NameLookupError
from .activations import ACTIVATIONS


class Output(NamedTuple):
    """An output layer: an activation pair, its costs and its labels (see the module docstring)."""

    forward: Callable
    backward: Callable
    cost: Callable
    cost_from_logits: Callable
    dAL: Callable
    saturated: Callable
    labels: Callable
    one_hot: bool


def _softmax(Z):
    return jax.nn.softmax(Z, axis=0), Z


def _softmax_backward(dA, cache):
    A = jax.nn.softmax(cache, axis=0)
    return A * (dA - jnp.sum(A * dA, axis=0, keepdims=True))


def _mean_over_examples(total, Y):
    return total / Y.shape[1]


OUTPUTS = {
    "sigmoid": Output(
        ACTIVATIONS["sigmoid"].forward, ACTIVATIONS["sigmoid"].backward,
        cost=lambda A, Y: -_mean_over_examples(jnp.sum(Y * jnp.log(A) + (1 - Y) * jnp.log(1 - A)),
                                                Y),
        cost_from_logits=lambda Z, Y: _mean_over_examples(jnp.sum(jax.nn.softplus(Z) - Y * Z), Y),
        dAL=lambda A, Y: -(Y / A - (1 - Y) / (1 - A)),
        saturated=lambda A: (A == 0) | (A == 1),
        labels=lambda A: (A > 0.5).astype(jnp.int32),
        one_hot=False,
    ),
    "softmax": Output(
        _softmax, _softmax_backward,
        cost=lambda A, Y: -_mean_over_examples(jnp.sum(Y * jnp.log(A)), Y),
        cost_from_logits=lambda Z, Y: _mean_over_examples(
            jnp.sum(jax.nn.logsumexp(Z, axis=0)) - jnp.sum(Y * Z), Y),
        dAL=lambda A, Y: -Y / A,
        saturated=lambda A: A == 0,
        labels=lambda A: A.argmax(axis=0, keepdims=True).astype(jnp.int32),
        one_hot=True,
    ),
}
"""The output layers by name."""


def get_output(output):
    """Look up ``output`` (a name of :data:`OUTPUTS`, or an :class:`Output`)."""
    if isinstance(output, Output):
        return output
    try:
        return OUTPUTS[output]
    except (KeyError, TypeError):
        raise NameLookupError(f"unknown output {output!r}; expected one of: "
                              f"{', '.join(OUTPUTS)}") from None
