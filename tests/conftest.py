"""Shared test set-up: x64 on, hypothesis profiles, and the tolerance table.

x64 is enabled for the whole session so float64 tests really run in float64; float32 tests build
float32 arrays explicitly and assert that results stay float32.

Hypothesis profiles, chosen by ``JAXDNN_HYPOTHESIS_PROFILE``:

* ``dev`` (default): few examples, for quick iteration;
* ``ci``: the fuller run ``.ci/run`` uses.
"""

import json
import os

import jax
import numpy as np
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)

settings.register_profile(
    "dev", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("JAXDNN_HYPOTHESIS_PROFILE", "dev"))

# Largest relative error (||hand - autodiff|| / max of the norms, per gradient leaf) accepted
# between the hand-written backward and jax.grad.
#   float64: the bound; measured worst cases are around 1e-15.
#   float32: eps = 1.2e-7; through six layers of width 20 and sums over 64 examples the measured
#   worst case stays below 1e-5 (see README), so 1e-4 leaves a margin of 10x while a real bug
#   (errors of order 1) is still caught by a factor of 10^4.
CHAIN_RTOL = {np.dtype("float64"): 1e-9, np.dtype("float32"): 1e-4}

# Elementwise tolerance for one activation's backward against jax.vjp of its forward, relative to
# |dZ| + |dA|: the two may write g'(Z) differently (tanh: (1 + t)(1 - t) vs 1 - t^2), a few ulps.
ELEMENT_RTOL = {np.dtype("float64"): 1e-13, np.dtype("float32"): 1e-6}

# Worst relative error seen per (dtype, path) by the chain property tests, printed at the end of
# the run so the figures in the README can be re-measured with one command.
WORST_ERRORS: dict[tuple[str, str], float] = {}


def record_errors(dtype, path, errors):
    key = (str(np.dtype(dtype)), path)
    WORST_ERRORS[key] = max(WORST_ERRORS.get(key, 0.0), max(errors.values()))


# Calls the bad-input fuzzer made per (function, argument, fault) case (tests/test_fuzz.py).
FUZZ_CASES: dict[tuple[str, str, str], int] = {}


def pytest_sessionfinish(session):
    """Under pytest-xdist, each worker hands its figures to the controller (see below)."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["jaxdnn"] = json.dumps({
            "worst": [[list(key), err] for key, err in WORST_ERRORS.items()],
            "fuzz": [[list(case), n] for case, n in FUZZ_CASES.items()]})


class _MergeWorkerFigures:
    def pytest_testnodedown(self, node, error):
        figures = json.loads(getattr(node, "workeroutput", {}).get("jaxdnn", "{}"))
        for key, err in figures.get("worst", []):
            WORST_ERRORS[tuple(key)] = max(WORST_ERRORS.get(tuple(key), 0.0), err)
        for case, n in figures.get("fuzz", []):
            FUZZ_CASES[tuple(case)] = FUZZ_CASES.get(tuple(case), 0) + n


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_MergeWorkerFigures())


def pytest_terminal_summary(terminalreporter):
    if FUZZ_CASES:
        terminalreporter.section("bad-input fuzzer")
        api = {case: n for case, n in FUZZ_CASES.items() if not case[0].startswith("jaxdnn ")}
        cli = {case: n for case, n in FUZZ_CASES.items() if case[0].startswith("jaxdnn ")}
        if api:
            terminalreporter.write_line(
                f"API: {len(api)} distinct cases (function x argument x fault) across "
                f"{len({case[0] for case in api})} public functions, {sum(api.values())} calls "
                f"on random problems, each refused with a documented error naming the argument")
        if cli:
            terminalreporter.write_line(
                f"CLI: {len(cli)} bad option values across {len({c[0] for c in cli})} "
                f"subcommands, each one line on stderr and exit code 2")
    if WORST_ERRORS:
        terminalreporter.section("worst relative error, hand-written backward vs jax.grad")
        for (dtype, path), err in sorted(WORST_ERRORS.items()):
            terminalreporter.write_line(f"{dtype:8} {path:8} {err:.3e}")


def gradient_errors(hand, reference):
    """``||hand[k] - reference[k]||`` per gradient leaf over the norm of the whole gradient (the
    larger of the two); inf for a missing key or a wrong shape.

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
