"""``check_vjp`` / ``check_layer``: any hand-written pair, property by property, with a diagnosis.

The contract is the house's: ``forward(*inputs) -> (out, cache)`` and ``backward(d_out, cache)
-> grads``, one gradient per input (the inputs, the output and each gradient may be pytrees;
constants are closed over). Each draw takes fresh inputs shaped like the examples (normal
entries, a quarter exactly 0, a tie), a cotangent and directions, then checks in this order:

1. ``shape`` and ``dtype`` of every gradient leaf (the inputs' own);
2. a second call gives the same bits (``nondeterministic`` otherwise);
3. ``vjp``: every leaf against ``jax.vjp`` of the forward (bound from :mod:`.tolerances`);
4. ``transpose``: the dot-product test through ``jax.jvp``;
5. ``fd``: float64 central differences (x64 switched on for the check only) along random
   directions and one-hot probes of each leaf; where the one-sided slopes differ (a kink) the
   hand value passes if it lies between them (a subgradient) and is a ``kink`` bug if not;
6. ``linearity`` of the backward in its cotangent;
7. ``chain``: the pair as a ``jax.custom_vjp`` inside a chain (a scaling before, a tanh readout
   after) against ``jax.grad`` of the chain through the plain forward, at a point without zeros
   or ties (the kinks are judged above).

A wrong leaf is named by :func:`~.diagnose.pattern`; the :class:`Report` gives each leaf's worst
error per witness, the bound and the smallest relative error the check would have seen.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core import numeric
from . import tolerances
from .judge import Finding, Judge


class Leaf(NamedTuple):
    """One gradient leaf: ``errors`` and ``bounds`` per witness (worst over the draws),
    ``verified_to`` the smallest relative error the check would have detected in it."""

    name: str
    shape: tuple
    errors: dict
    bounds: dict
    verified_to: float


class Report(NamedTuple):
    """What a check did: the layer, the dtype, the rounding it assumed, each leaf, notes on
    witnesses that could not run, and the :class:`Finding` (None: verified)."""

    name: str
    dtype: str
    rounding: str
    draws: int
    seed: int
    leaves: list
    notes: list
    finding: Finding = None

    def table(self):
        """The per-leaf table: each witness's worst error against its bound, the limit."""
        witnesses = [k for k in ("vjp", "transpose", "fd", "linearity", "chain")
                     if any(k in leaf.errors for leaf in self.leaves)]
        lines = [f"{'leaf':<16}" + "".join(f"{k + ' (bound)':>22}" for k in witnesses)
                 + f"{'verified to':>13}"]
        for leaf in self.leaves:
            cells = "".join(f"{leaf.errors[k]:>11.1e} ({leaf.bounds[k]:.0e})" if k in leaf.errors
                            else f"{'-':>22}" for k in witnesses)
            lines.append(f"{leaf.name:<16}{cells}{leaf.verified_to:>13.1e}")
        return "\n".join(lines)

    def __str__(self):
        head = (f"{self.name}: {self.dtype}, {self.draws} draws (seed {self.seed}); rounding: "
                f"{self.rounding}")
        tail = [f"note: {n}" for n in self.notes]
        if self.finding is None:
            worst = max((leaf.verified_to for leaf in self.leaves), default=0.0)
            tail.append(f"verified to {worst:.1e} (relative, every leaf)")
        else:
            f = self.finding
            values = ", ".join(f"{k} {v:.6g}" for k, v in f.values.items())
            tail.append(f"{f.bug}: {f.leaf}[{', '.join(map(str, f.element))}] ({f.why}); "
                        f"{values}; counterexample: draw {f.draw} of seed {self.seed}")
        return "\n".join([head, self.table(), *tail])


def check_layer(forward, backward, *example_inputs, **options):
    """Verify a hand-written pair on inputs shaped like ``example_inputs`` (every input
    differentiable). Returns the :class:`Report`; raises AssertionError naming the bug class.

    >>> import jax.numpy as jnp
    >>> fwd = lambda x: (x * x, x)
    >>> bwd = lambda d, x: 2 * x * d
    >>> print(check_layer(fwd, bwd, jnp.ones(3)).finding)
    None
    """
    return check_vjp(forward, backward, example_inputs, **options)


def check_vjp(forward, backward, inputs, *, draws=3, seed=0, rtol=None, directions=2, probes=4,
              name=None):
    """:func:`check_layer` with the examples as one tuple ``inputs`` and its options: ``draws``
    points, ``directions`` random tangents and ``probes`` one-hot ones per leaf and draw,
    ``rtol`` (default: the bound of the dtype; one below it refuses to pass)."""
    report = verify(forward, backward, inputs, draws=draws, seed=seed, rtol=rtol,
                    directions=directions, probes=probes, name=name)
    if report.finding is not None:
        raise AssertionError(str(report))
    return report


def verify(forward, backward, inputs, *, draws=3, seed=0, rtol=None, directions=2, probes=4,
           name=None):
    """The :class:`Report` of :func:`check_vjp`, never raising on a bug."""
    for option in ("draws", "directions", "probes"):
        if numeric.count(locals()[option], option) < 1:
            raise AssertionError(f"{option} must be at least 1: a check of none would pass")
    inputs = tuple(jax.tree.map(_example, x) for x in inputs)
    dtypes = {jnp.asarray(a).dtype.name for a in jax.tree.leaves(inputs)}
    if len(dtypes) != 1:
        raise AssertionError(f"the inputs mix dtypes {sorted(dtypes)}: check one at a time")
    dtype = dtypes.pop()
    out = forward(*inputs)[0]
    reduction = max(np.size(a) for a in jax.tree.leaves((inputs, out)))
    bound = tolerances.resolvable(dtype, reduction, rtol)
    state = Judge(forward, backward, inputs, bound, np.random.RandomState(numeric.seed(seed)))
    for index in range(draws):
        finding = state.draw(index, directions, probes)
        if finding is not None:
            break
    else:
        finding = None
    leaves = [Leaf(n, s, state.errors[n], state.bounds[n], state.limit(n))
              for n, s in zip(state.names, state.shapes, strict=True)]
    return Report(name or getattr(forward, "__qualname__", "layer"), dtype,
                  tolerances.rounding(dtype)[1], index + 1, seed, leaves, sorted(state.notes),
                  finding)


def _example(a):
    """An example input as a JAX array of its own dtype (refusing a silent downgrade)."""
    return jnp.asarray(a, tolerances.require(np.asarray(a).dtype if not hasattr(a, "dtype")
                                             else a.dtype))
