"""A pytest plugin that prints figures the tests measure at the end of a run: the worst error of
the hand-written backward against jax.grad, and the bad-input fuzzer's counts.

Under pytest-xdist each worker hands its figures to the controller, which merges them.
"""

import json

import numpy as np
import pytest

WORST_ERRORS: dict[tuple[str, str], float] = {}
"""Worst relative error seen per (dtype, path) by the chain property tests."""

FUZZ_CASES: dict[tuple[str, str, str], int] = {}
"""Calls the bad-input fuzzer made per (function, argument, fault) case."""


def record_errors(dtype, path, errors):
    key = (str(np.dtype(dtype)), path)
    WORST_ERRORS[key] = max(WORST_ERRORS.get(key, 0.0), max(errors.values()))


def record_fuzz_case(case):
    FUZZ_CASES[case] = FUZZ_CASES.get(case, 0) + 1


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # an xdist worker
        session.config.workeroutput["jaxdnn"] = json.dumps({
            "worst": [[list(key), err] for key, err in WORST_ERRORS.items()],
            "fuzz": [[list(case), n] for case, n in FUZZ_CASES.items()]})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # the xdist controller, as each worker ends
    figures = json.loads(getattr(node, "workeroutput", {}).get("jaxdnn", "{}"))
    for key, err in figures.get("worst", []):
        WORST_ERRORS[tuple(key)] = max(WORST_ERRORS.get(tuple(key), 0.0), err)
    for case, n in figures.get("fuzz", []):
        FUZZ_CASES[tuple(case)] = FUZZ_CASES.get(tuple(case), 0) + n


def pytest_terminal_summary(terminalreporter):
    api = {case: n for case, n in FUZZ_CASES.items() if not case[0].startswith("jaxdnn ")}
    cli = {case: n for case, n in FUZZ_CASES.items() if case[0].startswith("jaxdnn ")}
    if api or cli:
        terminalreporter.section("bad-input fuzzer")
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
            terminalreporter.write_line(f"{dtype:8} {path:16} {err:.3e}")
