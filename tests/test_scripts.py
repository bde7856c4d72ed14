"""The scripts run: each one's --help (its imports), and bench_checks for one tiny round."""

import os
import pathlib
import subprocess
import sys

import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parents[1] / "scripts"


def run(*argv):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_script_help(script):
    result = run(str(SCRIPTS / script), "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_bench_checks_runs_one_round():
    result = run(str(SCRIPTS / "bench_checks.py"), "--rounds", "1", "--steps", "1")
    assert result.returncode == 0, result.stderr
    assert "public (checked) / kernels (unchecked): median" in result.stdout
