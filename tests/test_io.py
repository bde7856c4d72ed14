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
package = types.ModuleType("jaxdnn")  # load jaxdnn.io.models alone: starts fast
package.__path__ = [sys.argv[2]]
sys.modules["jaxdnn"] = package
from jaxdnn.io.models import save_model, write_model

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
                                 stdout=subprocess.PIPE, text=True, start_new_session=True)
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


# --- hostile files: refused from their declared sizes, before anything is allocated ----------

def _npy_bytes(value):
    import io

    buffer = io.BytesIO()
    np.save(buffer, value)
    return buffer.getvalue()


def _model_members(**extra):
    """A valid small model's members as ``.npy`` bytes, then ``extra`` raw members."""
    params = initialize_parameters_deep([3, 2, 1], numpy_seed=0)
    meta = {"format_version": 1, "layer_dims": [3, 2, 1]}
    files = {f"{name}.npy": _npy_bytes(np.asarray(value)) for name, value in params.items()}
    files["__metadata__.npy"] = _npy_bytes(np.array(json.dumps(meta)))
    return {**files, **extra}


def _zip(path, files, compression=None):
    import zipfile

    with zipfile.ZipFile(path, "w", compression or zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _npy_header(shape, descr="<f8"):
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def _nested_json(depth):
    return '{"format_version": 1, "x": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


HOSTILE_MODELS = {
    # a member 100 million layers away: named briefly, without listing the missing keys
    "huge layer index": (lambda: _model_members(**{"W100000000.npy": _model_members()["W1.npy"]}),
                         r"missing \['W3', 'b3', 'W4', 'b4'\] and 199,999,991 more"),
    # a member whose header declares 10**12 elements but holds 16 bytes
    "huge declared shape": (lambda: _model_members(**{"W1.npy": _npy_header((10**6, 10**6))
                                                     + bytes(16)}),
                            r"'W1' declares shape \(1000000, 1000000\)"),
    "deep metadata": (lambda: _model_members(**{"__metadata__.npy": _npy_bytes(
        np.array(_nested_json(100000)))}), "corrupt __metadata__"),
    "structured dtype": (lambda: _model_members(**{"b1.npy": _npy_bytes(
        np.zeros((2, 1), [("a", "<f8")]))}), r"'b1' has dtype"),
}


@pytest.mark.parametrize("case", HOSTILE_MODELS)
def test_hostile_model_files_are_refused_by_name(tmp_path, case):
    make, match = HOSTILE_MODELS[case]
    path = _zip(tmp_path / "model.npz", make())
    with pytest.raises(DataError, match=match) as info:
        load_model(path)
    message = str(info.value)
    assert "model.npz" in message and "\n" not in message and len(message) < 300


def test_a_zip_bomb_is_refused_from_its_declared_sizes(tmp_path, monkeypatch):
    """A member that inflates far beyond its compressed size: its declared size is checked
    against the limit (lowered here, so the test stays small) before anything is inflated."""
    import zipfile

    import jaxdnn.core.limits

    big = {"W1": np.zeros((1, 3 * 10**5)), "b1": np.zeros((1, 1))}
    path = tmp_path / "model.npz"
    save_model(path, big)
    with zipfile.ZipFile(path) as stored:
        members = {name: stored.read(name) for name in stored.namelist()}
    _zip(path, members, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 20_000  # 2.4 MB of zeros
    load_model(path)  # within the limit
    monkeypatch.setattr(jaxdnn.core.limits, "MAX_FILE_BYTES", 10**6)
    with pytest.raises(DataError, match=r"expand to 2,40\d,\d+ bytes, above the limit of "
                                        r"1,000,000 \(MAX_FILE_BYTES\)"):
        load_model(path)


def test_big_endian_arrays_load_in_native_byte_order(tmp_path, params):
    from jaxdnn import predict_proba

    path = tmp_path / "model.npz"
    save_model(path, params)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(path, **{k: v.astype(v.dtype.newbyteorder(">")) if v.dtype.kind == "f" else v
                      for k, v in arrays.items()})
    loaded, _ = load_model(path)
    for k in params:
        assert loaded[k].dtype.isnative
        np.testing.assert_array_equal(loaded[k], params[k])
    np.testing.assert_array_equal(predict_proba(np.ones((6, 2)), loaded),
                                  predict_proba(np.ones((6, 2)), params))


def test_a_fifo_is_refused_without_waiting(tmp_path):
    import os

    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"model.npz: not a regular file \(a FIFO\)"):
        load_model(fifo)


@pytest.mark.parametrize("path", [None, 3, ["model.npz"]])
def test_a_path_of_the_wrong_type_is_refused(tmp_path, params, path):
    from jaxdnn import InputTypeError, init_train_state, load_checkpoint, save_checkpoint

    for call in (lambda: load_model(path), lambda: save_model(path, params),
                 lambda: load_checkpoint(path, None),
                 lambda: save_checkpoint(path, init_train_state(params), np.zeros(0))):
        with pytest.raises(InputTypeError, match="path must be a path"):
            call()


def test_deeply_nested_metadata_is_refused_when_saving(tmp_path, params):
    from jaxdnn import InputTypeError

    nested = {}
    for _ in range(100000):
        nested = {"a": nested}
    with pytest.raises(InputTypeError, match="metadata must be JSON-serialisable"):
        save_model(tmp_path / "model.npz", params, nested)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("classes", [5, {"a": 1}, ["cat"], [1, 2], None])
def test_recorded_classes_of_the_wrong_type_fall_back_to_default_names(tmp_path, params,
                                                                       classes):
    from jaxdnn.app import models as run

    save_model(tmp_path / "model.npz", params, {"classes": classes})
    assert run.load(tmp_path / "model.npz").classes == ["class 0", "class 1"]


@pytest.mark.parametrize("make", [
    lambda path: path.write_bytes(__import__("pickle").dumps({"W1": [1.0]})),
    lambda path: np.save(open(path, "wb"), np.array([{"W1": 1}], dtype=object),
                         allow_pickle=True),
    lambda path: np.savez(path, W1=np.array([object()], dtype=object)),
])
def test_a_file_that_is_not_a_model_is_never_advised_to_be_unpickled(tmp_path, make):
    path = tmp_path / "model.npz"
    make(path)
    with pytest.raises(DataError, match="not a jaxdnn model file") as info:
        load_model(path)
    assert "pickle" not in str(info.value).lower()
