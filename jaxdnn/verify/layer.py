"""``check_vjp`` / ``check_layer``: any hand-written pair, property by property, with a diagnosis.

The contract is the house's: ``forward(*inputs) -> (out, cache)`` and ``backward(d_out, cache)
-> grads``, one gradient per input (the inputs, the output and each gradient may be pytrees;
constants are closed over). Each draw takes fresh inputs shaped like the examples (normal
entries, a quarter exactly 0, a tie), a cotangent and directions, then checks in this order:

1. ``shape`` and ``dtype`` of every gradient leaf (the inputs' own);
2. a second call gives the same bits (``nondeterministic`` otherwise);
3. ``vjp``: every leaf against ``jax.vjp`` of the forward (bound from :mod:`.tolerances`);
   where the forward and jax.vjp through it are not finite at finite inputs, the forward is
   the finding (``overflow``);
4. ``transpose``: the dot-product test through ``jax.jvp``;
5. ``fd``: float64 central differences (x64 switched on for the check only) along random
   directions and one-hot probes of each leaf; where the one-sided slopes differ (a kink) the
   hand value passes if it lies between them (a subgradient) and is a ``kink`` bug if not;
6. ``linearity`` of the backward in its cotangent;
7. ``chain``: the pair as a ``jax.custom_vjp`` inside a chain (a scaling before, a tanh readout
   after) against ``jax.grad`` of the chain through the plain forward, at a point without zeros
   or ties (the kinks are judged above).

8. with ``second_order``, the backward's own derivative (:mod:`.second`).

A wrong leaf is named by :func:`~.diagnose.pattern`; the :class:`Report` gives each leaf's worst
error per witness, the bound and the smallest relative error the check would have seen, and the
failing input shrunk (:mod:`.shrink`). An input may be a hypothesis strategy instead of an
example (:mod:`.drawn`); ``subnormals`` puts subnormal values among the drawn entries.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core import numeric
from ..errors import FunctionError, InputTypeError
from . import drawn, tolerances
from . import shrink as shrinking
from . import witnesses as w
from .judge import Finding, Judge
from .shrink import Counterexample


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
    counterexample: Counterexample = None

    def table(self):
        """The per-leaf table: each witness's worst error against its bound, the limit."""
        witnesses = [k for k in ("vjp", "transpose", "fd", "linearity", "chain", "hvp",
                                 "hvp fd")
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
            where = f"{f.leaf}[{', '.join(map(str, f.element))}]" if f.element else f.leaf
            values = ", ".join(f"{k} {v:.6g}" for k, v in f.values.items())
            tail.append("; ".join(part for part in (
                f"{f.bug}: {where} ({f.why})", values,
                f"counterexample: draw {f.draw} of seed {self.seed}, property {f.witness}")
                if part))
            if self.counterexample is not None:
                tail.append(f"counterexample: {self.counterexample}")
        return "\n".join([head, self.table(), *tail])


def check_layer(forward, backward, *example_inputs, **options):
    """Verify a hand-written pair on inputs shaped like ``example_inputs`` (every input
    differentiable; each may also be a hypothesis strategy producing the input). Returns the
    :class:`Report`; raises AssertionError naming the bug class.

    >>> import jax.numpy as jnp
    >>> fwd = lambda x: (x * x, x)
    >>> bwd = lambda d, x: 2 * x * d
    >>> print(check_layer(fwd, bwd, jnp.ones(3)).finding)
    None
    """
    return check_vjp(forward, backward, example_inputs, **options)


def check_vjp(forward, backward, inputs, *, draws=3, seed=0, rtol=None, directions=2, probes=4,
              name=None, shrink=True, subnormals=False, second_order=False):
    """:func:`check_layer` with the inputs as one tuple ``inputs`` and its options: ``draws``
    points, ``directions`` random tangents and ``probes`` one-hot ones per leaf and draw,
    ``rtol`` (default: the bound of the dtype; one below it refuses to pass), ``shrink`` the
    failing input to the smallest that still fails (:mod:`.shrink`; hypothesis's own shrinking
    for strategies), ``subnormals`` among the drawn entries, ``second_order``: the backward's
    own derivative too (:mod:`.second`; needs a pure-JAX backward)."""
    report = verify(forward, backward, inputs, draws=draws, seed=seed, rtol=rtol,
                    directions=directions, probes=probes, name=name, shrink=shrink,
                    subnormals=subnormals, second_order=second_order)
    if report.finding is not None:
        raise AssertionError(str(report))
    return report


def verify(forward, backward, inputs, *, draws=3, seed=0, rtol=None, directions=2, probes=4,
           name=None, shrink=True, subnormals=False, second_order=False):
    """The :class:`Report` of :func:`check_vjp`, never raising on a bug."""
    for option in ("draws", "directions", "probes"):
        if numeric.count(locals()[option], option) < 1:
            raise AssertionError(f"{option} must be at least 1: a check of none would pass")
    for role, f in (("forward", forward), ("backward", backward)):
        if not callable(f):
            raise InputTypeError(f"the {role} must be a function; got {type(f).__name__}")
    name = name or getattr(forward, "__qualname__", "layer")
    options = Options(rtol, directions, probes, bool(subnormals), bool(second_order))
    inputs = tuple(inputs)
    try:
        return _verify(*_guarded(forward, backward, name), inputs, name, draws, seed, shrink,
                       options)
    except Exception as e:
        if not hasattr(e, "_jaxdnn_raised_in"):
            raise
        role, shapes = e._jaxdnn_raised_in
        first = (str(e).strip().splitlines() or [""])[0].rstrip(".")
        raise FunctionError(f"{name}: your {role} raised {type(e).__name__}: {first} (called "
                            f"with {shapes})") from e


def _verify(forward, backward, inputs, name, draws, seed, shrink, options):
    if any(drawn.is_strategy(x) for x in inputs):
        def at(values, s):
            point = tuple(_inputs(v) if v is not None else None for v in values)
            filled = _fill(point, inputs, np.random.RandomState(s), options.subnormals)
            report = _check(forward, backward, filled, name, 1, s, options, point=filled)
            c = report.counterexample
            return report._replace(counterexample=c and c._replace(how="hypothesis"))
        return _merge(drawn.search(at, inputs, draws, seed, shrink), seed)
    return _check(forward, backward, _inputs(inputs), name, draws, seed, options, shrink)


def _guarded(forward, backward, name):
    """The pair as the witnesses call it: a forward must return ``(output, cache)``; an error
    raised inside either function is marked with which one raised it and its inputs' shapes
    (:func:`verify` names them), and passes through the witnesses unchanged."""
    def call(role, f, args, shapes_of):
        try:
            return f(*args)
        except Exception as e:
            if not hasattr(e, "_jaxdnn_raised_in"):
                try:
                    e._jaxdnn_raised_in = (role, shapes_of(args))
                except (AttributeError, TypeError):  # an error type without attributes
                    pass
            raise

    def fwd(*x):
        result = call("forward", forward, x, lambda x: "inputs of shapes " + ", ".join(
            str(np.shape(a)) for a in jax.tree.leaves(x)))
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            got = (f"a {type(result).__name__} of {len(result)} items"
                   if isinstance(result, (tuple, list)) else
                   f"an array of shape {np.shape(result)}" if hasattr(result, "shape") else
                   f"a {type(result).__name__}")
            raise InputTypeError(f"{name}: the forward must return (output, cache); it "
                                 f"returned {got}")
        return tuple(result)

    def bwd(d, cache):
        return call("backward", backward, (d, cache), lambda args: "a cotangent of shapes "
                    + ", ".join(str(np.shape(a)) for a in jax.tree.leaves(args[0])))

    return fwd, bwd


class Options(NamedTuple):
    """What every point of one check is checked with."""

    rtol: float
    directions: int
    probes: int
    subnormals: bool
    second_order: bool


def _inputs(tree):
    return tuple(jax.tree.map(_example, x) for x in tree) if isinstance(tree, tuple) \
        else jax.tree.map(_example, tree)


def _fill(point, examples, rng, subnormals):
    """The drawn inputs, the others drawn as usual at their examples' shapes."""
    fresh = [w.draw_inputs((_inputs(e),), rng, subnormals=subnormals)[0] if p is None else p
             for p, e in zip(point, examples, strict=True)]
    return tuple(fresh)


def _judge(forward, backward, inputs, seed, options):
    dtypes = {jnp.asarray(a).dtype.name for a in jax.tree.leaves(inputs)}
    if len(dtypes) != 1:
        raise AssertionError(f"the inputs mix dtypes {sorted(dtypes)}: check one at a time")
    dtype = dtypes.pop()
    out = forward(*inputs)[0]
    reduction = max(np.size(a) for a in jax.tree.leaves((inputs, out)))
    bound = tolerances.resolvable(dtype, reduction, options.rtol)
    return dtype, Judge(forward, backward, inputs, bound, np.random.RandomState(
        numeric.seed(seed)), options.subnormals, options.second_order)


def _check(forward, backward, inputs, name, draws, seed, options, shrinking=False, point=None):
    """The report of ``draws`` draws (at ``point`` only, if given), the failing input shrunk
    if ``shrinking``."""
    dtype, state = _judge(forward, backward, inputs, seed, options)
    for index in range(draws):
        x = point if point is not None else w.draw_inputs(inputs, state.rng,
                                                          subnormals=options.subnormals)
        finding = state.draw(index, options.directions, options.probes, point=x)
        if finding is not None:
            break
    else:
        finding = None
    counterexample = None
    if finding is not None:
        counterexample = Counterexample(x, "drawn", (), 0)
        if shrinking:
            finding, counterexample = _shrunk(forward, backward, x, finding, seed, options)
    leaves = [Leaf(n, s, state.errors[n], state.bounds[n], state.limit(n))
              for n, s in zip(state.names, state.shapes, strict=True)]
    return Report(name, dtype, tolerances.rounding(dtype)[1], index + 1, seed, leaves,
                  sorted(state.notes), finding, counterexample)


def _at(forward, backward, point, seed, options):
    """The finding of one draw at ``point``, or None."""
    _, state = _judge(forward, backward, point, seed, options)
    return state.draw(0, options.directions, options.probes, point=point)


def _shrunk(forward, backward, x, finding, seed, options):
    """``(finding, counterexample)``: the drawn input's finding (its diagnosis is made at a
    typical point, where a shrunk one may be degenerate) and the smallest input that fails as
    it does."""
    def fails(candidate):
        again = _at(forward, backward, candidate, seed, options)
        return again is not None and (again.bug, again.leaf, again.witness) == (
            finding.bug, finding.leaf, finding.witness)

    small, steps = shrinking.shrink(x, fails)
    start = tuple(np.shape(a) for a in jax.tree.leaves(x))
    return finding, Counterexample(small, "shrunk", start, steps)


def _merge(reports, seed):
    """One report of the points hypothesis drew: each leaf's worst errors, the failing point's
    finding and counterexample."""
    leaves = {}
    for report in reports:
        for leaf in report.leaves:
            old = leaves.get(leaf.name)
            if old is None:
                leaves[leaf.name] = leaf
                continue
            keys = set(old.errors) | set(leaf.errors)
            most = lambda a, b, keys=keys: {k: max(a.get(k, 0.0), b.get(k, 0.0))  # noqa: E731
                                            for k in keys}
            leaves[leaf.name] = Leaf(leaf.name, max(old.shape, leaf.shape, key=np.prod),
                                     most(old.errors, leaf.errors),
                                     most(old.bounds, leaf.bounds),
                                     max(old.verified_to, leaf.verified_to))
    last = reports[-1]
    dtypes = sorted({r.dtype for r in reports})
    notes = sorted({n for r in reports for n in r.notes})
    return last._replace(dtype=", ".join(dtypes), draws=max(len(reports), last.draws), seed=seed,
                         leaves=list(leaves.values()), notes=notes)


def _example(a):
    """An example input as a JAX array of its own dtype (refusing a silent downgrade)."""
    return jnp.asarray(a, tolerances.require(np.asarray(a).dtype if not hasattr(a, "dtype")
                                             else a.dtype))
