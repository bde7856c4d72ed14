"""Streamed mini-batch training (jaxdnn.stream): equal to fit on the data in memory, with
bounded memory, and clear errors for bad files."""

import subprocess
import sys
import textwrap
import threading
from types import SimpleNamespace

import h5py
import jax
import numpy as np
import optax
import pytest
from h5_storage import OUTSIDE, SAYS, STORAGE
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import STREAM_RTOL

import jaxdnn
from jaxdnn import DataError, InputTypeError, OptionError, ShapeError, TrainingDiverged
from jaxdnn.io import examples as examples_module
from jaxdnn.io.examples import H5Examples
from jaxdnn.train import stream
from jaxdnn.train.stream import fit_stream


def _write(path, **datasets):
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f[key] = value
    return path


@pytest.fixture
def h5file(tmp_path):
    """A file of 103 examples: 4 x 3 x 3 uint8 images, float32 rows of 36 (also chunked and
    compressed), labels as 0/1, class ids 0..2 and one-hot rows."""
    rng = np.random.default_rng(0)
    m = 103
    ids = rng.integers(0, 3, m)
    path = _write(tmp_path / "data.h5", pixels=rng.integers(0, 256, (m, 4, 3, 3), np.uint8),
                  rows=rng.standard_normal((m, 36)).astype(np.float32),
                  labels=(rng.random(m) > 0.5).astype(np.int64), ids=ids,
                  one_hot=np.eye(3, dtype=np.uint8)[ids])
    with h5py.File(path, "a") as f:
        f.create_dataset("gzip_rows", data=f["rows"][()], chunks=(10, 36), compression="gzip")
    return path


def _parameters(dims, dtype, seed=0):
    params = jaxdnn.initialize_parameters_deep(dims, jax.random.PRNGKey(seed), scheme="he")
    return {k: np.asarray(v, dtype) for k, v in params.items()}


CASES = {  # x, y, output, classes, options; 103 examples in batches of 16: 6 full + 7 left over
    "pixels, sigmoid, gd": ("pixels", "labels", "sigmoid", 1,
                            dict(learning_rate=0.1)),
    "gzip rows, softmax ids, adam, dropout, L2": ("gzip_rows", "ids", "softmax", 3,
                                             dict(optimizer=optax.adam(0.01), keep_prob=0.8,
                                                  lambd=0.3)),
    "rows, one-hot, momentum": ("rows", "one_hot", "softmax", 3,
                                dict(learning_rate=0.05, momentum=0.9)),
}


def _compare(fitted, streamed, dtype):
    (p1, c1), (p2, c2) = fitted, streamed
    assert len(c1) == len(c2)
    errors = {k: float(np.max(np.abs(np.asarray(p1[k]) - np.asarray(p2[k]))) /
                       np.max(np.abs(np.asarray(p1[k])))) for k in p1}
    errors["costs"] = float(np.max(np.abs(c1 - c2)) / np.max(np.abs(c1)))
    bad = {k: e for k, e in errors.items() if not e <= STREAM_RTOL[np.dtype(dtype)]}
    assert not bad, f"fit_stream differs from fit: {bad}"


def _both(h5file, case, dtype, chunk_batches=3, epochs=2, **more):
    x, y, output, classes, options = CASES[case]
    examples = H5Examples(h5file, x, y)
    params = _parameters([36, 5, 4, classes], dtype)
    options = dict(options, mini_batch_size=16, num_epochs=epochs, key=jax.random.PRNGKey(3),
                   output=output, **more)
    X, Y = examples.load()
    fitted = jaxdnn.fit(X, Y, params, **options)
    itemsize = np.dtype(dtype).itemsize
    return fitted, fit_stream(examples, params, chunk_bytes=chunk_batches * 16 * 36 * itemsize,
                              **options)


@pytest.mark.parametrize("case", CASES)
def test_streamed_training_equals_fit_in_memory(h5file, case):
    """Chunks of 3 batches (6 full batches: two chunks) and the ragged batch of 7, 2 epochs."""
    _compare(*_both(h5file, case, np.float64), np.float64)


@settings(max_examples=25)
@given(m=st.integers(2, 300), data=st.data(), chunk=st.integers(1, 9), epochs=st.integers(0, 3),
       seed=st.integers(0, 2**32 - 1))
def test_the_blocks_are_random_mini_batches_batches_in_order(m, data, chunk, epochs, seed):
    """The schedule alone (no training), against the course's random_mini_batches: every block
    holds at most ``chunk`` batches of B examples, or the ragged batch alone; their iterations
    follow each other; and epoch e's blocks, in order, are random_mini_batches of epoch e."""
    size = data.draw(st.integers(1, m - 1), label="mini_batch_size")
    key = jax.random.PRNGKey(seed)
    shuffle_key, _ = jax.random.split(key)
    examples = SimpleNamespace(m=m)
    blocks = list(stream._blocks(examples, size, chunk, epochs, shuffle_key))
    per_epoch = -(-m // size)
    assert [first for first, _ in blocks] == list(np.cumsum(
        [0] + [len(columns) for _, columns in blocks])[:-1])
    batches = [batch for _, columns in blocks for batch in columns]
    assert len(batches) == epochs * per_epoch
    for first, columns in blocks:
        assert len(columns) <= chunk
        if columns.shape[1] != size:  # the ragged batch: alone, its epoch's last
            assert columns.shape == (1, m % size) and (first + 1) % per_epoch == 0
    everything = np.arange(m)[None]
    for e in range(epochs):
        expected = jaxdnn.random_mini_batches(everything, everything, size,
                                              jax.random.fold_in(shuffle_key, e))
        got = batches[e * per_epoch:(e + 1) * per_epoch]
        assert [list(b) for b in got] == [list(x[0]) for x, _ in expected]


def _rows_left_sorted(examples, dataset, columns, dtype):
    k, b = columns.shape
    sorted_columns = np.sort(columns.ravel())
    return examples.decode(dataset[sorted_columns].reshape(k * b, -1), sorted_columns,
                           dtype).reshape(k, b, -1).transpose(0, 2, 1)


def _labels_left_sorted(examples, columns, classes, dtype):
    k, b = columns.shape
    return original_label_block(examples, np.sort(columns.ravel()).reshape(k, b), classes,
                                dtype)


original_label_block = H5Examples.label_block


@pytest.mark.parametrize("fault, replace", [
    ("rows read in increasing order, not put back", ("read_block", _rows_left_sorted)),
    ("labels of the sorted columns", ("label_block", _labels_left_sorted)),
])
def test_the_equality_catches_batches_out_of_order(h5file, monkeypatch, fault, replace):
    """Fault injection: the cheap shuffle's bugs (a batch's rows or labels in file order) fail
    the comparison with fit."""
    monkeypatch.setattr(H5Examples, *replace)
    with pytest.raises(AssertionError, match="fit_stream differs from fit"):
        _compare(*_both(h5file, "pixels, sigmoid, gd", np.float64), np.float64)


def test_load_scales_pixels_as_flatten_images(tmp_path):
    """Every pixel value, both dtypes: the streamed table is (x / 255).astype(dtype)."""
    x = np.arange(256, dtype=np.uint8).reshape(4, 8, 8, 1).repeat(3, axis=3)
    examples = H5Examples(_write(tmp_path / "p.h5", x=x, y=np.zeros(4)), "x", "y")
    X, Y = examples.load()
    np.testing.assert_array_equal(X, jaxdnn.flatten_images(x))
    assert Y.shape == (1, 4) and (examples.m, examples.n) == (4, 192)
    for dtype in (np.float32, np.float64):
        np.testing.assert_array_equal(examples_module.PIXELS[np.dtype(dtype)][x.reshape(4, -1)],
                                      (x.reshape(4, -1) / 255).astype(dtype))


def test_cost_reports_are_the_epoch_costs(h5file):
    heard = []
    params, costs = fit_stream(H5Examples(h5file, "rows", "labels"), _parameters([36, 3, 1],
                               np.float64), mini_batch_size=10, num_epochs=2,
                               key=jax.random.PRNGKey(0), on_cost=lambda e, c: heard.append((e, c)))
    assert heard == [(0, costs[0])] and len(costs) == 2


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "jaxdnn-prefetch"]


class _Planted(Exception):
    pass


@pytest.mark.parametrize("error", [_Planted, KeyboardInterrupt])
def test_an_error_in_the_prefetch_thread_is_raised_as_itself(h5file, monkeypatch, error):
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise error("planted")
        return original(*args)

    original = H5Examples.read_block
    monkeypatch.setattr(H5Examples, "read_block", failing)
    with pytest.raises(error, match="planted"):
        fit_stream(H5Examples(h5file, "rows", "labels"), _parameters([36, 3, 1], np.float64),
                   mini_batch_size=10, num_epochs=3, key=jax.random.PRNGKey(0), chunk_bytes=1)
    assert len(calls) == 3 and not _prefetch_threads()


def test_an_interrupt_in_the_caller_stops_the_thread(h5file):
    """A KeyboardInterrupt while training (here from on_cost): the reader, waiting to hand over
    its next chunk, is stopped and joined; nothing hangs."""
    def interrupt(epoch, cost):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_stream(H5Examples(h5file, "rows", "labels"), _parameters([36, 3, 1], np.float64),
                   mini_batch_size=10, num_epochs=50, key=jax.random.PRNGKey(0),
                   on_cost=interrupt, chunk_bytes=1)
    assert not _prefetch_threads()


def test_a_non_finite_input_is_named_by_its_example(tmp_path):
    rows = np.ones((40, 6))
    rows[29, 4] = np.nan
    examples = H5Examples(_write(tmp_path / "nan.h5", x=rows, y=np.ones(40)), "x", "y")
    with pytest.raises(DataError, match=r"'x' in .*nan\.h5: example 29 holds nan \(feature 4\)"):
        fit_stream(examples, _parameters([6, 2, 1], np.float64), mini_batch_size=8,
                   num_epochs=1, key=jax.random.PRNGKey(0))
    assert not _prefetch_threads()


def test_a_file_changed_after_opening_is_refused_when_read(tmp_path):
    """The inputs are read again when training starts: another shape there is a DataError,
    raised from the thread as itself, not a numpy broadcasting error."""
    path = _write(tmp_path / "c.h5", x=np.ones((40, 6)), y=np.ones(40))
    examples = H5Examples(path, "x", "y")
    _write(path, x=np.ones((40, 7)), y=np.ones(40))
    with pytest.raises(DataError, match=r"'x' in .*c\.h5 changed since it was opened: "
                                        r"\(40, 7\) float64, was \(40, 6\) float64"):
        fit_stream(examples, _parameters([6, 2, 1], np.float64), mini_batch_size=8,
                   num_epochs=1, key=jax.random.PRNGKey(0))
    with pytest.raises(DataError, match="changed since it was opened"):
        examples.load()
    assert not _prefetch_threads()


@pytest.mark.parametrize("kind", [k for k in STORAGE if "FIFO" not in k])
@pytest.mark.parametrize("key", ["x", "y"])
def test_storage_outside_the_file_or_unwritten_is_refused_when_opened(tmp_path, kind, key):
    """Nothing outside the file is read unless asked for (allow_external=True: then it trains
    as the data it holds); storage never written is refused either way."""
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "s.h5"
    values = {"x": np.arange(80.0).reshape(20, 4), "y": np.ones(20)}
    with h5py.File(path, "w") as f:
        for name, value in values.items():
            if name == key:
                STORAGE[kind](f, name, value, str(tmp_path))
            else:
                f[name] = value
    with pytest.raises(DataError) as info:
        H5Examples(path, "x", "y")
    message = str(info.value)
    assert message.startswith(f"{key!r} in {path}") and SAYS[kind] in message, message
    if kind in OUTSIDE:
        examples = H5Examples(path, "x", "y", allow_external=True)
        np.testing.assert_array_equal(examples.load()[0], values["x"].T)
        fit_stream(examples, _parameters([4, 2, 1], np.float64), mini_batch_size=8,
                   num_epochs=1, key=jax.random.PRNGKey(0))
    else:
        with pytest.raises(DataError, match="ever written"):
            H5Examples(path, "x", "y", allow_external=True)


def test_inputs_moved_outside_the_file_after_opening_are_refused_when_read(tmp_path):
    """The same shape, now in external storage (in a FIFO it would block the reader): refused
    when training opens the file again, before any of it is read."""
    path = _write(tmp_path / "c.h5", x=np.ones((40, 6)), y=np.ones(40))
    examples = H5Examples(path, "x", "y")
    with h5py.File(path, "w") as f:
        STORAGE["external storage"](f, "x", np.ones((40, 6)), str(tmp_path))
        f["y"] = np.ones(40)
    with pytest.raises(DataError, match=r"'x' in .*c\.h5 keeps its data outside the file"):
        fit_stream(examples, _parameters([6, 2, 1], np.float64), mini_batch_size=8,
                   num_epochs=1, key=jax.random.PRNGKey(0))
    assert not _prefetch_threads()


def test_a_file_truncated_while_training_reads_it_is_refused(tmp_path, monkeypatch):
    """The reader's second block is read from a file cut to half its size: HDF5 gives zeros
    for what is missing, without an error; the file's size, smaller than when it was opened,
    is a DataError naming the file, raised as itself from the reading thread."""
    rng = np.random.default_rng(0)
    path = _write(tmp_path / "t.h5", x=rng.standard_normal((200, 36)) + 3, y=np.ones(200))
    examples = H5Examples(path, "x", "y")
    calls = []

    def truncating(self, *args):
        calls.append(1)
        if len(calls) == 2:
            with open(path, "r+b") as f:
                f.truncate(path.stat().st_size // 2)
        return original(self, *args)

    original = H5Examples.read_block
    monkeypatch.setattr(H5Examples, "read_block", truncating)
    with pytest.raises(DataError, match=r"'x' in .*t\.h5: the file was truncated while it was "
                                        r"read \(\d[\d,]* bytes, [\d,]+ when opened\)"):
        fit_stream(examples, _parameters([36, 2, 1], np.float64), mini_batch_size=10,
                   num_epochs=2, key=jax.random.PRNGKey(0), chunk_bytes=1)
    assert len(calls) == 2 and not _prefetch_threads()


def test_many_labels_declared_in_a_small_file_are_refused_before_they_are_read(tmp_path,
                                                                               monkeypatch):
    """m = 2**29 examples in a file of a few KB: the labels (read whole, then checked as
    float64) are estimated from the declared shape and refused in one line naming their
    number, the estimate and the memory available (4 GiB here)."""
    import jaxdnn.core.limits

    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", (2**29, 4), np.float32, chunks=(2**16, 4))
        f.create_dataset("y", (2**29,), np.int64, chunks=(2**16,))
    assert path.stat().st_size < 100_000
    monkeypatch.setattr(jaxdnn.core.limits, "available_memory", lambda: 4 * 2**30)
    with pytest.raises(DataError) as info:
        H5Examples(path, "x", "y")
    assert str(info.value) == (
        f"'y' in {path} declares 536,870,912 labels: reading them takes 8,192 MiB (as stored, "
        f"then a float64 copy to check them), more than the 4,096 MiB of memory available")
    monkeypatch.setattr(jaxdnn.core.limits, "available_memory", lambda: 64 * 2**30)
    with pytest.raises(DataError, match=r"'x' in .*only 0 of its 8,192 chunks were ever"):
        H5Examples(path, "x", "y")


def test_load_refuses_inputs_beyond_the_memory_available(tmp_path, monkeypatch):
    import jaxdnn.core.limits

    examples = H5Examples(_write(tmp_path / "p.h5", x=np.zeros((1000, 8, 8, 3), np.uint8),
                                 y=np.zeros(1000)), "x", "y")
    monkeypatch.setattr(jaxdnn.core.limits, "available_memory", lambda: 2**20)
    with pytest.raises(DataError, match=r"'x' in .*p\.h5 holds 1,000 examples of 192 features: "
                                        r"loading them takes 2 MiB \(as stored, then as "
                                        r"float64\), more than the 1 MiB of memory available"):
        examples.load()


def test_an_interrupt_ends_training_while_the_reader_is_stuck(h5file, monkeypatch):
    """The reader blocks in a read that does not return (as on a FIFO); a SIGINT to the main
    thread, waiting for its next chunk, ends fit_stream with KeyboardInterrupt without waiting
    for the reader, which is left behind (released here once the test has seen it)."""
    import signal
    import time

    release, stuck = threading.Event(), threading.Event()
    calls = []

    def blocking(self, *args):
        calls.append(1)
        if len(calls) == 2:
            stuck.set()
            release.wait(timeout=120)  # the guard: a fit_stream that waits for it ends too
        return original(self, *args)

    def interrupt():
        stuck.wait(timeout=120)
        time.sleep(0.2)  # let the main thread reach its wait for the chunk
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    original = H5Examples.read_block
    monkeypatch.setattr(H5Examples, "read_block", blocking)
    threading.Thread(target=interrupt, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            fit_stream(H5Examples(h5file, "rows", "labels"), _parameters([36, 3, 1],
                       np.float64), mini_batch_size=10, num_epochs=3, key=jax.random.PRNGKey(0),
                       chunk_bytes=1)
        assert not release.is_set() and len(_prefetch_threads()) == 1
    finally:
        release.set()
    for thread in _prefetch_threads():
        thread.join(timeout=60)
    assert not _prefetch_threads()


def test_divergence_is_reported_with_its_iteration(h5file):
    with pytest.raises(TrainingDiverged) as caught:
        fit_stream(H5Examples(h5file, "rows", "labels"), _parameters([36, 8, 1], np.float64),
                   mini_batch_size=10, num_epochs=2, key=jax.random.PRNGKey(0),
                   learning_rate=1e30)
    assert len(caught.value.costs) == caught.value.iteration + 1


def _text_file(path):
    path.write_bytes(b"not hdf5")
    return path


@pytest.mark.parametrize("make, error, message", [
    (lambda p: H5Examples(p.parent / "missing.h5"), DataError, r"missing\.h5: no such data file"),
    (lambda p: H5Examples(p.parent), DataError, "not a regular file"),
    (lambda p: H5Examples(_text_file(p.parent / "t.txt")), DataError,
     r"t\.txt is not a readable HDF5 file"),
    (lambda p: H5Examples(p, "nope", "labels"), DataError,
     r"data\.h5: no data set 'nope' \(the file holds gzip_rows, ids, labels, one_hot, "),
    (lambda p: H5Examples(p, "rows", 3), InputTypeError, "y must name a data set"),
    (lambda p: H5Examples(p, "labels", "labels"), DataError,
     r"'labels' in .*data\.h5 has shape \(103,\) but needs \(m, \.\.\.\)"),
    (lambda p: H5Examples(_write(p.parent / "i.h5", x=np.ones((3, 2), np.int16),
                                 y=np.ones(3)), "x", "y"),
     DataError, r"'x' in .*i\.h5 has dtype int16 but needs uint8 pixels or floating"),
    (lambda p: H5Examples(_write(p.parent / "m.h5", x=np.ones((3, 2)), y=np.ones(4)), "x", "y"),
     DataError, r"'y' in .*m\.h5 has shape \(4,\) but needs \(3,\) or \(3, k\)"),
    (lambda p: H5Examples(_write(p.parent / "n.h5", x=np.ones((3, 2)), y=[0, np.nan, 1]),
                          "x", "y"), DataError, r"'y' in .*n\.h5 has 1 non-finite"),
])
def test_bad_files_are_refused_when_opened(h5file, make, error, message):
    with pytest.raises(error, match=message):
        make(h5file)


@pytest.mark.parametrize("x, y, change, error, message", [
    ("rows", "labels", dict(parameters=[35, 2, 1]), ShapeError,
     r"'rows' in .*data\.h5 holds examples of 36 features but W1 has shape \(2, 35\)"),
    ("rows", "ids", dict(parameters=[36, 2, 1]), DataError,
     r"'ids' in .*data\.h5 must hold labels 0 or 1; found 2"),
    ("rows", "ids", dict(parameters=[36, 2, 2], output="softmax"), DataError,
     r"'ids' in .*data\.h5 must hold class ids 0\.\.1; found 2"),
    ("rows", "one_hot", dict(parameters=[36, 2, 1]), ShapeError,
     r"'one_hot' in .*data\.h5 holds 3 labels per example but the network has 1 outputs"),
    ("rows", "labels", dict(mini_batch_size=103), OptionError,
     "mini_batch_size must be between 1 and m - 1 = 102"),
    ("rows", "labels", dict(mini_batch_size=None), OptionError, "mini_batch_size"),
    ("rows", "labels", dict(key=None), InputTypeError, "key=jax.random.PRNGKey"),
    ("rows", "labels", dict(num_epochs=-1), OptionError, "num_epochs must not be negative"),
    ("rows", "labels", dict(chunk_bytes=0), OptionError, "chunk_bytes must be positive"),
    ("rows", "labels", dict(examples="data.h5"), InputTypeError,
     "examples must be an H5Examples"),
])
def test_bad_training_options_are_refused_before_reading(h5file, x, y, change, error,
                                                         message):
    arguments = dict(examples=H5Examples(h5file, x, y), mini_batch_size=10, num_epochs=1,
                     key=jax.random.PRNGKey(0), parameters=[36, 2, 1])
    arguments.update(change)
    arguments["parameters"] = _parameters(arguments["parameters"], np.float64)
    with pytest.raises(error, match=message):
        fit_stream(**arguments)


MEMORY_SCRIPT = """
import resource, sys, time, h5py, jax, numpy as np
from jaxdnn.io.examples import H5Examples
from jaxdnn.train.stream import fit_stream

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def current_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

path, m, n = sys.argv[1], int(sys.argv[2]), 2048
with h5py.File(path, "w") as f:  # written in slices of 16 MB: the writer is bounded too
    x = f.create_dataset("x", (m, n), np.float32)
    rng = np.random.default_rng(0)
    for s in range(0, m, 2048):
        x[s:s + 2048] = rng.standard_normal((min(2048, m - s), n), dtype=np.float32)
    f["y"] = (rng.random(m) > 0.5).astype(np.uint8)
params = {"W1": np.full((4, n), 0.01, np.float32), "b1": np.zeros((4, 1), np.float32),
          "W2": np.full((1, 4), 0.1, np.float32), "b2": np.zeros((1, 1), np.float32)}
options = dict(mini_batch_size=256, key=jax.random.PRNGKey(0), chunk_bytes=2**22,
               learning_rate=0.01)
small = path + ".small"  # the same shapes, so that every program is compiled before measuring
with h5py.File(small, "w") as f:
    f["x"], f["y"] = np.zeros((256 * 4 + 7, n), np.float32), np.zeros(256 * 4 + 7, np.uint8)
fit_stream(H5Examples(small, "x", "y"), params, num_epochs=1, **options)
before = peak_mb()
start = time.perf_counter()
fit_stream(H5Examples(path, "x", "y"), params, num_epochs=1, **options)
streamed = peak_mb() - before
seconds = time.perf_counter() - start
now = current_mb()
X, Y = H5Examples(path, "x", "y").load()  # the control: the inputs in memory
print(streamed, peak_mb() - now, seconds)
"""


def test_streaming_memory_stays_bounded_well_under_the_file(tmp_path):
    """A 268 MB float32 file (32775 examples of 2048 features, so the last batch is ragged)
    trains one epoch in chunks of 4 MB: peak RSS grows by less than a quarter of the file.
    The control, loading the inputs whole in the same process, grows by the file's size,
    so the measurement can see a whole-file read."""
    path = tmp_path / "big.h5"
    m = 32775
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(MEMORY_SCRIPT), str(path),
                             str(m)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    streamed, loaded, seconds = map(float, result.stdout.split()[-3:])
    file_mb = path.stat().st_size / 2**20
    path.unlink()
    assert file_mb > 250
    assert streamed < file_mb / 4, (streamed, file_mb)
    assert loaded > 0.9 * file_mb, (loaded, file_mb)
    print(f"streamed {file_mb:.0f} MB: peak RSS +{streamed:.0f} MB in {seconds:.1f} s "
          f"(loading it: +{loaded:.0f} MB)")
