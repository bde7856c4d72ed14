"""Data: the h5 loaders on small files in the course's layout (and every malformed variant), the
real cat files when present, and the generated 2-D sets."""

import hashlib
import pathlib

import h5py
import numpy as np
import pytest
from h5_storage import OUTSIDE, SAYS, STORAGE
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdnn.errors import DataError, InputTypeError, NameLookupError, OptionError, ShapeError
from jaxdnn.io.cat import flatten_images, load_cat_data, load_data
from jaxdnn.io.datasets import (
    DATASETS,
    MULTICLASS,
    blobs,
    gaussian_quantiles,
    load_dataset,
    load_planar_dataset,
    no_structure,
    noisy_circles,
    noisy_moons,
    spirals,
)

TRAIN, TEST = "train_catvnoncat.h5", "test_catvnoncat.h5"
CLASSES = np.array([b"non-cat", b"cat"])
GROUP = object()  # an override value: write an HDF5 group where a data set belongs
LINK_LOOP = object()  # a soft link to itself
HUGE = object()  # a chunked data set declaring 10**12 pixels, nothing written


class Stored:
    """An override value: ``value`` stored the hostile way ``kind`` (``h5_storage``)."""

    def __init__(self, kind, value):
        self.kind, self.value = kind, value

REAL_DIR = pathlib.Path(__file__).resolve().parents[1] / "datasets"
REAL_SHA256 = {
    TRAIN: "fbe56ab67c3ae28d564e3a644189117976d6b31af0a3ce9bb17dbf22908af242",
    TEST: "6a9d39ce52fa85953c5834695b8534a30ed8cfd54971fb2f080b5a24d002b951",
}


# --- small h5 files in the course's layout ---------------------------------------------------


def _layout():
    """5 train and 3 test images of 4 x 4 x 3, keyed like the course's files."""
    rng = np.random.default_rng(0)
    return {
        TRAIN: {"train_set_x": rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8),
                "train_set_y": np.array([0, 1, 1, 0, 1]), "list_classes": CLASSES},
        TEST: {"test_set_x": rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8),
               "test_set_y": np.array([1, 0, 0]), "list_classes": CLASSES},
    }


def _write(directory, layout):
    """Write ``layout`` as h5 files in ``directory``; a value None leaves the key out. Files a
    :class:`Stored` value points to go in a folder beside ``directory``."""
    elsewhere = directory.parent / f"{directory.name}-elsewhere"
    for folder in (directory, elsewhere):
        folder.mkdir(exist_ok=True)
    for name, keys in layout.items():
        with h5py.File(directory / name, "w") as f:
            for key, value in keys.items():
                if value is GROUP:
                    f.create_group(key)
                elif value is LINK_LOOP:
                    f[key] = h5py.SoftLink(f"/{key}")
                elif value is HUGE:
                    f.create_dataset(key, (10**6, 500, 500, 4), np.uint8, chunks=(1, 4, 4, 4))
                elif isinstance(value, Stored):
                    STORAGE[value.kind](f, key, value.value, str(elsewhere))
                elif value is not None:
                    f[key] = value
    return directory


def test_load_data_returns_the_files_contents(tmp_path):
    layout = _layout()
    train_x, train_y, test_x, test_y, classes = load_data(str(_write(tmp_path, layout)))
    np.testing.assert_array_equal(train_x, layout[TRAIN]["train_set_x"])
    np.testing.assert_array_equal(test_x, layout[TEST]["test_set_x"])
    assert train_x.dtype == test_x.dtype == np.uint8
    np.testing.assert_array_equal(train_y, [[0, 1, 1, 0, 1]])
    np.testing.assert_array_equal(test_y, [[1, 0, 0]])
    assert train_y.shape == (1, 5) and test_y.shape == (1, 3)
    np.testing.assert_array_equal(classes, CLASSES)


def test_load_data_accepts_integer_pixels_in_range_as_uint8(tmp_path):
    layout = _layout()
    layout[TRAIN]["train_set_x"] = layout[TRAIN]["train_set_x"].astype(np.int64)
    train_x = load_data(_write(tmp_path, layout))[0]
    assert train_x.dtype == np.uint8
    np.testing.assert_array_equal(train_x, layout[TRAIN]["train_set_x"])


def test_flatten_images_is_the_courses_standardisation(tmp_path):
    train_x_orig = load_data(_write(tmp_path, _layout()))[0]
    X = flatten_images(train_x_orig)
    assert X.shape == (48, 5) and X.dtype == np.float64
    np.testing.assert_array_equal(X, train_x_orig.reshape(5, -1).T / 255)
    np.testing.assert_array_equal(X[:, 2], train_x_orig[2].ravel() / 255)
    assert 0 <= X.min() and X.max() <= 1


def test_flatten_images_rejects_wrong_rank():
    with pytest.raises(ShapeError, match="x_orig"):
        flatten_images(np.zeros((5, 48), np.uint8))


def test_load_cat_data_is_flattened_float64(tmp_path):
    train_x, train_y, test_x, test_y, classes = load_cat_data(_write(tmp_path, _layout()))
    assert train_x.shape == (48, 5) and test_x.shape == (48, 3)
    assert train_y.shape == (1, 5) and test_y.shape == (1, 3)
    assert {a.dtype for a in (train_x, train_y, test_x, test_y)} == {np.dtype(np.float64)}
    np.testing.assert_array_equal(train_y, [[0.0, 1.0, 1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(classes, CLASSES)


@pytest.mark.parametrize("missing", [TRAIN, TEST])
def test_missing_file_says_where_the_files_go(tmp_path, missing):
    """An installed user has no datasets/README.md: the message itself names the files and
    the folder they go in."""
    layout = _layout()
    del layout[missing]
    with pytest.raises(DataError) as info:
        load_data(_write(tmp_path, layout))
    message = str(info.value)
    assert str(tmp_path / missing) in message and f"in {tmp_path}, " in message
    assert TRAIN in message and TEST in message and "README" not in message


def test_not_an_h5_file(tmp_path):
    _write(tmp_path, _layout())
    (tmp_path / TRAIN).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))  # a PNG renamed .h5
    with pytest.raises(DataError, match="not a readable HDF5 file") as info:
        load_data(tmp_path)
    assert str(tmp_path / TRAIN) in str(info.value) and "train_set_x" in str(info.value)


def test_truncated_h5_file(tmp_path):
    _write(tmp_path, _layout())
    path = tmp_path / TEST
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="not a readable HDF5 file") as info:
        load_data(tmp_path)
    assert str(path) in str(info.value) and "test_set_x" in str(info.value)


MALFORMED = [
    # (file, key, value written instead; None leaves the key out, what the message says)
    (TRAIN, "train_set_x", None, "missing key"),
    (TRAIN, "train_set_y", None, "missing key"),
    (TEST, "test_set_x", None, "missing key"),
    (TEST, "test_set_y", None, "missing key"),
    (TEST, "list_classes", None, "missing key"),
    (TRAIN, "train_set_x", GROUP, "missing key"),
    (TRAIN, "train_set_x", np.zeros((5, 4, 4), np.uint8), "needs (m, height, width, 3)"),
    (TRAIN, "train_set_x", np.zeros((5, 4, 4, 4), np.uint8), "needs (m, height, width, 3)"),
    (TRAIN, "train_set_x", np.zeros((5, 4, 4, 1), np.uint8), "needs (m, height, width, 3)"),
    (TRAIN, "train_set_x", np.zeros((5, 4, 6, 3), np.uint8), "4 x 6 pixels but needs square"),
    (TEST, "test_set_x", np.zeros((3, 6, 4, 3), np.uint8), "6 x 4 pixels but needs square"),
    (TRAIN, "train_set_x", np.zeros((0, 4, 4, 3), np.uint8), "needs (m, height, width, 3)"),
    (TRAIN, "train_set_x", np.zeros((5, 4, 4, 3), np.float32), "uint8 pixels"),
    (TRAIN, "train_set_x", np.full((5, 4, 4, 3), 300), "uint8 pixels"),
    (TEST, "test_set_x", np.zeros((3, 5, 5, 3), np.uint8), "must be equal"),
    (TRAIN, "train_set_y", np.array([0, 1, 1, 0]), "needs (5,)"),
    (TRAIN, "train_set_y", np.array([[0, 1, 1, 0, 1]]), "needs (5,)"),
    (TEST, "test_set_y", np.array([1, 0, 1, 1]), "needs (3,)"),
    (TEST, "test_set_y", np.array([1, 2, 0]), "must be 0 (non-cat) or 1 (cat)"),
    (TRAIN, "train_set_y", np.array([0, 1, 1, 0, -1]), "must be 0 (non-cat) or 1 (cat)"),
    (TRAIN, "train_set_y", np.array([b"a", b"b", b"a", b"a", b"b"]), "must be 0"),
    (TEST, "list_classes", np.array([b"non-cat", b"cat", b"dog"]), "needs (2,)"),
    (TEST, "list_classes", np.array([0, 1]), "needs two UTF-8 byte strings"),
    (TEST, "list_classes", np.array([b"non-cat", b"\xff\xfe"]), "needs two UTF-8 byte strings"),
    (TEST, "list_classes", h5py.Empty("f8"), "empty data set"),
    (TRAIN, "train_set_x", np.full((5, 4, 4, 3), b"x"), "uint8 pixels"),
    (TRAIN, "train_set_x", np.zeros((5, 4, 4, 3), [("r", "u1"), ("g", "u1")]), "uint8 pixels"),
    (TRAIN, "train_set_x", h5py.Empty("u1"), "empty data set"),
    (TRAIN, "train_set_x", LINK_LOOP, "too many links"),
    (TRAIN, "train_set_x", HUGE, "above the limit of 8,589,934,592 (MAX_FILE_BYTES)"),
    (TRAIN, "train_set_y", np.float64(1.0), "needs (5,)"),
    (TRAIN, "train_set_y", h5py.Empty("f8"), "empty data set"),
]


@pytest.mark.parametrize("file, key, value, says", MALFORMED,
                         ids=[f"{k}-{s}-{i}" for i, (_, k, _, s) in enumerate(MALFORMED)])
def test_malformed_file_names_the_file_and_the_key(tmp_path, file, key, value, says):
    layout = _layout()
    layout[file][key] = value
    with pytest.raises(DataError) as info:
        load_data(_write(tmp_path, layout))
    message = str(info.value)
    assert str(tmp_path / file) in message and repr(key) in message and says in message


# --- storage that reaches outside the file, or was never written -----------------------------


@pytest.mark.parametrize("kind", [k for k in STORAGE if "FIFO" not in k])
@pytest.mark.parametrize("file, key", [(TRAIN, "train_set_x"), (TEST, "test_set_y")])
def test_storage_outside_the_file_or_unwritten_is_refused_by_name(tmp_path, kind, file, key):
    """Nothing outside the data folder is read unless asked for (then it reads as the data);
    storage never written is refused either way."""
    layout = _layout()
    layout[file][key] = Stored(kind, layout[file][key])
    data = _write(tmp_path / "data", layout)
    with pytest.raises(DataError) as info:
        load_data(data)
    message = str(info.value)
    assert f"{data / file}: key {key!r}" in message and SAYS[kind] in message, message
    assert ("allow_external=True" in message) == (kind in OUTSIDE)
    if kind in OUTSIDE:
        loaded = load_data(data, allow_external=True)
        np.testing.assert_array_equal(loaded[0 if key == "train_set_x" else 3].ravel(),
                                      _layout()[file][key].ravel())
    else:
        with pytest.raises(DataError, match="ever written"):
            load_data(data, allow_external=True)


FIFO_LOAD = """
import sys
from jaxdnn import DataError, load_cat_data
try:
    load_cat_data(sys.argv[1])
except DataError as e:
    print(e)
"""


def test_external_storage_in_a_fifo_is_refused_without_reading_it(tmp_path):
    """In a child process, so that the read the fix prevents (it would never return) cannot
    hang the suite: the child must answer at once."""
    import subprocess
    import sys

    layout = _layout()
    layout[TRAIN]["train_set_x"] = Stored("external storage in a FIFO",
                                          layout[TRAIN]["train_set_x"])
    data = _write(tmp_path / "data", layout)
    try:
        child = subprocess.run([sys.executable, "-c", FIFO_LOAD, str(data)],
                               capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("load_cat_data read the FIFO: it never returned")
    assert child.returncode == 0, child.stderr[-2000:]
    assert "keeps its data outside the file (external storage in" in child.stdout


def test_a_file_declaring_many_images_is_refused_before_anything_is_allocated(tmp_path,
                                                                             monkeypatch):
    """A file of a few KB declares 100,000 images of 64 x 64 x 3: loading them for a network
    (uint8, then float64) is estimated from the declared shape against the memory available
    (here 8 GiB), and refused in one line naming the images, the estimate and the memory."""
    import jaxdnn.core.limits

    layout = _layout()
    layout[TRAIN]["train_set_x"] = Stored("no chunk written",
                                          np.zeros((100_000, 64, 64, 3), np.uint8))
    layout[TRAIN]["train_set_y"] = np.zeros(100_000, np.int64)
    data = _write(tmp_path / "data", layout)
    assert (data / TRAIN).stat().st_size < 2_000_000
    monkeypatch.setattr(jaxdnn.core.limits, "available_memory", lambda: 8 * 2**30)
    with pytest.raises(DataError) as info:
        load_cat_data(data)
    assert str(info.value) == (
        f"{data / TRAIN}: key 'train_set_x' declares shape (100000, 64, 64, 3): loading it takes "
        f"10,547 MiB (as stored, then as float64 for a network), more than the 8,192 MiB of "
        f"memory available")
    with pytest.raises(DataError, match=r"only 0 of its 100,000 chunks were ever written"):
        load_data(data)  # 1.2 GB as stored would fit, but none of it is there


@pytest.mark.skipif(not (REAL_DIR / TRAIN).exists() or not (REAL_DIR / TEST).exists(),
                    reason=f"the course's cat files are not in {REAL_DIR} "
                           "(see datasets/README.md)")
def test_the_courses_cat_files():
    for name, digest in REAL_SHA256.items():
        assert hashlib.sha256((REAL_DIR / name).read_bytes()).hexdigest() == digest, name
    train_x, train_y, test_x, test_y, classes = load_data(REAL_DIR)
    assert train_x.shape == (209, 64, 64, 3) and train_x.dtype == np.uint8
    assert test_x.shape == (50, 64, 64, 3) and test_x.dtype == np.uint8
    assert train_y.shape == (1, 209) and test_y.shape == (1, 50)
    assert train_y.sum() == 72 and test_y.sum() == 33
    np.testing.assert_array_equal(classes, CLASSES)
    X = load_cat_data(REAL_DIR)[0]
    assert X.shape == (12288, 209) and X.dtype == np.float64


# --- the 2-D sets ---------------------------------------------------------------------------


def _course_planar():
    """The course's load_planar_dataset, verbatim apart from names, on the global generator."""
    np.random.seed(1)
    m, N, D, a = 400, 200, 2, 4
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype="uint8")
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def test_planar_is_the_courses_data_bit_for_bit():
    X, Y = load_planar_dataset()
    expected_X, expected_Y = _course_planar()
    assert X.shape == (2, 400) and X.dtype == np.float64
    assert Y.shape == (1, 400) and Y.dtype == np.uint8
    np.testing.assert_array_equal(X, expected_X)
    np.testing.assert_array_equal(Y, expected_Y)
    assert (Y == 0).sum() == 200 and (Y == 1).sum() == 200


def test_planar_leaves_the_global_generator_alone():
    np.random.seed(123)
    expected = np.random.randn(3)
    np.random.seed(123)
    load_planar_dataset()
    np.testing.assert_array_equal(np.random.randn(3), expected)


GENERATORS = [noisy_circles, noisy_moons, blobs, gaussian_quantiles, no_structure]


@pytest.mark.parametrize("generate", GENERATORS)
@pytest.mark.parametrize("n_samples", [200, 7])
def test_generated_shapes_dtypes_and_binary_labels(generate, n_samples):
    X, Y = generate(n_samples=n_samples) if n_samples != 200 else generate()
    assert X.shape == (2, n_samples) and X.dtype == np.float64
    assert Y.shape == (1, n_samples) and Y.dtype == np.uint8
    assert set(np.unique(Y)) <= {0, 1}
    assert np.isfinite(X).all()


@pytest.mark.parametrize("generate", GENERATORS)
def test_generated_sets_are_deterministic_by_seed(generate):
    X, Y = generate(seed=3)
    X_again, Y_again = generate(seed=3)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(Y, Y_again)
    assert not np.array_equal(X, generate(seed=4)[0])


@pytest.mark.parametrize("generate", GENERATORS)
def test_generated_sets_reject_too_few_samples(generate):
    with pytest.raises(ShapeError, match="n_samples"):
        generate(n_samples=1)


@pytest.mark.parametrize("call, error, says", [
    (lambda: noisy_moons(noise=float("nan")), OptionError, "noise must be a finite number, not "
                                                           "negative; got nan"),
    (lambda: noisy_circles(noise=-0.1), OptionError, "noise must be a finite number, not "
                                                     "negative; got -0.1"),
    (lambda: spirals(noise=float("inf")), OptionError, "noise must be a finite number"),
    (lambda: spirals(noise="0.2"), InputTypeError, "noise must be a real number"),
    (lambda: noisy_circles(factor=float("nan")), OptionError, "factor must be a finite number"),
    (lambda: gaussian_quantiles(cov=-1.0), OptionError, "cov must be a finite number, not "
                                                        "negative"),
    (lambda: no_structure(seed=-1), OptionError, "seed must not be negative"),
    (lambda: blobs(seed=2**40), OptionError, r"seed must be below 2\*\*32"),
    (lambda: DATASETS["spirals"](arms=10**9), OptionError,
     r"arms = 1,000,000,000 is above the limit of 256 \(MAX_DATASET_CLASSES\)"),
    (lambda: spirals(arms=257, multiclass=True), OptionError,
     "arms = 257 is above the limit of 256"),
    (lambda: blobs(centers=300), OptionError, "centers = 300 is above the limit of 256"),
    (lambda: no_structure(n_samples=2**40), OptionError,
     r"n_samples = 1,099,511,627,776 is above the limit of 16,777,216 "
     r"\(MAX_DATASET_SAMPLES\)"),
])
def test_generators_refuse_numbers_they_cannot_use(call, error, says):
    """Each a documented error at once: no NaN data, no numpy error, no loop of 10**9 arms, no
    uint8 label wrapping past 255."""
    with pytest.raises(error, match=says):
        call()


def test_the_largest_generated_sets_keep_their_labels():
    X, Y = spirals(n_samples=600, arms=256, multiclass=True)
    assert Y.dtype == np.uint8 and sorted(np.unique(Y)) == list(range(256))


def test_circles_inner_class_has_the_smaller_radius():
    for seed in range(5):
        X, Y = noisy_circles(seed=seed)
        radius = np.linalg.norm(X, axis=0)
        assert radius[Y[0] == 1].mean() < radius[Y[0] == 0].mean() - 0.2
        assert (Y == 0).sum() == (Y == 1).sum() == 100
    X, Y = noisy_circles(n_samples=9, factor=0.3, noise=0.0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=0), np.where(Y[0] == 1, 0.3, 1.0))


def test_moons_classes_are_separated_and_on_their_half_circles():
    for seed in range(5):
        X, Y = noisy_moons(seed=seed)
        zero, one = X[:, Y[0] == 0].mean(axis=1), X[:, Y[0] == 1].mean(axis=1)
        assert one[0] > zero[0] + 0.5 and zero[1] > one[1] + 0.5
    X, Y = noisy_moons(n_samples=11, noise=0.0)
    outer, inner = X[:, Y[0] == 0], X[:, Y[0] == 1]
    np.testing.assert_allclose(np.linalg.norm(outer, axis=0), 1.0)
    assert (outer[1] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(inner - [[1.0], [0.5]], axis=0), 1.0)
    assert (inner[1] <= 0.5 + 1e-12).all()


def test_blobs_are_unit_clusters_inside_the_box_with_parity_labels():
    X, Y = blobs(n_samples=3000, centers=2, seed=0)
    assert (Y[0] == np.arange(3000) % 2).all()
    for label in (0, 1):
        cluster = X[:, Y[0] == label]
        np.testing.assert_allclose(cluster.std(axis=1), 1.0, atol=0.1)
        assert (np.abs(cluster.mean(axis=1)) < 10).all()
    X, Y = blobs()
    assert (Y == 0).sum() == (Y == 1).sum() == 100
    with pytest.raises(ShapeError, match="centers"):
        blobs(centers=1)


def test_gaussian_quantiles_class_one_is_the_outer_half():
    X, Y = gaussian_quantiles(n_samples=201)
    radius = np.linalg.norm(X, axis=0)
    assert radius[Y[0] == 0].max() <= radius[Y[0] == 1].min()
    assert (Y == 0).sum() == 100 and (Y == 1).sum() == 101
    X = gaussian_quantiles(n_samples=4000, cov=0.5)[0]
    np.testing.assert_allclose(np.cov(X), 0.5 * np.eye(2), atol=0.05)


def test_no_structure_is_uniform_with_random_labels():
    X, Y = no_structure(n_samples=2000)
    assert (X >= 0).all() and (X < 1).all()
    np.testing.assert_allclose(X.mean(axis=1), 0.5, atol=0.03)
    assert 0.45 < Y.mean() < 0.55


# --- the registry ---------------------------------------------------------------------------


def test_datasets_registry_names():
    assert set(DATASETS) == {"planar", "moons", "circles", "blobs", "spirals",
                             "gaussian-quantiles", "no-structure"}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_load_dataset_by_name(name):
    X, Y = load_dataset(name)
    np.testing.assert_array_equal(X, DATASETS[name]()[0])
    np.testing.assert_array_equal(Y, DATASETS[name]()[1])
    assert X.shape[0] == 2 and Y.shape == (1, X.shape[1]) and Y.dtype == np.uint8
    if name == "planar":
        np.testing.assert_array_equal(load_dataset(name, seed=7)[0], X)
    else:
        np.testing.assert_array_equal(load_dataset(name, seed=7)[0], DATASETS[name](seed=7)[0])
        assert not np.array_equal(load_dataset(name, seed=7)[0], X)


@pytest.mark.parametrize("name, K", sorted(MULTICLASS.items()))
def test_multiclass_sets_have_K_classes_and_bin_to_parity(name, K):
    X, Y = load_dataset(name, multiclass=True)
    assert sorted(np.unique(Y)) == list(range(K))
    counts = np.bincount(Y[0])
    assert counts.max() - counts.min() <= 1  # balanced classes
    X2, Y2 = load_dataset(name)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(Y2, Y % 2)  # the course's binary form


def test_spiral_arms_are_apart():
    X, Y = spirals(n_samples=600, noise=0.0, multiclass=True)
    radius = np.linalg.norm(X, axis=0)
    assert radius.max() <= 1 + 1e-12
    # with no noise, two points of different arms at the same radius are never the same point
    outer = radius > 0.3
    for k in range(3):
        for j in range(k):
            a, b = X[:, outer & (Y[0] == k)], X[:, outer & (Y[0] == j)]
            assert np.min(np.linalg.norm(a[:, :, None] - b[:, None, :], axis=0)) > 0.05


def test_unknown_dataset_name_lists_the_valid_names():
    with pytest.raises(NameLookupError) as info:
        load_dataset("swiss-roll")
    assert isinstance(info.value, KeyError)
    assert "'swiss-roll'" in str(info.value)
    for name in DATASETS:
        assert name in str(info.value)


def test_a_fifo_is_refused_without_waiting(tmp_path):
    import os

    _write(tmp_path, _layout())
    (tmp_path / TRAIN).unlink()
    os.mkfifo(tmp_path / TRAIN)
    with pytest.raises(DataError, match=r"not a regular file \(a FIFO\)"):
        load_data(tmp_path)


def test_data_dir_and_images_of_the_wrong_type_are_refused():
    from jaxdnn.errors import InputTypeError

    with pytest.raises(InputTypeError, match="data_dir must be a path"):
        load_cat_data(3)
    with pytest.raises(ShapeError, match=r"x_orig has shape \(0, 4, 4, 3\)"):
        flatten_images(np.zeros((0, 4, 4, 3), np.uint8))


# --- your own image -------------------------------------------------------------------------


def _png_declaring(width, height):
    """A small PNG whose header declares ``width`` x ``height`` pixels (its data is not)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def test_images_too_large_are_refused_before_decoding(tmp_path, monkeypatch):
    from PIL import Image

    import jaxdnn.core.limits
    from jaxdnn.io.images import load_image

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_declaring(15000, 15000))  # Pillow's own limit: a DecompressionBomb
    with pytest.raises(DataError, match="bomb.png"):
        load_image(bomb, 8)
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "grey.png")
    load_image(tmp_path / "grey.png", 8)
    monkeypatch.setattr(jaxdnn.core.limits, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(DataError, match=r"grey.png: 40 x 30 pixels, above the limit of 1,000"):
        load_image(tmp_path / "grey.png", 8)


def test_an_image_fifo_is_refused_without_waiting(tmp_path):
    import os

    from jaxdnn.io.images import load_image

    os.mkfifo(tmp_path / "image.png")
    with pytest.raises(DataError, match=r"image.png: not a regular file \(a FIFO\)"):
        load_image(tmp_path / "image.png", 8)


def test_16_bit_greyscale_reads_as_the_same_image_in_8_bits(tmp_path):
    from PIL import Image

    from jaxdnn.io.images import load_image

    grey = np.random.default_rng(0).integers(0, 256, (20, 30)).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "16.png")
    with Image.open(tmp_path / "16.png") as image:
        assert image.mode.startswith("I;16")
    eight, sixteen = load_image(tmp_path / "8.png", 8), load_image(tmp_path / "16.png", 8)
    assert sixteen.max() < 1  # not clipped to white
    np.testing.assert_array_equal(sixteen, eight)


def _tiff(path, samples, sample_format):
    """A one-strip greyscale TIFF of ``samples`` (2-D, little-endian) with the TIFF sample
    format 1 (unsigned), 2 (signed) or 3 (float): Pillow writes no unsigned 32-bit TIFF."""
    import struct

    height, width = samples.shape
    data = samples.astype(samples.dtype.newbyteorder("<")).tobytes()
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8 * samples.dtype.itemsize),
            (259, 3, 1), (262, 3, 1), (273, 4, 0), (277, 3, 1), (278, 4, height),
            (279, 4, len(data)), (339, 3, sample_format)]
    start = 8 + 2 + 12 * len(tags) + 4
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHI", tag, kind, 1) + struct.pack("<I" if kind == 4 else "<HH",
                                                        *((start,) if tag == 273 else
                                                          (value,) if kind == 4 else
                                                          (value, 0)))
        for tag, kind, value in tags)
    path.write_bytes(b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + data)
    return path


def _grey_as(depth, grey, path):
    """The 8-bit ``grey`` image saved at ``depth``, scaled to its range."""
    from PIL import Image

    g = grey.astype(np.float64) / 255
    if depth == "8-bit PNG":
        Image.fromarray(grey).save(path.with_suffix(".png"))
    elif depth == "16-bit PNG":
        Image.fromarray(np.round(g * 65535).astype(np.uint16)).save(path.with_suffix(".png"))
    elif depth == "16-bit PPM":
        Image.fromarray(np.round(g * 65535).astype(np.uint16)).save(path.with_suffix(".ppm"))
    elif depth == "16-bit TIFF":
        return _tiff(path.with_suffix(".tif"), np.round(g * 65535).astype(np.uint16), 1)
    elif depth == "32-bit signed TIFF":
        Image.fromarray(np.round(g * (2**31 - 1)).astype(np.int32)).save(path.with_suffix(".tif"))
    elif depth == "32-bit unsigned TIFF":
        return _tiff(path.with_suffix(".tif"), np.round(g * (2**32 - 1)).astype(np.uint32), 1)
    elif depth == "float TIFF":
        Image.fromarray(g.astype(np.float32)).save(path.with_suffix(".tif"))
    return next(p for p in path.parent.iterdir() if p.stem == path.name)


DEPTHS = ["8-bit PNG", "16-bit PNG", "16-bit PPM", "16-bit TIFF", "32-bit signed TIFF",
          "32-bit unsigned TIFF", "float TIFF"]


@pytest.mark.parametrize("depth", DEPTHS)
def test_the_same_grey_at_any_depth_is_the_same_input(tmp_path, depth):
    """Against the 8-bit PNG, to 1/255: a 32-bit TIFF was clipped to white and a float one
    truncated to black before."""
    from jaxdnn.io.images import load_image

    grey = np.random.default_rng(1).integers(0, 256, (12, 10)).astype(np.uint8)
    grey[0, :3] = 0, 128, 255
    expected = load_image(_grey_as("8-bit PNG", grey, tmp_path / "eight"), 8)
    got = load_image(_grey_as(depth, grey, tmp_path / "other"), 8)
    assert np.abs(got - expected).max() <= 1 / 255 + 1e-12, depth
    assert got.max() > 0.5 and got.min() < 0.5


@settings(max_examples=20)
@given(data=st.data())
def test_image_modes_fuzzed_read_as_their_8_bit_grey(tmp_path_factory, data):
    """Random grey images saved at random depths, and in the colour modes Pillow writes (from
    an RGB image whose channels are that grey; a palette of greys): each reads as the 8-bit
    grey image, to 1/255 (3/255 through CMYK and YCbCr, which round)."""
    from PIL import Image

    from jaxdnn.io.images import load_image

    shape = data.draw(st.tuples(st.integers(1, 9), st.integers(1, 9)), label="shape")
    grey = np.array(data.draw(st.lists(st.integers(0, 255), min_size=shape[0] * shape[1],
                                       max_size=shape[0] * shape[1])), np.uint8).reshape(shape)
    folder = tmp_path_factory.mktemp("modes")
    num_px = data.draw(st.integers(1, 6), label="num_px")
    expected = load_image(_grey_as("8-bit PNG", grey, folder / "eight"), num_px)
    kind = data.draw(st.sampled_from(DEPTHS + ["RGBA", "LA", "CMYK", "YCbCr", "P", "1"]),
                     label="kind")
    if kind in DEPTHS:
        path = _grey_as(kind, grey, folder / "other")
    else:
        if kind == "1":
            grey = np.where(grey > 127, 255, 0).astype(np.uint8)
            expected = load_image(_grey_as("8-bit PNG", grey, folder / "binary"), num_px)
        path = folder / "other.tif"
        if kind == "P":  # the grey levels as a palette of greys: exact, unlike quantising
            image = Image.fromarray(grey).convert("P")
            image.putpalette([level for i in range(256) for level in (i, i, i)])
            image.putdata(grey.ravel().tolist())
        else:
            image = Image.fromarray(np.stack([grey] * 3, axis=-1)).convert(kind)
        image.save(path)
    got = load_image(path, num_px)
    tolerance = 3 / 255 if kind in ("CMYK", "YCbCr") else 1 / 255  # colour conversions round
    assert np.abs(got - expected).max() <= tolerance + 1e-12, kind


@pytest.mark.parametrize("make, says", [
    (lambda p: __import__("PIL.Image").Image.fromarray(np.full((3, 4), 7, np.int32)).save(
        p / "i.im"), r"i\.im: a 32-bit integer image \(mode 'I'\) of a IM file, whose range is "
                     r"not known"),
    (lambda p: __import__("PIL.Image").Image.fromarray(np.full((3, 4), 200, np.float32)).save(
        p / "f.tif"), r"f\.tif: a floating-point image with values 200\.\.200; its intensities "
                      r"must lie in \[0, 1\]"),
    (lambda p: __import__("PIL.Image").Image.fromarray(
        np.array([[0.5, np.nan]], np.float32)).save(p / "n.tif"), r"n\.tif: a floating-point "),
    (lambda p: __import__("PIL.Image").Image.fromarray(np.full((3, 4), -5, np.int32)).save(
        p / "s.tif"), r"s\.tif: an integer image with negative values \(-5\)"),
])
@pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")
def test_an_image_of_unknown_range_is_refused_by_name(tmp_path, make, says):
    from jaxdnn.io.images import load_image

    make(tmp_path)
    with pytest.raises(DataError, match=says):
        load_image(next(tmp_path.iterdir()), 8)
