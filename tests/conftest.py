"""Shared test set-up: x64 on, hypothesis profiles, and the figures reported at the end.

x64 is enabled for the whole session so float64 tests really run in float64; float32 tests build
float32 arrays explicitly and assert that results stay float32. Rank promotion raises and dtype
promotion is strict, so neither a misshapen bias nor a mixed-dtype expression can pass by being
broadcast or promoted. Tolerances live in
``tolerances.py``, strategies in ``strategies.py``.

Hypothesis profiles, chosen by ``JAXDNN_HYPOTHESIS_PROFILE``:

* ``dev`` (default): few examples, for quick iteration;
* ``ci``: the fuller run ``.ci/run`` uses.
"""

import os

import jax
import report
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)
# As equinox's suite: a b of shape (n,) where (n, 1) was meant, or a float64 constant leaking
# into a float32 step, fails at once instead of broadcasting or promoting quietly.
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")
# The jaxdnn command (in-process and in subprocesses) compiles afresh, into no user's cache; the
# cache's own tests choose a folder.
os.environ["JAXDNN_CACHE_DIR"] = "off"

settings.register_profile(
    "dev", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("JAXDNN_HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config):
    config.pluginmanager.register(report, "jaxdnn-report")
