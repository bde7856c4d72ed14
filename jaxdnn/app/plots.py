"""Figures, written as PNG files with matplotlib's non-interactive Agg backend.

matplotlib is an optional dependency (the ``plot`` extra): :func:`require_matplotlib` says how to
install it when it is missing.
"""

import importlib.util
import threading

import numpy as np

from ..core.activations import ACTIVATIONS
from ..errors import JaxdnnError


class MissingPlotExtra(JaxdnnError, ImportError):
    """matplotlib is not installed."""


def require_matplotlib():
    """Import pyplot on the Agg backend, or raise :class:`MissingPlotExtra` saying what to do."""
    try:
        import matplotlib
    except ImportError as e:
        raise MissingPlotExtra(
            f"plots need matplotlib: pip install 'jaxdnn[plot]' (or pip install matplotlib); "
            f"importing it said: {e}"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def skipped(error):
    """The command's note when figures cannot be drawn."""
    return f"jaxdnn: note: {error}; figures are skipped"


_background = {}
"""The thread importing pyplot (``"thread"``) and what the import raised (``"error"``)."""


def import_in_background():
    """Start importing pyplot on a thread (about 0.3 s of the command's time, which then
    overlaps the training loop); raise :class:`MissingPlotExtra` now if matplotlib is missing.
    :func:`import_failure` waits for it."""
    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # e.g. sys.modules["matplotlib"] = None
        found = False
    if not found:
        require_matplotlib()  # raises, saying what to do
    _background.clear()
    _background["thread"] = threading.Thread(target=_import, daemon=True)
    _background["thread"].start()


def _import():
    try:
        require_matplotlib()
    except Exception as e:  # an installed matplotlib that fails: said by import_failure
        _background["error"] = e


def import_failure():
    """Once the background import has ended: None if pyplot loaded (or none was started), else
    what it raised."""
    thread = _background.get("thread")
    if thread is not None:
        thread.join()
    return _background.get("error")


def _save(fig, path):
    fig.savefig(path, dpi=100, bbox_inches="tight")
    require_matplotlib().close(fig)


def _seeds(n):
    return f"{n} seed{'s' if n != 1 else ''}"


POINTS = 500
"""The most points a cost curve draws: longer runs are thinned, evenly, keeping the last."""


def thinned(n, points=POINTS):
    """The indices of a curve of ``n`` costs that :func:`plot_costs` draws: every one, or
    ``points`` of them evenly spaced, the first and the last among them."""
    if n <= points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, points).round().astype(int))


def plot_costs(costs, path, title="cost", unit="iteration"):
    """The cost curve: every iteration's (epoch's) cost, thinned to :data:`POINTS` points for
    a long run, the last one always drawn and marked; ``title`` says what was trained."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6, 4))
    costs = np.asarray(costs)
    shown = thinned(len(costs))
    ax.plot(shown, costs[shown], label=f"cost per {unit}")
    if len(costs):
        ax.plot([len(costs) - 1], [costs[-1]], "o", ms=4,
                label=f"final cost {costs[-1]:.4g} ({unit} {len(costs) - 1})")
        ax.legend(fontsize=8)
    ax.set(xlabel=unit, ylabel="cost", title=title)
    _save(fig, path)


def plot_learning_curves(curves, path, title="learning curves",
                         labels=("training set", "test set"), best_epoch=None):
    """Each set's cross-entropy at the end of each epoch: ``curves`` (epochs, sets), one line
    per label; ``best_epoch`` (0-based), early stopping's choice, marked."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6, 4))
    curves = np.asarray(curves)
    epochs = np.arange(1, len(curves) + 1)
    for column, label in enumerate(labels):
        ax.plot(epochs, curves[:, column], label=label)
    if best_epoch is not None:
        ax.axvline(best_epoch + 1, color="0.5", ls="--", label=f"best (epoch {best_epoch + 1})")
    ax.set(xlabel="epoch", ylabel="cross-entropy (no dropout, no L2 term)", title=title)
    ax.legend()
    _save(fig, path)


def _boundary(ax, predict, X, Y, title, num_classes=2, test=None, classes=None):
    """Two classes in the course's Spectral colours; more, one colour of tab10 per class. The
    training points are circles, the ``test`` points ``(X, Y)`` (if given) triangles; the
    legend names both and the classes (``classes``, else "class k")."""
    import matplotlib
    from matplotlib.patches import Patch

    points = X if test is None else np.concatenate([X, test[0]], axis=1)
    pad = 1.0 if np.ptp(points) > 4 else 0.25
    x_min, x_max = points[0].min() - pad, points[0].max() + pad
    y_min, y_max = points[1].min() - pad, points[1].max() + pad
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, 300), np.linspace(y_min, y_max, 300))
    Z = np.asarray(predict(np.c_[xx.ravel(), yy.ravel()].T)).reshape(xx.shape)
    if num_classes > 2:
        style = {"cmap": "tab10", "vmin": -0.5, "vmax": 9.5}
        ax.contourf(xx, yy, Z, levels=np.arange(num_classes + 1) - 0.5, alpha=0.5, **style)
    else:
        style = {"cmap": "Spectral", "vmin": 0, "vmax": 1}
        ax.contourf(xx, yy, Z, alpha=0.8, **style)
    handles = [ax.scatter(X[0], X[1], c=np.ravel(Y), s=12, edgecolors="k", linewidths=0.3,
                          label=f"training set ({X.shape[1]})", **style)]
    if test is not None:
        handles.append(ax.scatter(test[0][0], test[0][1], c=np.ravel(test[1]), s=30, marker="^",
                                  edgecolors="k", linewidths=0.6,
                                  label=f"test set ({test[0].shape[1]})", **style))
    cmap = matplotlib.colormaps[style["cmap"]]
    names = classes or [f"class {k}" for k in range(num_classes)]
    # a float in [0, 1] picks a colour along the map (an int would index its table)
    handles += [Patch(color=cmap((k + 0.5) / 10 if num_classes > 2 else float(k)),
                      label=names[k])
                for k in range(num_classes)]
    ax.legend(handles=handles, fontsize=7, loc="best", framealpha=0.8)
    ax.set(xlabel="x1 (first feature)", ylabel="x2 (second feature)", title=title)


def plot_decision_boundary(predict, X, Y, path, title="decision boundary", num_classes=2,
                           test=None, classes=None):
    """Filled contour of ``predict`` ((2, k) points -> (1, k) labels) under the 2-D training
    data and, if given, the ``test`` data ``(X, Y)``."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6, 5))
    _boundary(ax, predict, X, Y, title, num_classes, test, classes)
    _save(fig, path)


def plot_decision_boundaries(panels, X, Y, path):
    """One decision boundary per ``(title, predict)`` panel, in a grid."""
    plt = require_matplotlib()
    cols = min(len(panels), 4)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)
    for ax, (title, predict) in zip(axes.flat, panels, strict=False):
        _boundary(ax, predict, X, Y, title)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    _save(fig, path)


def plot_sweep(summary, baseline, path):
    """Accuracy against the hidden layer's size, :func:`jaxdnn.run.summarise_sweep`'s rows: the
    mean over the seeds with the standard deviation as error bars, one line per learning rate,
    and the logistic-regression ``baseline`` as a dashed line."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    sizes = sorted({row["hidden_units"] for row in summary})
    for rate in dict.fromkeys(row["learning_rate"] for row in summary):
        done = [row for row in summary if row["learning_rate"] == rate and row["accuracy"]]
        ax.errorbar([sizes.index(row["hidden_units"]) for row in done],
                    [row["accuracy"]["mean"] for row in done],
                    yerr=[row["accuracy"]["std"] for row in done], capsize=4, marker="o",
                    label=f"learning rate {rate:g} ({_seeds(max(row['runs'] for row in done))})"
                    if done else None)
    ax.axhline(baseline, color="0.5", ls="--", label="logistic regression")
    ax.set(xticks=range(len(sizes)), xticklabels=sizes, xlabel="hidden units",
           ylabel="training accuracy", title="planar data: accuracy against hidden size")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_mislabeled(images, predicted, actual, classes, path):
    """The misclassified images (k, h, w, 3) with their predicted and true class names."""
    plt = require_matplotlib()
    k = max(len(images), 1)
    cols = min(k, 6)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, p, y in zip(axes.flat, images, predicted, actual, strict=False):
        ax.imshow(image, interpolation="nearest")
        ax.set_title(f"Prediction: {classes[p]}\nClass: {classes[y]}", fontsize=8)
    if not len(images):
        axes.flat[0].set_title("no mislabeled images")
    _save(fig, path)


def plot_activations(path):
    """Every registered activation and its derivative on [-5, 5]."""
    plt = require_matplotlib()
    Z = np.linspace(-5, 5, 1001).reshape(1, -1)
    fig, axes = plt.subplots(1, len(ACTIVATIONS), figsize=(4 * len(ACTIVATIONS), 3.4))
    for ax, (name, act) in zip(axes, sorted(ACTIVATIONS.items()), strict=True):
        A, cache = act.forward(Z)
        ax.plot(Z[0], np.asarray(A)[0], label="g(z)")
        ax.plot(Z[0], np.asarray(act.backward(np.ones_like(Z), cache))[0], "--", label="g'(z)")
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_title(name)
        ax.legend()
    _save(fig, path)


def plot_comparison(runs, path):
    """:func:`jaxdnn.run.compare`'s runs, one column per learning rate: the cost curves (median
    and 10-90 % band over the seeds, per activation) above the test accuracies (one dot per
    seed, the mean as a bar)."""
    plt = require_matplotlib()
    rates = sorted({run.learning_rate for run in runs})
    names = list(dict.fromkeys(run.activation for run in runs))
    fig, axes = plt.subplots(2, len(rates), figsize=(5.5 * len(rates), 8.5), squeeze=False)
    for column, rate in enumerate(rates):
        top, bottom = axes[0, column], axes[1, column]
        for k, name in enumerate(names):
            group = [run for run in runs if run.learning_rate == rate and run.activation == name]
            costs = np.array([run.costs for run in group])
            steps = np.arange(costs.shape[1])
            low, mid, high = np.nanpercentile(costs, [10, 50, 90], axis=0)
            (line,) = top.plot(steps, mid, label=f"{name} (median)")
            top.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
            accuracies = [run.test_accuracy for run in group if run.test_accuracy is not None]
            jitter = np.random.RandomState(k).uniform(-0.15, 0.15, len(accuracies))
            bottom.scatter(k + jitter, accuracies, s=12, color=line.get_color())
            if accuracies:
                bottom.hlines(np.mean(accuracies), k - 0.3, k + 0.3, color="k")
        top.set(title=f"learning rate {rate}", xlabel="iteration", ylabel="cost")
        top.legend(fontsize=8)
        bottom.set(xticks=range(len(names)), xticklabels=names, ylabel="test accuracy",
                   title=f"{_seeds(len(group))} per activation")
    fig.tight_layout()
    _save(fig, path)
