"""Shared test set-up: x64 on, hypothesis profiles, and the figures reported at the end.

x64 is enabled for the whole session so float64 tests really run in float64; float32 tests build
float32 arrays explicitly and assert that results stay float32. Tolerances live in
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
# The jaxdnn command (in-process and in subprocesses) compiles afresh, into no user's cache; the
# cache's own tests choose a folder.
os.environ["JAXDNN_CACHE_DIR"] = "off"

settings.register_profile(
    "dev", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("JAXDNN_HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config):
    config.pluginmanager.register(report, "jaxdnn-report")
