"""Every tolerance the tests compare with, in one table, each with the reason for its size.

Keyed by dtype where the two dtypes need different bounds. float32's machine epsilon is 1.2e-7,
float64's 2.2e-16.
"""

import numpy as np

from jaxdnn.verify.gradcheck import CHAIN_RTOL, ELEMENT_RTOL, FLUSH_ATOL  # noqa: F401 (public bounds)

F32, F64 = np.dtype("float32"), np.dtype("float64")

LINEAR_RTOL = {F64: 1e-13, F32: 1e-5}
"""linear_backward vs jax.vjp: the same products summed in another order (a few ulps times the
inner dimension)."""

COURSE_ATOL = 1e-8
"""The course prints 8 decimals."""

SAME_MATH_RTOL = 1e-12
"""float64: one computation arranged two ways (a compiled scan vs a Python loop of the same
steps; optax.sgd vs the built-in update), where only the order of a few roundings differs."""

GRAM_RTOL = 1e-9
"""float64: the Gram loop vs the plain loop over up to 30 iterations: Z1 carried as
Z1 + u (X^T X + 1 1^T) instead of recomputed as W1 X + b1 rounds differently, ~1e-14 per step,
amplified by the network's Lipschitz constant."""

GRAM_TRACE_RTOL = 1e-8
"""The momentum trace after a Gram segment vs the plain loop's, float64: the trace is a running
sum of gradients, far smaller than the weights, so the same absolute rounding as in GRAM_RTOL is
larger relative to it (a CI run drew 1.8e-9 on a W1 trace whose weights agreed to 1e-9); a bug in
the trace (a wrong momentum, a trace not carried) is off by order 1."""

def finite_difference_noise(n_parameters, cost, epsilon=1e-7):
    """The rounding floor of float64 central differences, as an absolute error on the whole
    gradient: each cost is computed to about eps |J| (eps = 2.2e-16), so each quotient
    (J+ - J-) / (2 epsilon) carries about eps |J| / epsilon; over P parameters, sqrt(P) times
    that, with a factor 4 for the few roundings per cost. Where the gradient itself is this
    small, the course's relative check measures this floor, not the backward pass (with
    --hypothesis-seed=0: P = 78, J = 0.62, ||g|| = 0.014, ||g - g_approx|| = 5.6e-9, floor
    6e-9)."""
    return 4 * np.sqrt(n_parameters) * np.finfo(F64).eps * max(abs(cost), 1.0) / epsilon


RESUME_RTOL = {F64: 1e-10, F32: 1e-4}
"""Segmented and resumed runs vs one uninterrupted fit: the Gram loop recomputes Z1 from W1 at
each segment start (float64 ~1e-16 per restart); float32 trajectories part by rounding."""


def gradient_errors(hand, reference):
    """``||hand[k] - reference[k]||`` per gradient leaf over the norm of the whole gradient (the
    larger of the two); inf for a missing key or a wrong shape. Compared with CHAIN_RTOL by the
    tests of the small models (logistic regression, the planar network).

    Scaled by the whole gradient, as the course's gradient check is: a leaf that is one number
    near 0 (the db of a single sigmoid output) would otherwise measure its own rounding, not the
    formula.
    """
    def norm(tree):
        return float(np.sqrt(sum(np.sum(np.asarray(v, np.float64) ** 2) for v in tree.values())))

    scale = max(norm(hand), norm(reference)) or 1.0  # both zero: every difference is 0 too
    errors = {}
    for key, ref in reference.items():
        a, b = np.asarray(hand.get(key), np.float64), np.asarray(ref, np.float64)
        same = key in hand and a.shape == b.shape
        errors[key] = float(np.linalg.norm(a - b)) / scale if same else np.inf
    return errors

DOT_F32_RTOL = 5e-7
"""gram._dot in float32 vs the exact product, max error over max |result|, on the cat model's
W1 X shapes (12288 terms, X in [0, 1]): measured 2.5e-7 (chunks of 128 each round once more or
less); a plain float32 product measures 9.8e-7 there, so the bound tells the two apart."""

GRAM_F32_COST_RTOL = 1e-6
"""The cat model's float32 costs vs float64's, each iteration, while neither has left the other
(the first 250 iterations): the plain float32 loop measures 3.2e-7 and the Gram loop the same.
Near iteration 266 a ReLU unit crosses its kink at another step in float32 whichever loop runs
(relative difference 1e-6 then 1e-2 within 20 iterations), after which float32 runs are one
draw of a chaotic process; before the Gram loop computed its starting Z1 with gram._dot it left
the float64 costs at iteration 68."""

GRAM_F32_SMOOTH_RTOL = 1e-5
"""float32 Gram loop vs the float64 plain loop with smooth (tanh) hidden units, 50 iterations at
learning rate 0.03 on tall random data: no kink to cross, so the difference is rounding carried
by the steps; measured 1e-7 on the costs and 5e-7 on the parameters (the plain float32 loop:
the same), worst 1.1e-6 over a few seeds."""

STREAM_RTOL = {F64: SAME_MATH_RTOL, F32: 1e-5}
"""fit_stream vs fit on the same data, key and options, max error over max |value| per leaf and
over the costs: the same steps on the same batches, which reach the step as a slice of a block
(k, n, b) instead of a gather of X's columns, so XLA may fuse and round a little differently
(measured: float64 bit for bit to 2e-16, float32 ~6e-8 after 39 steps). Batches read out of
order (rows or labels left sorted) are off by 1e-2 or more."""

STACK_RTOL = 1e-10
"""float64: a model trained in a stack (jaxdnn.fit_many: vmap over the models, padded to the
widest) vs the same model trained alone by fit, up to 40 iterations; norm of the difference over
the larger norm. Under vmap the first layer is one matmul over every model's units, the layers
above are batched matmuls whose sums run over padded zeros, so XLA may group a sum differently:
~1e-16 per step, carried and amplified by the steps. Measured: worst 1.8e-13 over 30 draws of
the property (one model, momentum 0.9 at learning rate 1.56, ReLU and leaky ReLU, 30
iterations); 4e-13 after 300 iterations of a ReLU network at learning rate 0.5. A model given
another's hyperparameter, or a leak through the padding, is off by 1e-3 or more."""
