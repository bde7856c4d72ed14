"""``jaxdnn check --layer module:object``: a per-leaf table, exit 0 on a correct pair, 1 with the
class and counterexample on a wrong one, the first line before the work."""

import os
import pathlib
import subprocess
import sys
import time

from jaxdnn.app.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYER = """
import jax.numpy as jnp
import numpy as np


class Gated:
    inputs = (np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32))

    @staticmethod
    def forward(a, b):
        s = 1 / (1 + jnp.exp(-b))
        return a * s, (a, s)

    @staticmethod
    def backward(d, cache):
        a, s = cache
        return d * s, d * a * s * {factor}
"""


def _module(tmp_path, monkeypatch, factor):
    (tmp_path / "mylayer.py").write_text(LAYER.format(factor=factor))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "mylayer", raising=False)


def test_a_correct_layer_prints_its_table_and_exits_0(tmp_path, monkeypatch, capsys):
    _module(tmp_path, monkeypatch, "(1 - s)")
    assert main(["check", "--layer", "mylayer:Gated", "--draws", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("checking mylayer:Gated")
    assert "vjp (bound)" in out and "d1 " in out and "verified to" in out


def test_a_wrong_layer_exits_1_naming_class_and_counterexample(tmp_path, monkeypatch, capsys):
    _module(tmp_path, monkeypatch, "(1 + s)")  # the sign of s in s' = s (1 - s)
    assert main(["check", "--layer", "mylayer:Gated", "--draws", "2"]) == 1
    captured = capsys.readouterr()
    assert "formula: d1[" in captured.out and "counterexample" in captured.out
    assert "jaxdnn: check failed: formula in d1" in captured.err


def test_an_object_without_the_contract_is_one_line(tmp_path, monkeypatch, capsys):
    _module(tmp_path, monkeypatch, "1")
    assert main(["check", "--layer", "mylayer:np"]) == 2
    assert "has no forward, backward, inputs" in capsys.readouterr().err


def test_the_first_line_comes_before_the_work(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "(1 - s)")
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    start = time.monotonic()
    with subprocess.Popen([sys.executable, "-m", "jaxdnn.app.cli", "check", "--layer",
                           "mylayer:Gated", "--draws", "1"], stdout=subprocess.PIPE, text=True,
                          env=env, cwd=tmp_path) as process:
        first = process.stdout.readline()
        elapsed = time.monotonic() - start
        process.stdout.read()
    assert first.startswith("checking mylayer:Gated") and process.returncode == 0
    assert elapsed < 4.0, f"first line after {elapsed:.1f} s"


BROKEN = """
import jax.numpy as jnp
import numpy as np


class NoCache:  # the forward forgot its cache
    inputs = (np.zeros((4, 5), np.float32),)
    forward = staticmethod(lambda x: jnp.tanh(x))
    backward = staticmethod(lambda d, c: d * (1 - jnp.tanh(c) ** 2))


class Raises:  # the backward multiplies the wrong way round
    inputs = (np.zeros((3, 4), np.float32), np.zeros((4, 5), np.float32))
    forward = staticmethod(lambda W, x: (W @ x, (W, x)))
    backward = staticmethod(lambda d, c: (d @ c[1], c[0].T @ d))
"""


def test_a_pair_that_breaks_its_contract_or_raises_is_one_line_and_exit_2(tmp_path, monkeypatch,
                                                                          capsys):
    (tmp_path / "broken.py").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "broken", raising=False)
    for name, message in (("NoCache", "the forward must return (output, cache); it returned an "
                                      "array of shape (4, 5)"),
                          ("Raises", "your backward raised TypeError: dot_general")):
        assert main(["check", "--layer", f"broken:{name}", "--draws", "2"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("jaxdnn: error: ") and message in err[0], err
