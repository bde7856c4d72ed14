"""One draw of :func:`~jaxdnn.verify.layer.check_vjp`: the witnesses run, their errors kept per
leaf, the first bug found named (:class:`~jaxdnn.verify.layer.Finding`'s fields)."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import diagnose, second, tolerances
from . import witnesses as w

KINK_PROBES = 1024
"""Disagreeing elements examined one by one for a kink before the leaf is judged as a whole
(a quarter of the drawn entries are 0: every kink of an input of up to 4096 entries)."""

FIT_TOL = 1e-2
"""A pattern (a constant ratio, a permutation) must explain all but this part of the
difference between hand and reference."""


class Finding(NamedTuple):
    """A bug: its class, where (leaf, element), the witnesses' values there, why, the draw
    and the property (witness) that failed."""

    bug: str
    leaf: str
    element: tuple
    values: dict
    why: str
    draw: int
    witness: str = ""


def _f64(a):
    return np.asarray(a, np.float64)


def _finite_norm(a):
    """The norm of ``a``'s finite entries: a scale that a NaN or inf entry does not erase."""
    return float(np.linalg.norm(np.where(np.isfinite(a), a, 0.0)))


class Judge:
    """The running state of one check: the pair, the examples, the bound, the errors so far."""

    def __init__(self, forward, backward, inputs, bound, rng, subnormals=False,
                 second_order=False):
        self.forward, self.backward, self.inputs = forward, backward, inputs
        self.bound, self.rng, self.notes = bound, rng, set()
        self.subnormals, self.second_order = subnormals, second_order
        leaves = jax.tree.leaves(inputs)
        self.names, self.shapes = w.leaf_names(inputs), [np.shape(a) for a in leaves]
        self.dtypes = [jnp.asarray(a).dtype for a in leaves]
        self.errors = {n: {} for n in self.names}
        self.bounds = {n: {"vjp": bound, "transpose": bound, "fd": tolerances.FD_RTOL,
                           "linearity": bound, "chain": 4 * bound, "hvp": 4 * bound,
                           "hvp fd": second.FD_RTOL} for n in self.names}
        self.limits = {n: 0.0 for n in self.names}

    def limit(self, name):
        return self.limits[name]

    def _keep(self, witness, values):
        for name, value in zip(self.names, values, strict=True):
            self.errors[name][witness] = max(self.errors[name].get(witness, 0.0), value)

    def finding(self, bug, leaf, element, values, why, index, witness):
        return Finding(bug, self.names[leaf] if isinstance(leaf, int) else leaf,
                       tuple(int(i) for i in element), values, why, index, witness)

    def draw(self, index, directions, probes, point=None):
        """Run every witness on one point (``point``, or a fresh draw); the first
        :class:`Finding`, or None."""
        x = point if point is not None else w.draw_inputs(self.inputs, self.rng,
                                                          subnormals=self.subnormals)
        out, cache = self.forward(*x)
        d = w.draw_like(out, self.rng)
        grads = w.as_grads(self.backward(d, cache), len(x))
        found = self._structure(grads, x, index)
        if found is not None:
            return found
        if not w.same_bits(grads, w.hand(self.forward, self.backward, x, d)[1]):
            return self.finding("nondeterministic", self.names[0], (), {}, "a second call with "
                                "the same inputs gave other bits (hidden state)", index,
                                "same bits")
        ref = w.reference(self.forward, x, d)
        hand_leaves, ref_leaves = ([_f64(a) for a in jax.tree.leaves(t)] for t in (grads, ref))
        found = self._overflow(x, out, ref_leaves, index)
        if found is not None:
            return found
        transposed = w.transpose_errors(self.forward, x, d, grads, directions, self.rng)
        scales = self._scales(transposed)
        vjp = w.vjp_errors(hand_leaves, ref_leaves, scales)
        self._keep("vjp", vjp)
        self._limits(hand_leaves, ref_leaves, scales)
        if transposed is not None:
            self._keep("transpose", transposed[0])
        fd = self._finite_differences(x, d, directions, probes)
        self._keep("linearity", [w.linearity_error(self.backward, cache, d, w.draw_like(
            out, self.rng), len(x))] * len(self.names))
        kinked = set()
        for i, error in enumerate(vjp):
            if not error <= self.bound:
                found = self._vjp_bug(i, x, d, hand_leaves, ref_leaves, scales[i], index)
                if found is not None:
                    return found
                kinked.add(i)
        found = self._dot_product_bug(transposed, kinked, index)
        if found is not None:
            return found
        if fd is not None and fd[1] is not None:
            return fd[1]._replace(draw=index, witness="fd")
        chained = w.chain_errors(self.forward, self.backward, w.draw_inputs(
            self.inputs, self.rng, zeros=0.0, ties=False), self.rng)  # kinks: judged above
        self._keep("chain", chained)
        if not max(chained) <= 4 * self.bound:
            i = int(np.argmax(chained))
            found = self._fresh_vjp_bug(i, index)
            if found is not None:
                return found
            return self.finding("formula", i, (), {"chain error": chained[i]}, "agrees alone "
                                "but not inside a chain", index, "chain")
        linear = self.errors[self.names[0]]["linearity"]
        if not linear <= 4 * self.bound:
            return self.finding("formula", self.names[0], (), {"linearity error": linear},
                                "the backward is not linear in its cotangent", index,
                                "linearity")
        return self._second_order(index) if self.second_order else None

    def _second_order(self, index):
        """The backward's own derivative (:mod:`.second`), at a point without zeros or ties."""
        x = w.draw_inputs(self.inputs, self.rng, zeros=0.0, ties=False)
        hvp, fd, found = second.check(self.forward, self.backward, x, self.rng, self.bound,
                                      self.names)
        self._keep("hvp", hvp)
        self._keep("hvp fd", fd)
        return None if found is None else self.finding(*found, index, "second order")

    def _scales(self, transposed):
        if transposed is None:
            self.notes.add("transpose skipped: forward mode cannot see through a custom_vjp")
        return transposed[1] if transposed else [0.0] * len(self.names)

    def _limits(self, hand_leaves, ref_leaves, scales):
        """Each leaf's detection limit: the bound, raised where the leaf is small."""
        for i, (h, r, s) in enumerate(zip(hand_leaves, ref_leaves, scales, strict=True)):
            size = max(np.linalg.norm(h), np.linalg.norm(r), s)
            truth = np.linalg.norm(r)
            self.limits[self.names[i]] = max(self.limits[self.names[i]], self.bound * size / truth
                                             if truth > 0 else np.inf)

    def _fresh_vjp_bug(self, i, index):
        """Leaf ``i`` against jax.vjp at a fresh point without zeros or ties (where the draw's
        point hid the bug: an input of zeros, a degenerate draw), diagnosed; or None."""
        x = w.draw_inputs(self.inputs, self.rng, zeros=0.0, ties=False)
        out, cache = self.forward(*x)
        d = w.draw_like(out, self.rng)
        hand = [_f64(a) for a in jax.tree.leaves(w.as_grads(self.backward(d, cache), len(x)))]
        ref = [_f64(a) for a in jax.tree.leaves(w.reference(self.forward, x, d))]
        if w.vjp_errors(hand, ref, [0.0] * len(hand))[i] <= self.bound:
            return None
        found = self._vjp_bug(i, x, d, hand, ref, 0.0, index)
        return found and found._replace(witness="chain")

    def _dot_product_bug(self, transposed, kinked, index):
        """A leaf that agrees with jax.vjp (or only at kinks) but fails the dot-product test."""
        dot = [e for i, e in enumerate(transposed[0] if transposed else []) if i not in kinked]
        if dot and not max(dot) <= self.bound:
            i = transposed[0].index(max(dot))
            return self.finding("transpose", i, (), {"dot-product error": transposed[0][i]},
                                "agrees with jax.vjp but not with forward mode", index,
                                "transpose")
        return None

    def _overflow(self, x, out, ref_leaves, index):
        """A forward that is not finite at finite inputs where jax.vjp through it is not finite
        either: the forward is the bug, and nothing could judge the backward there. (An output
        of -inf on purpose, a mask, has finite gradients and is judged as usual.)"""
        if all(np.all(np.isfinite(r)) for r in ref_leaves) or not all(
                np.all(np.isfinite(_f64(a))) for a in jax.tree.leaves(x)):
            return None
        for k, a in enumerate(jax.tree.leaves(out)):
            bad = ~np.isfinite(_f64(a))
            if bad.any():
                element = tuple(np.argwhere(bad)[0]) if bad.ndim else ()
                name = "output" if len(jax.tree.leaves(out)) == 1 else f"output leaf {k}"
                return self.finding("overflow", name, element, {"output": float(
                    _f64(a)[element])}, "the forward is not finite at finite inputs", index,
                    "forward")
        return None

    def _structure(self, grads, x, index):
        if jax.tree.structure(grads) != jax.tree.structure(x):
            return self.finding("shape", self.names[0], (), {}, f"backward returned "
                                f"{jax.tree.structure(grads)} for inputs "
                                f"{jax.tree.structure(x)}", index, "shape")
        for i, (g, shape, dtype) in enumerate(zip(jax.tree.leaves(grads), self.shapes,
                                                  self.dtypes, strict=True)):
            if np.shape(g) != shape:
                return self.finding("shape", i, (), {}, f"gradient of shape {np.shape(g)} for "
                                    f"an input of shape {shape}", index, "shape")
            if jnp.asarray(g).dtype != dtype:
                return self.finding("dtype", i, (), {}, f"gradient of dtype "
                                    f"{jnp.asarray(g).dtype} for an input of {dtype}", index,
                                    "dtype")
        return None

    def _x64(self, x, d):
        """The point, the cotangent and the hand gradient leaves in float64, or None."""
        up = lambda t: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), t)  # noqa: E731
        try:
            x64, d64 = up(x), up(d)
            g64 = w.hand(self.forward, self.backward, x64, d64)[1]
            return x64, d64, [_f64(a) for a in jax.tree.leaves(g64)]
        except Exception as e:  # noqa: BLE001 - the user's code may refuse float64 any way
            self.notes.add(f"fd skipped: the pair does not run in float64 ({type(e).__name__})")
            return None

    def _one_hot(self, x64, leaves, element):
        flat, treedef = jax.tree.flatten(x64)
        return jax.tree.unflatten(treedef, [
            jnp.zeros_like(a).at[element].set(1.0) if i in leaves else jnp.zeros_like(a)
            for i, a in enumerate(flat)])

    def _slope_check(self, x64, d64, v, g64):
        """``(error, kink, subgradient, values)`` of one direction's slope."""
        central, left, right, size = w.slopes(self.forward, x64, d64, v)
        vs = [_f64(a) for a in jax.tree.leaves(v)]
        gv = sum(float(np.vdot(g, u)) for g, u in zip(g64, vs, strict=True))
        norm = np.sqrt(sum(np.sum(u * u) for u in vs) * sum(np.sum(g * g) for g in g64))
        scale = abs(gv) + float(norm) or 1.0
        slack = tolerances.FD_RTOL * scale + 1e3 * tolerances.UNIT_ROUNDOFF["float64"] * size \
            / tolerances.FD_STEP
        wide = 1e3 * slack
        kink = abs(left - right) > wide
        inside = min(left, right) - wide <= gv <= max(left, right) + wide
        if abs(central - gv) > slack:  # truncation (a sharp curvature) shrinks with the step
            finer = w.slopes(self.forward, x64, d64, v, tolerances.FD_STEP / 8)[0]
            central = finer if abs(finer - gv) < abs(central - gv) else central
        miss = abs(central - gv)
        if not np.isfinite(central):  # the forward is not finite along v: nothing to compare
            self.notes.add("fd skipped along directions where the forward is not finite")
            miss = 0.0
        error = 0.0 if miss <= slack else miss / scale if np.isfinite(miss) else np.inf
        return error, kink, inside, {"hand": gv, "fd": central, "fd left": left,
                                     "fd right": right}

    def _directions(self, x64, i, directions, probes):
        """``(tangent, element, probe)`` for leaf ``i``: random ones (probe None), one-hot probes
        at random elements ("one-hot"), and joint probes (the same element of every leaf of this
        shape) where all of them are 0: a tie between leaves, a max's kink ("tie")."""
        leaves = jax.tree.leaves(x64)
        shape = leaves[i].shape
        found = [(v, (), None) for v in w.leaf_tangents(x64, i, directions, self.rng)]
        size = int(np.prod(shape))
        for _ in range(min(probes, size)):
            e = np.unravel_index(self.rng.randint(size), shape)
            found.append((self._one_hot(x64, [i], e), e, "one-hot"))
        same = [k for k, a in enumerate(leaves) if a.shape == shape]
        if len(same) > 1 and i == same[0]:
            ties = np.argwhere(np.all([np.asarray(leaves[k]) == 0 for k in same], axis=0))
            found += [(self._one_hot(x64, same, tuple(e)), tuple(e), "tie") for e in ties[:probes]]
        return found

    def _finite_differences(self, x, d, directions, probes):
        """Keeps the ``fd`` errors; ``(errors, finding or None)``, or None when not run. Along
        a random direction a kink is noted, not judged: several kinks at once widen the
        subgradients' interval beyond the one-sided slopes."""
        with jax.enable_x64(True):
            point = self._x64(x, d)
            if point is None:
                return None
            x64, d64, g64 = point
            errors, found = [], None
            for i in range(len(g64)):
                worst = 0.0
                for v, element, probe in self._directions(x64, i, directions, probes):
                    error, kink, inside, values = self._slope_check(x64, d64, v, g64)
                    if error and kink and (inside or probe is None):
                        self.notes.add(f"{self.names[i]}: a kink met; " + (
                            "the hand value lies between the one-sided slopes (a subgradient)"
                            if probe else "judged by one-hot probes"))
                        continue
                    worst = max(worst, error)
                    if error and found is None:
                        at_kink = kink or probe == "tie"
                        found = self.finding("kink" if at_kink else "formula", i, element,
                                             values, "float64 differences disagree" + (
                                                 " at a kink or tie, outside the one-sided "
                                                 "slopes" if at_kink else ""), -1, "fd")
                errors.append(worst)
        self._keep("fd", errors)
        return errors, found

    def _vjp_bug(self, i, x, d, hand, ref, floor, index):
        """Name the bug of leaf ``i``, which disagrees with jax.vjp."""
        h, r = hand[i], ref[i]
        size = max(_finite_norm(h), _finite_norm(r), floor)
        diff = np.abs(h - r)
        order = np.argsort(-np.nan_to_num(diff, nan=np.inf), axis=None)[:KINK_PROBES]
        worst = np.unravel_index(order[0], h.shape) if h.ndim else ()
        values = {"hand": float(h[worst]), "vjp": float(r[worst]),
                  "leaf error": float(np.linalg.norm(np.nan_to_num(h - r, nan=np.inf)) / size)}
        kinks = self._kinks(i, x, d, h, r, order, size)
        if kinks is not None:
            bug, element, more = kinks
            if bug is None:
                self.errors[self.names[i]]["vjp"] = more["remaining"]
                return None
            values.update(more)
            return self.finding("kink", i, element, values, "disagrees only at a kink, "
                                "outside the one-sided slopes", index, "vjp")
        lost = ~np.isfinite(h) & np.isfinite(r)
        if lost.any():
            element = tuple(np.argwhere(lost)[0])
            values.update(hand=float(h[element]), vjp=float(r[element]))
            return self.finding("formula", i, element, values, "not finite where jax.vjp is "
                                "finite, away from any kink", index, "vjp")
        tol = FIT_TOL + 10 * self.bound
        agrees, h_s, r_s, context = self._probe(i)
        if agrees and self.subnormals and self._probe(i, kinks=True)[0]:
            return self.finding("formula", i, worst, values, "agrees with jax.vjp at zeros and "
                                "ties, not at subnormal inputs", index, "vjp")
        if agrees:
            return self.finding("kink", i, worst, values, "agrees with jax.vjp away from zeros "
                                "and ties, not at them", index, "vjp")
        bug, why = diagnose.pattern(h_s, r_s, context[0], FIT_TOL, 4 * self.bound * np.linalg.norm(
            r_s), context[1])
        if bug == "formula" and self._product_rule_half(i, x, d, h, r, tol):
            bug, why = "missing-term", ("agrees where its input is 0 and is d f(x) / x "
                                        "elsewhere: f = x u(x) without its x u'(x) term")
        elif bug == "formula" and self._probe(i, symmetric=True)[0]:
            bug, why = "transpose", ("agrees on symmetric matrices and palindromic kernels: "
                                     "one used the wrong way round")
        return self.finding(bug, i, worst, values, why, index, "vjp")

    def _product_rule_half(self, i, x, d, h, r, tol):
        out, cotangent = jax.tree.leaves(self.forward(*x)[0]), jax.tree.leaves(d)
        if len(out) != 1 or len(cotangent) != 1:
            return False
        return diagnose.product_rule_half(h, r, _f64(jax.tree.leaves(x)[i]),
                                          _f64(cotangent[0]), _f64(out[0]), tol)

    def _probe(self, i, symmetric=False, kinks=False):
        """A targeted probe of leaf ``i`` at a fresh point with no zeros and no ties (no kink to
        blur a pattern; with ``kinks``, zeros and ties but no subnormals), the inputs
        :func:`~.diagnose.symmetrised` if ``symmetric``:
        ``(agrees, hand, reference, (cotangent leaves, forward output and cache leaves))``."""
        x = w.draw_inputs(self.inputs, self.rng, zeros=0.25 if kinks else 0.0, ties=kinks)
        if symmetric:
            x = jax.tree.map(diagnose.symmetrised, x)
        out, cache = self.forward(*x)
        d = w.draw_like(out, self.rng)
        h = _f64(jax.tree.leaves(w.as_grads(self.backward(d, cache), len(x)))[i])
        r = _f64(jax.tree.leaves(w.reference(self.forward, x, d))[i])
        size = max(np.linalg.norm(h), np.linalg.norm(r))
        agrees = bool(np.all(np.isfinite(h))) and np.linalg.norm(h - r) <= self.bound * size
        parts = [_f64(a) for a in jax.tree.leaves((out, cache))]
        return agrees, h, r, ([_f64(a) for a in jax.tree.leaves(d)], parts)

    def _kinks(self, i, x, d, h, r, order, size):
        """None when the disagreement is not confined to kinks; else ``(bug, element,
        values)``, bug None when every kink's hand value is a subgradient (noted)."""
        diff = np.nan_to_num(np.abs(h - r), nan=np.inf).ravel()
        with jax.enable_x64(True):
            point = self._x64(x, d)
            if point is None:
                return None
            x64, d64, _ = point
            remaining, outside = diff.copy(), None
            for flat in order:
                if diff[flat] == 0:
                    break
                element = np.unravel_index(flat, h.shape)
                v = self._one_hot(x64, [i], element)
                _, left, right, _ = w.slopes(self.forward, x64, d64, v)
                wide = 1e-3 * max(abs(left), abs(right), 1e-300) + self.bound * size
                if abs(left - right) <= wide:
                    return None  # a disagreement away from any kink: not confined to kinks
                if outside is None and not (min(left, right) - wide <= h[element]
                                            <= max(left, right) + wide):
                    outside = element, {"fd left": left, "fd right": right}
                remaining[flat] = 0.0
                if np.linalg.norm(remaining) <= self.bound * size:
                    break
            if np.linalg.norm(remaining) > self.bound * size:
                return None  # more disagreement than the kinks examined account for
            if outside is not None:
                return ("kink", *outside)
            self.notes.add(f"{self.names[i]}: differs from jax.vjp only at kinks, where the "
                           f"hand value is a subgradient")
            return None, element, {"remaining": float(np.linalg.norm(remaining) / size)}
