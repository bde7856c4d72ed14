"""Model files: round trip without pickle, atomic replacement, foreign and corrupt files refused."""

import json

import numpy as np
import pytest

from jaxdnn import DataError, initialize_parameters_deep, load_model, save_model
from jaxdnn.io.models import Items, Maybe


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
                          __metadata__=np.array(json.dumps({"format_version": 1, "dtype": "float64",
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
import itertools, os, sys, types
import numpy as np
package = types.ModuleType("jaxdnn")  # load jaxdnn.io.models alone
package.__path__ = [sys.argv[2]]
sys.modules["jaxdnn"] = package
from jaxdnn.io.models import save_model, write_model

def naive_save(path, parameters, metadata):  # the control: no temporary file, no rename
    with open(path, "wb") as f:
        write_model(f, parameters, metadata)

save = naive_save if sys.argv[3] == "naive" else save_model
models = [{"W1": np.full((600, 600), float(v)), "b1": np.full((600, 1), float(v))}
          for v in (0, 1)]
for _ in sys.stdin:  # one saver per line, forked from this process: the imports are paid once
    pid = os.fork()
    if pid == 0:
        for i in itertools.count():
            save(sys.argv[1], models[i % 2], {"value": i % 2})
            if i == 0:
                print("ready", os.getpid(), flush=True)
    os.waitpid(pid, 0)  # until the test's SIGKILL ends it
    print("dead", flush=True)
"""


def _kill_while_saving(tmp_path, mode, kills=50):
    """SIGKILL a process that keeps rewriting one model file; returns what each load gave."""
    import os
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
    with subprocess.Popen([sys.executable, "-c", _SAVER, str(path), package, mode],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as server:
        for _ in range(kills):
            server.stdin.write("save\n")
            server.stdin.flush()
            ready, pid = server.stdout.readline().split()
            assert ready == "ready"
            try:
                time.sleep(rng.uniform(0, 0.05))  # one save takes a few ms: kills land mid-write
            finally:  # even on Ctrl-C: the server waits for its saver
                os.kill(int(pid), signal.SIGKILL)
            assert server.stdout.readline().strip() == "dead"
            try:
                params, meta = load_model(path)
            except DataError:
                outcomes.append("broken")
                continue
            value = meta["value"]
            whole = (params["W1"] == value).all() and (params["b1"] == value).all()
            outcomes.append(value if whole else "mixed")
        server.stdin.close()
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


# --- the metadata: numbers bounded as they are parsed, recorded facts checked ----------------

def _rewrite_metadata(path, edit):
    """The model file ``path`` with its metadata replaced by ``edit(meta)``: a dict, or the
    JSON text itself."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    new = edit(json.loads(str(arrays["__metadata__"])))
    arrays["__metadata__"] = np.array(new if isinstance(new, str) else json.dumps(new))
    np.savez(path, **arrays)
    return path


def _with_entry(text):
    """An edit adding the raw JSON ``"x": text`` to the metadata."""
    return lambda meta: json.dumps(meta)[:-1] + f', "x": {text}}}'


CRAFTED_METADATA = {
    "a 5000-digit integer": (_with_entry("9" * 5000),
                             r"corrupt __metadata__ entry \(it holds an integer of 5000 digits, "
                             r"beyond 9,223,372,036,854,775,807 \(MAX_RECORDED_INTEGER\)\)"),
    "an integer past int64": (_with_entry(str(2**63)), "an integer of 19 digits, beyond"),
    "NaN": (_with_entry("NaN"), r"it holds NaN, which is not a number"),
    "-Infinity": (_with_entry("-Infinity"), r"it holds -Infinity, which is not a number"),
    "1e400": (_with_entry("1e400"), r"it holds the number 1e400, beyond the range of a float"),
    "a 5000-digit format version": (
        lambda meta: json.dumps(meta).replace('"format_version": 1', '"format_version": '
                                              + "1" * 5000), "an integer of 5000 digits"),
    "dtype that is not the arrays'": (lambda meta: {**meta, "dtype": "float32"},
                                      r"the arrays are float64 but the metadata records dtype "
                                      r"'float32'"),
    "no dtype": (lambda meta: {k: v for k, v in meta.items() if k != "dtype"},
                 r"metadata entry dtype is missing; expected a string"),
    "dtype a number": (lambda meta: {**meta, "dtype": 64},
                       r"metadata entry dtype is 64; expected a string"),
    "layer sizes as booleans": (lambda meta: {**meta, "layer_dims": [True, True]},
                                r"metadata entry layer_dims\[0\] is True; expected an integer"),
    "layer sizes as text": (lambda meta: {**meta, "layer_dims": "[1, 1]"},
                            r"metadata entry layer_dims is '\[1, 1\]'; expected a list of 2 to"),
    "no layer sizes": (lambda meta: {k: v for k, v in meta.items() if k != "layer_dims"},
                       r"metadata entry layer_dims is missing"),
}


@pytest.mark.parametrize("case", CRAFTED_METADATA)
def test_crafted_metadata_is_refused_in_one_line_naming_the_file(tmp_path, case):
    edit, match = CRAFTED_METADATA[case]
    path = tmp_path / "model.npz"
    save_model(path, {"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))})
    _rewrite_metadata(path, edit)
    with pytest.raises(DataError, match=match) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 300


CRAFTED_CHECKPOINTS = {
    "iteration of 5000 digits": (
        lambda meta: json.dumps(meta).replace('"iteration": 3', '"iteration": ' + "3" * 5000),
        "an integer of 5000 digits"),
    "iteration beyond the costs a checkpoint may hold": (
        lambda meta: {**meta, "iteration": 2**40},
        r"metadata entry iteration is 1099511627776; expected an integer in \[0, 134217728\]"),
    "iteration text": (lambda meta: {**meta, "iteration": "3"},
                       r"metadata entry iteration is '3'; expected an integer"),
    "no count of optimiser arrays": (
        lambda meta: {k: v for k, v in meta.items() if k != "opt_state_leaves"},
        r"metadata entry opt_state_leaves is missing"),
    "a negative count of optimiser arrays": (lambda meta: {**meta, "opt_state_leaves": -1},
                                             r"opt_state_leaves is -1; expected an integer in"),
}


@pytest.mark.parametrize("case", CRAFTED_CHECKPOINTS)
def test_crafted_checkpoint_metadata_is_refused(tmp_path, params, case):
    from jaxdnn import init_train_state, load_checkpoint, save_checkpoint

    edit, match = CRAFTED_CHECKPOINTS[case]
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, init_train_state(params)._replace(iteration=3), np.ones(3))
    load_checkpoint(path, None)
    _rewrite_metadata(path, edit)
    with pytest.raises(DataError, match=match) as info:
        load_checkpoint(path, None)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize("metadata, match", [
    ({"n": 10**30}, "an integer of 31 digits"),
    ({"n": [-(2**63)]}, "an integer of 19 digits"),
    ({"x": float("nan")}, "Out of range float values are not JSON compliant"),
])
def test_save_refuses_metadata_that_load_would_refuse(tmp_path, params, metadata, match):
    from jaxdnn import InputTypeError

    with pytest.raises(InputTypeError, match=match):
        save_model(tmp_path / "model.npz", params, metadata)
    assert not list(tmp_path.iterdir())
    save_model(tmp_path / "model.npz", params, {"n": 2**63 - 1, "m": -(2**63 - 1)})
    assert load_model(tmp_path / "model.npz")[1]["n"] == 2**63 - 1


def test_the_writer_and_the_reader_share_the_limit_on_recorded_costs(tmp_path, params,
                                                                    monkeypatch):
    """A checkpoint past MAX_COSTS (lowered here) is refused when saving, before anything is
    written, and when loading one written under a higher limit."""
    import jaxdnn.core.limits
    from jaxdnn import OptionError, init_train_state, load_checkpoint, save_checkpoint

    path = tmp_path / "checkpoint.npz"
    state = init_train_state(params)._replace(iteration=11)
    save_checkpoint(path, state, np.ones(11))
    monkeypatch.setattr(jaxdnn.core.limits, "MAX_COSTS", 10)
    with pytest.raises(DataError, match=r"iteration is 11; expected an integer in \[0, 10\]"):
        load_checkpoint(path, None)
    with pytest.raises(OptionError, match=r"at most 10 \(MAX_COSTS\); this one is at iteration "
                                          r"11"):
        save_checkpoint(tmp_path / "new.npz", state, np.ones(11))
    assert not (tmp_path / "new.npz").exists()
    save_checkpoint(tmp_path / "new.npz", state._replace(iteration=10), np.ones(10))
    assert load_checkpoint(tmp_path / "new.npz", None)[0].iteration == 10


def test_the_writer_refuses_a_file_the_reader_would_refuse(tmp_path, params, monkeypatch):
    import jaxdnn.core.limits

    monkeypatch.setattr(jaxdnn.core.limits, "MAX_FILE_BYTES", 200)
    with pytest.raises(DataError, match=r"the arrays to save take \d[\d,]* bytes, above the "
                                         r"limit of 200 \(MAX_FILE_BYTES\)"):
        save_model(tmp_path / "model.npz", params)
    assert not list(tmp_path.iterdir())


def test_every_checkpoint_of_the_largest_network_fits_the_file_limit():
    """Three float64 copies of MAX_PARAMETERS (parameters, two optimiser moments) and
    MAX_COSTS float64 costs: a checkpoint the writer may write and the reader reads back."""
    import jaxdnn.core.limits as limits

    assert 3 * 8 * limits.MAX_PARAMETERS + 8 * limits.MAX_COSTS < limits.MAX_FILE_BYTES


def test_a_model_file_beyond_the_memory_available_is_refused_before_reading(tmp_path, params,
                                                                           monkeypatch):
    import jaxdnn.core.limits

    save_model(tmp_path / "model.npz", params)
    monkeypatch.setattr(jaxdnn.core.limits, "available_memory", lambda: 100)
    with pytest.raises(DataError, match=r"model\.npz: reading its 5 arrays takes 0.\d+ MiB \(as "
                                        r"stored, then in native byte order\), more than"):
        load_model(tmp_path / "model.npz")


# --- checked_metadata: the schema check the application's settings use ----------------------

SCHEMA = {"run": {"iterations": range(0, 101), "rate": float, "name": str, "x64": bool,
                  "output": ("sigmoid", "softmax"), "seed": (None, int)},
          "curves": Maybe(Items(Items(float, 2))), "classes": Maybe(Items(str, range(2, 5)))}
GOOD = {"run": {"iterations": 100, "rate": 0.5, "name": "a", "x64": False, "output": "softmax",
                "seed": None}, "curves": [[1, 0.5], [2.0, 0.25]], "other": object()}


def test_checked_metadata_returns_what_fits():
    from jaxdnn.io.models import checked_metadata

    assert checked_metadata(GOOD, SCHEMA, "m.npz") is GOOD
    assert checked_metadata({**GOOD, "classes": ["a", "b"], "run": {**GOOD["run"], "seed": 3}},
                            SCHEMA, "m.npz")


def _entry(value, *path):
    meta = json.loads(json.dumps({k: v for k, v in GOOD.items() if k != "other"}))
    where = meta
    for key in path[:-1]:
        where = where[key]
    if value is KeyError:
        del where[path[-1]]
    else:
        where[path[-1]] = value
    return meta


@pytest.mark.parametrize("meta, message", [
    (_entry(101, "run", "iterations"), "metadata entry run.iterations is 101; expected an "
                                       "integer in [0, 100]"),
    (_entry(True, "run", "iterations"), "run.iterations is True; expected an integer in"),
    (_entry(5.0, "run", "iterations"), "run.iterations is 5.0; expected an integer in"),
    (_entry("x", "run", "rate"), "run.rate is 'x'; expected a finite number"),
    (_entry(float("inf"), "run", "rate"), "run.rate is inf; expected a finite number"),
    (_entry(1, "run", "x64"), "run.x64 is 1; expected true or false"),
    (_entry("tanh", "run", "output"), "run.output is 'tanh'; expected 'sigmoid' or 'softmax'"),
    (_entry(1.5, "run", "seed"), "run.seed is 1.5; expected None or an integer"),
    (_entry(KeyError, "run", "name"), "run.name is missing; expected a string"),
    (_entry([[1, 2, 3]], "curves"),
     "curves[0] is [1, 2, 3]; expected a list of 2 entries, each a finite number"),
    (_entry([[1, "x"]], "curves"), "curves[0][1] is 'x'; expected a finite number"),
    (_entry(["a"], "classes"),
     "classes is [\"a\"]; expected a list of 2 to 4 entries, each a string"),
    (_entry([1, 2], "run"), "run is [1, 2]; expected an object"),
    ([1], "m.npz: metadata is [1]; expected an object"),
    (_entry("x" * 100, "run", "name") | {"run": "y" * 100}, "run is 'yyyyyyyyyyyyyyyyyyyy"),
])
def test_checked_metadata_names_the_entry_and_what_it_should_be(meta, message):
    from jaxdnn.io.models import checked_metadata

    with pytest.raises(DataError) as info:
        checked_metadata(meta, SCHEMA, "m.npz")
    text = str(info.value)
    assert text.startswith("m.npz: ") and message in text and len(text) < 200, text
