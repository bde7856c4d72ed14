"""Hypothesis strategies as the inputs of :func:`~jaxdnn.verify.layer.check_vjp`.

An input given as a strategy (one producing an array, or a pytree of arrays) is drawn by
hypothesis; an input given as an example array is drawn as usual (normal entries, zeros, a
tie) at its shape. Standalone, the check runs its own search of ``draws`` examples (seeded by
``seed``, no example database) and hypothesis shrinks a failure: the report's counterexample is
the smallest input it found. Inside a running ``@given`` test the check draws from that test's
data instead, so the test's own search and shrinking apply. hypothesis is imported only here,
when a strategy is given (``pip install 'jaxdnn[testing]'``).
"""

import zlib

from ..errors import OptionError


def is_strategy(x):
    """Whether ``x`` is a hypothesis strategy (told without importing hypothesis)."""
    return any(c.__name__ == "SearchStrategy" and c.__module__.startswith("hypothesis")
               for c in type(x).__mro__)


def hypothesis():
    """The hypothesis module, or a clear error naming the extra that brings it."""
    try:
        import hypothesis as found
    except ImportError:
        raise OptionError("strategies as inputs need hypothesis, which is not installed: "
                          "pip install 'jaxdnn[testing]'") from None
    return found


def _point_strategy(inputs):
    """One strategy for the whole point: the strategies' draws, None for the examples."""
    from hypothesis import strategies as st
    return st.tuples(*(x if is_strategy(x) else st.just(None) for x in inputs))


def _seed(drawn, seed):
    """The seed of everything else the check draws at a point (cotangents, directions, the
    examples' values): a function of the drawn values, so hypothesis sees one outcome per
    input and shrinks the input alone."""
    import jax
    import numpy as np
    code = seed
    for leaf in jax.tree.leaves(drawn):
        a = np.ascontiguousarray(np.asarray(leaf))
        code = zlib.crc32(str((a.shape, a.dtype.str)).encode() + a.tobytes(), code)
    return code


def _where(report):
    return report.finding.bug, report.finding.leaf, report.finding.witness


def search(check, inputs, draws, seed, shrink):
    """Run ``check(drawn, seed) -> Report`` (one point) over hypothesis's draws; the list of
    reports, the last the failing one if any. Standalone, hypothesis shrinks a failure to the
smallest input that fails with the same class in the same leaf (another class there counts as
no failure, so the diagnosis stays the first one's)."""
    found = hypothesis()
    point = _point_strategy(inputs)
    reports = []
    if found.control.currently_in_test_context():
        data = found.control.current_build_context().data
        for _ in range(draws):
            drawn = data.draw(point)
            reports.append(check(drawn, _seed(drawn, seed)))
            if reports[-1].finding is not None:
                break
        return reports
    failures = []
    phases = list(found.Phase) if shrink else [found.Phase.explicit, found.Phase.generate]

    @found.seed(seed)
    @found.settings(max_examples=draws, deadline=None, database=None, phases=phases,
                    suppress_health_check=[found.HealthCheck.too_slow,
                                           found.HealthCheck.data_too_large],
                    report_multiple_bugs=False)
    @found.given(point)
    def one(drawn):
        report = check(drawn, _seed(drawn, seed))
        f = report.finding
        if f is not None and (not failures or (f.bug, f.leaf, f.witness) == _where(failures[0])):
            failures.append(report._replace(draws=len(reports) + 1) if not failures else
                            report._replace(draws=failures[0].draws))
            raise AssertionError(str(report))
        reports.append(report._replace(finding=None) if f is not None else report)

    try:
        one()
    except Exception:  # noqa: BLE001 - hypothesis re-raises the shrunk failure (or a flaky one)
        if not failures:
            raise
        return reports[:failures[0].draws - 1] + [failures[-1]]
    if len(reports) < draws:
        raise OptionError(f"hypothesis ran {len(reports)} examples of the {draws} asked: the "
                          f"strategies give too few distinct inputs; ask for fewer draws")
    return reports
