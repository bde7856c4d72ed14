"""The README's example runs as written."""

import pathlib
import re

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_trains():
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    namespace = {}
    exec(compile(block, str(README), "exec"), namespace)
    params, step, X, Y = (namespace[k] for k in ("params", "step", "X", "Y"))
    _, final_cost = step(params, X, Y)
    assert np.isfinite(final_cost) and final_cost < 0.5  # from about 0.69 at initialisation


def test_readme_checkpoint_example_runs(tmp_path, monkeypatch):
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
                 if "load_checkpoint" in b)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(block, str(README), "exec"), namespace)
    state, costs, more = (namespace[k] for k in ("state", "costs", "more"))
    assert state.iteration == 1000 and len(costs) == 500 and len(more) == 500
    assert more[-1] < costs[0]


def test_readme_course_assignments_example_runs(monkeypatch, capsys):
    root = README.parent
    if not all((root / "datasets" / f).exists()
               for f in ("train_catvnoncat.h5", "test_catvnoncat.h5")):
        pytest.skip(f"the course's cat files are not in {root / 'datasets'}")
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
                 if "logistic.model" in b)
    monkeypatch.chdir(root)
    namespace = {}
    exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "train accuracy: 99.04306220095694 %" in out and "test accuracy: 70.0 %" in out
    assert namespace["grads"].keys() == {"dW1", "db1", "dW2", "db2"}
    assert namespace["d"]["w"].shape == (12288, 1) and out.rstrip().endswith("0.9075")


def test_readme_softmax_example_runs():
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
                 if 'output="softmax"' in b)
    namespace = {}
    exec(compile(block, str(README), "exec"), namespace)
    assert namespace["costs"][-1] < namespace["costs"][0] / 10
    assert namespace["labels"].shape == (1, 200)


def test_readme_numbering_example_runs():
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
                 if "dA_from=0" in b)
    namespace = {}
    exec(compile(block, str(README), "exec"), namespace)
    grads = namespace["grads"]
    assert sorted(k for k in grads if k.startswith("dA")) == ["dA0", "dA1"]
    assert grads["dA0"].shape == (3, 5)


def test_readme_l2_example_runs():
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
                 if "lambd=0.7" in b)
    namespace = {}
    exec(compile(block, str(README), "exec"), namespace)
    assert namespace["costs"][-1] < namespace["costs"][0]


def test_readme_dropout_example_runs():
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
                 if "keep_prob=0.8" in b)
    namespace = {}
    exec(compile(block, str(README), "exec"), namespace)
    assert namespace["costs"][-1] < namespace["costs"][0]
    assert len(namespace["caches"][0]) == 3  # the mask travels in the cache
