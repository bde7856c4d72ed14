"""Model files: round trip without pickle, atomic replacement, foreign and corrupt files refused."""

import json

import numpy as np
import pytest

from jaxdnn import DataError, initialize_parameters_deep, load_model, save_model


@pytest.fixture
def params():
    return initialize_parameters_deep([6, 3, 1], numpy_seed=0)


def test_round_trip(tmp_path, params):
    path = tmp_path / "model.npz"
    save_model(path, params, {"hidden_activation": "tanh"})
    loaded, meta = load_model(path)
    assert set(loaded) == set(params)
    for k in params:
        np.testing.assert_array_equal(loaded[k], params[k])
    assert meta["hidden_activation"] == "tanh" and meta["layer_dims"] == [6, 3, 1]
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert json.loads(str(data["__metadata__"]))["format_version"] == 1


def test_save_replaces_and_leaves_no_temporary_files(tmp_path, params):
    path = tmp_path / "model.npz"
    save_model(path, params)
    save_model(path, {k: v + 1 for k, v in params.items()})
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    np.testing.assert_array_equal(load_model(path)[0]["b1"], np.ones((3, 1)))


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("make, match", [
    (lambda p: p, "no such model file"),
    (lambda p: _write_npz(p, x=np.ones(3)), "no __metadata__ entry"),
    (lambda p: (np.save(open(p, "wb"), np.ones(3)), p)[1], "a single array, not an .npz"),
    (lambda p: _write_npz(p, W1=np.ones((1, 2)), b1=np.ones((1, 1)),
                          __metadata__=np.array("[1, 2]")), "not a JSON object"),
    (lambda p: (p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64), p)[1], "not a jaxdnn model"),
    (lambda p: _write_npz(p, W1=np.ones((1, 2)), b1=np.ones((1, 1)),
                          __metadata__=np.array("{not json")), "corrupt __metadata__"),
    (lambda p: _write_npz(p, W1=np.ones((1, 2)), b1=np.ones((1, 1)),
                          __metadata__=np.array(json.dumps({"format_version": 99}))),
     "format version 99"),
    (lambda p: _write_npz(p, W1=np.ones((1, 2)), b1=np.ones((2, 1)),
                          __metadata__=np.array(json.dumps({"format_version": 1}))),
     r"b1 has shape \(2, 1\), expected \(1, 1\)"),
    (lambda p: _write_npz(p, W1=np.ones((1, 2)), b1=np.ones((1, 1)),
                          __metadata__=np.array(json.dumps({"format_version": 1,
                                                            "layer_dims": [3, 1]}))),
     r"layer sizes \[2, 1\] but the metadata records \[3, 1\]"),
    (lambda p: _write_npz(p, W1=np.ones((1, 2), int), b1=np.ones((1, 1)),
                          __metadata__=np.array(json.dumps({"format_version": 1,
                                                            "layer_dims": [2, 1]}))),
     r"W1 has dtype int64; expected a floating-point array"),
])
def test_foreign_or_corrupt_files_are_refused(tmp_path, make, match):
    path = make(tmp_path / "model.npz")
    with pytest.raises(DataError, match=match) as info:
        load_model(path)
    assert "model.npz" in str(info.value)


def test_truncated_file_is_refused(tmp_path, params):
    path = tmp_path / "model.npz"
    save_model(path, params)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="not a jaxdnn model file"):
        load_model(path)


def test_object_arrays_are_never_unpickled(tmp_path):
    path = tmp_path / "model.npz"
    np.savez(path, W1=np.array([object()], dtype=object))
    with pytest.raises(DataError, match="not a jaxdnn model file"):
        load_model(path)


_SAVER = """
import itertools, sys, types
import numpy as np
package = types.ModuleType("jaxdnn")  # load jaxdnn.io alone: numpy only, starts fast
package.__path__ = [sys.argv[2]]
sys.modules["jaxdnn"] = package
from jaxdnn.io import save_model, write_model

def naive_save(path, parameters, metadata):  # the control: no temporary file, no rename
    with open(path, "wb") as f:
        write_model(f, parameters, metadata)

save = naive_save if sys.argv[3] == "naive" else save_model
models = [{"W1": np.full((600, 600), float(v)), "b1": np.full((600, 1), float(v))}
          for v in (0, 1)]
for i in itertools.count():
    save(sys.argv[1], models[i % 2], {"value": i % 2})
    if i == 0:
        print("ready", flush=True)
"""


def _kill_while_saving(tmp_path, mode, kills=50):
    """SIGKILL a process that keeps rewriting one model file; returns what each load gave."""
    import pathlib
    import random
    import signal
    import subprocess
    import sys
    import time

    package = str(pathlib.Path(__file__).resolve().parents[1] / "jaxdnn")
    path = tmp_path / "model.npz"
    rng = random.Random(0)
    outcomes = []
    for _ in range(kills):
        child = subprocess.Popen([sys.executable, "-c", _SAVER, str(path), package, mode],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.05))  # one save takes a few ms: kills land mid-write
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        try:
            params, meta = load_model(path)
        except DataError:
            outcomes.append("broken")
            continue
        value = meta["value"]
        whole = (params["W1"] == value).all() and (params["b1"] == value).all()
        outcomes.append(value if whole else "mixed")
    return outcomes


def test_save_killed_at_random_moments_always_leaves_a_whole_model(tmp_path):
    outcomes = _kill_while_saving(tmp_path, "atomic")
    assert set(outcomes) == {0, 1}  # always the old or the new model, both seen


def test_kill_test_catches_a_non_atomic_save(tmp_path):
    """Control: the same kills against a plain overwrite do leave broken files."""
    assert "broken" in _kill_while_saving(tmp_path, "naive", kills=30)
