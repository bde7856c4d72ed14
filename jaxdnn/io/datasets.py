"""Data sets by name: the course's 2-D toy sets, the digits, the cat images
(:mod:`jaxdnn.io.cat`), and the split a run trains and tests on (:func:`load_split`).

Shapes follow the course, one example per column once data is ready for a network:

* The 2-D sets (``load_planar_dataset``, ``noisy_circles``, ``noisy_moons``, ``blobs``,
  ``spirals``, ``gaussian_quantiles``, ``no_structure``): ``X`` is ``(2, N)`` float64 and ``Y``
  is ``(1, N)`` uint8 in {0, 1}, or class ids 0..K-1 for the K-class forms of ``blobs`` and
  ``spirals`` (``multiclass=True``). ``DATASETS`` maps the command line's names to them and
  ``load_dataset`` looks one up by name.

* The handwritten digits (``load_digits``): the 1797 8 x 8 images that scikit-learn ships inside
  its wheel (no download), ``X`` ``(64, 1797)`` float64 in [0, 1] and ``Y`` ``(1, 1797)`` uint8
  class ids 0..9; scikit-learn is an optional extra (``pip install 'jaxdnn[digits]'``).

The toy sets are generated here with numpy (no scikit-learn), following scikit-learn's
``make_*`` recipes, and are deterministic given ``seed``; they are ordered by class, not
shuffled.
"""

import math

import numpy as np

from ..core import limits, numeric
from ..errors import DataError, NameLookupError, OptionError, ShapeError
from .cat import load_cat_data

# --- the 2-D toy sets -----------------------------------------------------------------------


def load_planar_dataset():
    """The course's "flower": two classes of 200 points on the petals of ``r = 4 sin(4 theta)``.

    Bit for bit the course's numbers, drawn from a local ``np.random.RandomState(1)``, the same
    stream as the course's ``np.random.seed(1)`` but leaving numpy's global generator alone.

    Returns:
      ``(X, Y)``: ``X`` ``(2, 400)`` float64, ``Y`` ``(1, 400)`` uint8.

    >>> X, Y = load_planar_dataset()
    >>> X.shape, Y.shape, int(Y.sum())
    ((2, 400), (1, 400), 200)
    """
    rng = np.random.RandomState(1)
    m, petal_length = 400, 4
    n = m // 2
    X = np.zeros((m, 2))
    Y = np.zeros((m, 1), dtype=np.uint8)
    for j in range(2):
        rows = slice(n * j, n * (j + 1))
        theta = np.linspace(j * 3.12, (j + 1) * 3.12, n) + rng.randn(n) * 0.2
        radius = petal_length * np.sin(4 * theta) + rng.randn(n) * 0.2
        X[rows] = np.c_[radius * np.sin(theta), radius * np.cos(theta)]
        Y[rows] = j
    return X.T, Y.T


def noisy_circles(n_samples=200, factor=0.5, noise=0.3, seed=0):
    """Two concentric circles (scikit-learn's ``make_circles``).

    Label 0: ``n_samples // 2`` points evenly spaced on the unit circle; label 1: the rest on a
    circle of radius ``factor``; then Gaussian noise of standard deviation ``noise`` on each
    coordinate.

    Returns:
      ``(X, Y)``: ``X`` ``(2, n_samples)`` float64, ``Y`` ``(1, n_samples)`` uint8.
    """
    _check_count("n_samples", n_samples, 2)
    numeric.real(factor, "factor")
    if not math.isfinite(factor):
        raise OptionError(f"factor must be a finite number; got {factor!r}")
    rng = _generator(seed, noise=noise)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    X = np.concatenate([_circle(n_outer, 1.0), _circle(n_inner, factor)], axis=1)
    return X + rng.normal(scale=noise, size=X.shape), _two_classes(n_outer, n_inner)


def noisy_moons(n_samples=200, noise=0.2, seed=0):
    """Two interleaving half circles (scikit-learn's ``make_moons``).

    With ``t`` evenly spaced in [0, pi]: label 0 is ``(cos t, sin t)`` (``n_samples // 2``
    points), label 1 is ``(1 - cos t, 1 - sin t - 0.5)`` (the rest); then Gaussian noise of
    standard deviation ``noise`` on each coordinate.

    Returns:
      ``(X, Y)``: ``X`` ``(2, n_samples)`` float64, ``Y`` ``(1, n_samples)`` uint8.
    """
    _check_count("n_samples", n_samples, 2)
    rng = _generator(seed, noise=noise)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    t_outer = np.linspace(0, np.pi, n_outer)
    t_inner = np.linspace(0, np.pi, n_inner)
    X = np.concatenate([np.stack([np.cos(t_outer), np.sin(t_outer)]),
                        np.stack([1 - np.cos(t_inner), 1 - np.sin(t_inner) - 0.5])], axis=1)
    return X + rng.normal(scale=noise, size=X.shape), _two_classes(n_outer, n_inner)


def blobs(n_samples=200, centers=6, seed=5, multiclass=False):
    """Gaussian blobs (scikit-learn's ``make_blobs``), made binary as the course does (``Y % 2``)
    unless ``multiclass``.

    ``centers`` centres drawn uniformly in the box (-10, 10)^2; point ``i`` belongs to centre
    ``i % centers`` (so each centre gets ``n_samples // centers`` points or one more), lies at
    that centre plus standard normal noise, and has label ``centre index % 2`` (``multiclass``:
    the centre index, one class per centre).

    Returns:
      ``(X, Y)``: ``X`` ``(2, n_samples)`` float64, ``Y`` ``(1, n_samples)`` uint8.
    """
    _check_count("n_samples", n_samples, 2)
    _check_count("centers", centers, 2)
    rng = _generator(seed)
    centres = rng.uniform(-10, 10, size=(2, centers))
    index = np.arange(n_samples) % centers
    X = centres[:, index] + rng.normal(size=(2, n_samples))
    return X, (index if multiclass else index % 2).astype(np.uint8)[np.newaxis]


def spirals(n_samples=300, arms=3, noise=0.2, seed=0, multiclass=False):
    """Interleaved spiral arms, one class per arm (the classic non-linear K-class set), made
    binary as :func:`blobs` is (``arm % 2``) unless ``multiclass``.

    Arm k holds ``n_samples // arms`` points (the first arms one more while some are left) at
    radius r from 0 to 1 and angle ``4 r + 2 pi k / arms`` plus Gaussian noise of standard
    deviation ``noise``.

    Returns:
      ``(X, Y)``: ``X`` ``(2, n_samples)`` float64, ``Y`` ``(1, n_samples)`` uint8.
    """
    _check_count("n_samples", n_samples, 2)
    _check_count("arms", arms, 2)
    rng = _generator(seed, noise=noise)
    arm = np.sort(np.arange(n_samples) % arms)
    r = np.concatenate([np.linspace(0, 1, np.sum(arm == k)) for k in range(arms)])
    theta = 4 * r + 2 * np.pi * arm / arms + rng.normal(scale=noise, size=n_samples)
    X = r * np.stack([np.cos(theta), np.sin(theta)])
    return X, (arm if multiclass else arm % 2).astype(np.uint8)[np.newaxis]


def gaussian_quantiles(n_samples=200, cov=0.5, seed=0):
    """Two classes split by a quantile of a Gaussian (scikit-learn's ``make_gaussian_quantiles``).

    Points are drawn from a zero-mean Gaussian with covariance ``cov * I`` and sorted by squared
    distance from the mean; the nearer ``n_samples // 2`` get label 0, the rest label 1.

    Returns:
      ``(X, Y)``: ``X`` ``(2, n_samples)`` float64, ``Y`` ``(1, n_samples)`` uint8.
    """
    _check_count("n_samples", n_samples, 2)
    rng = _generator(seed, cov=cov)
    X = rng.normal(scale=np.sqrt(cov), size=(2, n_samples))
    X = X[:, np.argsort(np.sum(X**2, axis=0))]
    n_near = n_samples // 2
    return X, _two_classes(n_near, n_samples - n_near)


def no_structure(n_samples=200, seed=0):
    """Points uniform in [0, 1)^2 with independent, uniformly random labels: nothing to learn.

    Returns:
      ``(X, Y)``: ``X`` ``(2, n_samples)`` float64, ``Y`` ``(1, n_samples)`` uint8.
    """
    _check_count("n_samples", n_samples, 2)
    rng = _generator(seed)
    X = rng.random((2, n_samples))
    return X, rng.integers(0, 2, size=(1, n_samples), dtype=np.uint8)


# --- a real multi-class set ----------------------------------------------------------------


def load_digits():
    """scikit-learn's 8x8 handwritten digits: ``(X, Y)``, X (64, 1797) the pixel intensities
    0..16 scaled to [0, 1], Y (1, 1797) uint8 class ids 0..9 (the digit shown).

    Raises:
      DataError: scikit-learn is not installed (``pip install 'jaxdnn[digits]'``).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise DataError("the digits data set comes inside scikit-learn: "
                        "pip install 'jaxdnn[digits]'") from None
    digits = sklearn_digits()
    return digits.data.T / 16.0, digits.target[np.newaxis].astype(np.uint8)


DIGIT_CLASSES = [str(k) for k in range(10)]


DATASETS = {
    "planar": load_planar_dataset,
    "moons": noisy_moons,
    "circles": noisy_circles,
    "blobs": blobs,
    "spirals": spirals,
    "gaussian-quantiles": gaussian_quantiles,
    "no-structure": no_structure,
}
"""The 2-D sets by command-line name. Each loader can be called with no argument; all but
``"planar"`` (the course's fixed set) also take ``seed=``; those of :data:`MULTICLASS` take
``multiclass=``."""

MULTICLASS = {"blobs": 6, "spirals": 3}
"""The sets with more than two classes, and how many they have by default. Binary (the course's
``% 2``) unless asked for with ``multiclass=True``; the others have two classes either way."""


def load_dataset(name, seed=None, *, multiclass=False):
    """Generate the 2-D set called ``name`` (a key of ``DATASETS``).

    Args:
      name: ``"planar"``, ``"moons"``, ``"circles"``, ``"blobs"``, ``"spirals"``,
        ``"gaussian-quantiles"`` or ``"no-structure"``.
      seed: the generator's seed; None for its default. ``"planar"`` ignores it.
      multiclass: the K-class form of the sets of :data:`MULTICLASS` (class ids 0..K-1);
        otherwise their labels are binary (``% 2``), as the course's blobs.

    Returns:
      ``(X, Y)``: ``X`` ``(2, N)`` float64, ``Y`` ``(1, N)`` uint8.

    Raises:
      NameLookupError: ``name`` is not a key of ``DATASETS``; the message lists the valid names.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise NameLookupError(f"unknown data set {name!r}; valid names: {', '.join(DATASETS)}")
    if seed is not None:
        numeric.seed(seed)
    loader = DATASETS[name]
    options = {} if seed is None or loader is load_planar_dataset else {"seed": seed}
    if multiclass and name in MULTICLASS:
        options["multiclass"] = True
    return loader(**options)


IMAGES = ("cat",)
"""The data sets of images (the course's cat files): their models classify your own images."""
ONLY_MULTICLASS = ("digits",)
"""The data sets of more than two classes only: a softmax's."""
NAMES = (*DATASETS, *IMAGES, *ONLY_MULTICLASS)
"""Every data set :func:`load_split` knows, by name."""


def load_split(name, data_dir="datasets", seed=None, *, multiclass=False):
    """A data set by name, split for training: ``"cat"`` (the course's files in ``data_dir``),
    ``"digits"`` (:func:`load_digits`, with ``multiclass``) or a 2-D set of :data:`DATASETS`
    (generated with ``seed`` and ``multiclass``); all but the cat's split 80/20 by a fixed
    permutation.

    Returns:
      ``(train_x, train_y, test_x, test_y, classes)``: inputs ``(n[0], m)`` float64, labels
      ``(1, m)`` float64 (class ids), and the names of the classes.
    """
    if not isinstance(name, str) or name not in NAMES:
        raise NameLookupError(f"unknown data set {name!r}; valid names: {', '.join(NAMES)}")
    if name == "cat":
        train_x, train_y, test_x, test_y, classes = load_cat_data(data_dir)
        return train_x, train_y, test_x, test_y, [c.decode() for c in classes]
    if name == "digits":
        if not multiclass:
            raise OptionError("the digits have 10 classes: train them with a softmax output")
        X, Y = load_digits()
        classes = DIGIT_CLASSES
    else:
        X, Y = load_dataset(name, seed, multiclass=multiclass)
        classes = [f"class {k}" for k in range(MULTICLASS.get(name, 2) if multiclass else 2)]
    order = np.random.RandomState(0).permutation(X.shape[1])
    train, test = np.split(order, [int(0.8 * X.shape[1])])
    Y = Y.astype(np.float64)
    return X[:, train], Y[:, train], X[:, test], Y[:, test], classes


def _circle(n, radius):
    """``n`` points evenly spaced on a circle of ``radius`` about the origin, ``(2, n)``."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return radius * np.stack([np.cos(t), np.sin(t)])


def _two_classes(n_zero, n_one):
    """Labels ``(1, n_zero + n_one)`` uint8: ``n_zero`` zeros, then ``n_one`` ones."""
    return np.repeat(np.array([0, 1], dtype=np.uint8), [n_zero, n_one])[np.newaxis]


_COUNT_LIMITS = {"n_samples": "MAX_DATASET_SAMPLES", "centers": "MAX_DATASET_CLASSES",
                 "arms": "MAX_DATASET_CLASSES"}


def _check_count(name, value, minimum):
    """``value`` must be an integer (not a bool) of at least ``minimum`` and at most its limit
    (:data:`~jaxdnn.core.limits.MAX_DATASET_SAMPLES` points,
    :data:`~jaxdnn.core.limits.MAX_DATASET_CLASSES` classes): it sizes an array and a loop."""
    if numeric.count(value, name) < minimum:
        raise ShapeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    limit = _COUNT_LIMITS[name]
    if value > getattr(limits, limit):
        raise OptionError(f"{name} = {value:,} is above the limit of "
                          f"{getattr(limits, limit):,} ({limit})")


def _generator(seed, **scales):
    """numpy's generator of ``seed`` (a count below 2**32), once every standard deviation or
    variance of ``scales`` is a finite number, not negative."""
    for name, value in scales.items():
        numeric.nonnegative(value, name)
    return np.random.default_rng(numeric.seed(seed))
