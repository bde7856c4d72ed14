"""Naming a wrong gradient's bug class from the pattern of hand value h and reference r.

The classes (exact names, so reports compare): ``shape``, ``dtype``, ``scale``, ``sign``,
``transpose``, ``missing-term``, ``kink``, ``nondeterministic``, ``precision``, ``overflow``,
``formula``. The structural ones (shape, dtype, nondeterministic, kink, precision, overflow:
the forward itself not finite at finite inputs) are decided by the
check itself; :func:`pattern` names the rest from one leaf, trying :data:`PATTERNS` in order:

* ``sign``: h = c r with c = -1; ``scale``: h = c r with another constant c (a lost 1/m);
* ``transpose``: h is r with its entries permuted (a square matrix the wrong way round, a
  convolution's kernel not flipped);
* ``missing-term``: r - h is a part of r: h is 0, or r - h is constant along an axis (the
  derivative through a mean or a sum over classes dropped), or r - h is a multiple of the
  cotangent (the identity path of a fork dropped);
* ``formula``: anything else.
"""

import numpy as np

CLASSES = ("shape", "dtype", "scale", "sign", "transpose", "missing-term", "kink",
           "nondeterministic", "precision", "overflow", "formula")


def _norm(a):
    return float(np.linalg.norm(a))


def _ratio(h, r):
    """``(c, residual)``: the least-squares c with h = c r, and ``||h - c r||``."""
    rr = float(np.vdot(r, r))
    if rr == 0 or _norm(h) == 0:
        return np.nan, np.inf
    c = float(np.vdot(h, r)) / rr
    return c, _norm(h - c * r)


def _sign(h, r, d, slack, parts=()):
    c, residual = _ratio(h, r)
    return residual <= slack and abs(c + 1) <= 1e-2, f"hand/reference ratio {c:.6g}"


def _scale(h, r, d, slack, parts=()):
    c, residual = _ratio(h, r)  # one element always has a "constant" ratio: no pattern
    return residual <= slack and h.size > 1, f"hand/reference ratio {c:.6g} (constant)"


def _transpose(h, r, d, slack, parts=()):
    if h.ndim == 2 and h.shape[0] == h.shape[1] and _norm(h - r.T) <= slack:
        return True, "hand is the reference transposed"
    permuted = h.size > 1 and _norm(np.sort(h, axis=None) - np.sort(r, axis=None)) <= slack
    return permuted, "hand holds the reference's entries in another order"


def _missing_term(h, r, d, slack, parts=()):
    residual = r - h
    if _norm(h) <= slack:
        return True, "hand is 0 where the reference is not"
    for part in (np.ones_like(r), *(p for p in parts if p.shape == r.shape)):
        for axis in range(residual.ndim):
            if residual.shape[axis] > 1:
                c = np.sum(residual * part, axis=axis, keepdims=True) / np.maximum(
                    np.sum(part * part, axis=axis, keepdims=True), 1e-300)
                if _norm(residual - part * c) <= slack:
                    return True, (f"reference - hand is a value of the forward times a "
                                  f"reduction along axis {axis} (that reduction's term)")
    for cotangent in d:
        if cotangent.shape == r.shape and r.size > 1:
            c, res = _ratio(residual, cotangent)
            if res <= slack:
                return True, f"reference - hand is {c:.3g} x the cotangent (a path dropped)"
    return False, ""


PATTERNS = (("sign", _sign), ("scale", _scale), ("transpose", _transpose),
            ("missing-term", _missing_term))
"""The value patterns, tried in order; ``formula`` when none fits."""


def pattern(h, r, d, tol, noise, parts=()):
    """``(class, why)`` for hand ``h`` vs reference ``r`` of one leaf (float64 arrays of one
    shape); ``d``: the cotangent's leaves; ``parts``: the forward's output and cache leaves.
    A pattern fits when what it leaves unexplained is at most ``tol`` of ``||h - r||`` plus
    ``noise`` (the rounding both carry)."""
    if not (np.all(np.isfinite(h)) and np.all(np.isfinite(r))):
        return "formula", "hand is not finite where the reference is"
    slack = tol * _norm(h - r) + noise
    for name, test in PATTERNS:
        fits, why = test(h, r, d, slack, parts)
        if fits:
            return name, why
    return "formula", "no constant factor, permutation or dropped part explains the difference"


def vanishes_at_zero(h, r, x, tol):
    """Whether hand and reference agree where the leaf's input ``x`` is 0 (and the reference is
    not) though not elsewhere: the missing term has x as a factor (a product rule's half)."""
    if x.shape != r.shape:
        return False
    at = (x == 0) & (np.abs(r) > tol * np.max(np.abs(r), initial=0.0))
    return bool(np.any(at)) and bool(np.all(np.abs(h - r)[at] <= tol * np.abs(r)[at]))


def symmetrised(a):
    """A square matrix made symmetric, a vector made a palindrome, anything else as it is: the
    inputs on which a wrong-way-round matrix or an unflipped kernel gives the right answer."""
    if a.ndim == 2 and a.shape[0] == a.shape[1]:
        return (a + a.T) / 2
    return (a + a[::-1]) / 2 if a.ndim == 1 else a


def product_rule_half(h, r, x, d, out, tol):
    """Whether ``h`` is the half of a product rule ``f(x) = x u(x)`` that keeps ``u``: it
    agrees with ``r`` where ``x`` is 0 (:func:`vanishes_at_zero`: the dropped ``x u'(x)``
    vanishes there) and is ``d f(x) / x`` elsewhere (``d`` the cotangent, ``out`` the forward's
    value, of the shape of ``x``). A wrong formula that merely agrees at 0 (``1 - tanh`` for
    ``1 - tanh**2``, ``sigmoid(-z)`` for ``sigmoid(z)``) is not ``d f(x) / x`` there."""
    if not (d.shape == out.shape == x.shape and vanishes_at_zero(h, r, x, tol)):
        return False
    at = x != 0
    kept = d[at] * out[at] / x[at]
    return bool(np.all(np.abs(h[at] - kept) <= tol * (np.abs(kept) + np.abs(r[at]))))
