"""The command a new user meets: --version, python -m jaxdnn, a --help that needs no jax, help
and defaults on the options, one error prefix, refused empty list items, evaluate and predict
of every kind of model, and the notes a result line needs."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from test_cli import SWISH, figures_of
from test_train import DATA, needs_cat_data

from jaxdnn.app.cli import main

ENV = dict(os.environ, JAX_PLATFORMS="cpu")


def test_version_and_python_dash_m(tmp_path):
    from importlib.metadata import version

    for command in (["jaxdnn"], [sys.executable, "-m", "jaxdnn"]):
        result = subprocess.run([*command, "--version"], capture_output=True, text=True,
                                env=ENV, cwd=tmp_path, timeout=120)
        assert result.returncode == 0 and result.stdout == f"jaxdnn {version('jaxdnn')}\n"


def test_top_level_help_lists_every_command_and_imports_no_jax():
    code = ("import sys\nimport jaxdnn.__main__ as entry\ntry:\n"
            "    entry._answered_without_jax(['--help'])\nexcept SystemExit as e:\n"
            "    assert e.code == 0\nassert 'jax' not in sys.modules, 'jax was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr
    for command in ("train", "evaluate", "predict", "sweep", "compare", "check",
                    "plot-activations"):
        assert re.search(rf"^    {command}\b", result.stdout, re.M), command
    assert "``" not in result.stdout and ":func:" not in result.stdout


def test_import_jaxdnn_is_lazy_and_every_public_name_resolves():
    code = ("import sys\nimport jaxdnn\nassert 'jax' not in sys.modules\n"
            "names = [getattr(jaxdnn, n) for n in jaxdnn.__all__]\n"
            "import jaxdnn.planar\nassert jaxdnn.planar is jaxdnn.course.planar\n"
            "assert jaxdnn.fit is jaxdnn.train.fit.fit\nprint(len(names))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml")) as f:
        project = f.read()
    assert 'jaxdnn = "jaxdnn.__main__:main"' in project and "py-modules" not in project


@pytest.mark.parametrize("argv", [
    ["train", "--layers", "20,,5"], ["train", "--layers", "20,"],
    ["sweep", "--hidden-sizes", ",3"], ["sweep", "--learning-rates", "0.5,,1"],
    ["compare", "--hidden-activation", "tanh,,relu"], ["check", "--layers", "4,,3"],
])
def test_an_empty_item_of_a_list_option_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert err.startswith("jaxdnn: error: argument ") and "an empty item" in err


@pytest.mark.parametrize("command, shown", [
    ("sweep", ["(default: 1,2,3,4,5,20,50)", "(default: 5000)", "(default: runs/sweep)"]),
    ("compare", ["(default: tanh,relu,leaky_relu)", "(default: cat)", "(default: 3000)"]),
    ("check", ["(default: sigmoid)", "seed of the random networks (default: 0)"]),
    ("evaluate", ["default: the data set the model was trained on"]),
])
def test_options_have_help_and_show_their_defaults(command, shown, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for part in shown:
        assert part in text, part
    assert "(default: None)" not in text


def test_a_note_when_the_cost_rose_and_no_jargon(tmp_path, capsys):
    assert main(["train", "--dataset", "moons", "--learning-rate", "100", "--iterations",
                 "300", "--out", str(tmp_path / "r"), "-q"]) == 0
    printed = capsys.readouterr()
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["final_cost"] > metrics["initial_cost"]
    assert "jaxdnn: note: the final cost" in printed.err and "smaller --learning-rate" in \
        printed.err
    assert "Gram" not in printed.out and "plain loop" not in printed.out
    assert re.search(r"^Train accuracy: \d+\.\d\d %$", printed.out, re.M)


def test_a_sweep_over_one_seed_shows_no_spread(tmp_path, capsys, monkeypatch):
    saved = figures_of(monkeypatch)
    assert main(["sweep", "--hidden-sizes", "2", "--iterations", "50", "--out",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "±" not in out and "1 seeds" not in out and "(1 seed" not in out
    legend = [t.get_text() for t in saved["sweep_accuracy.png"].axes[0].get_legend().get_texts()]
    assert "learning rate 1.2 (1 seed)" in legend


def test_evaluate_a_checkpoint_uses_its_data_and_a_softmax_prints_its_classes(tmp_path, capsys):
    out = tmp_path / "blobs"
    assert main(["train", "--dataset", "blobs", "--output", "softmax", "--iterations", "100",
                 "--out", str(out), "-q"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    capsys.readouterr()
    for params in ("model.npz", "checkpoint.npz"):  # a checkpoint records its run, not planar
        assert main(["evaluate", "--params", str(out / params)]) == 0
        printed = capsys.readouterr().out
        assert f"Test accuracy: {100 * metrics['test_accuracy']:.2f} %" in printed
        assert "Test accuracy per class: class 0 " in printed and "confusion matrix" in printed


def test_predict_rows_of_features_for_a_2d_model(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--iterations", "50", "--out", str(out), "-q"]) == 0
    np.savetxt(tmp_path / "points.csv", [[0.5, 1.0], [-2.0, 3.0]], delimiter=",",
               header="x1,x2", comments="")
    np.save(tmp_path / "points.npy", np.array([[0.5, 1.0]]))
    np.save(tmp_path / "columns.npy", np.zeros((2, 5)))
    capsys.readouterr()
    code = main(["predict", "--params", str(out / "model.npz"), str(tmp_path / "points.csv"),
                 str(tmp_path / "points.npy"), str(tmp_path / "columns.npy")])
    printed = capsys.readouterr()
    assert code == 2
    lines = printed.out.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"{tmp_path / 'points.csv'} row 1", f"{tmp_path / 'points.csv'} row 2",
        f"{tmp_path / 'points.npy'} row 1"]
    assert lines[0].split(": ")[1] == lines[2].split(": ")[1]  # the same point, the same answer
    assert "rows of 2 features expected, got an array of shape (2, 5) (one example per row: " \
           "transpose it)" in printed.err


def test_a_model_with_a_users_activation_can_be_evaluated_and_predicted(tmp_path, monkeypatch,
                                                                        capsys):
    (tmp_path / "myact.py").write_text(SWISH)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--hidden-activation", "myact:swish", "--iterations", "20",
                 "--out", "run", "-q"]) == 0
    np.save(tmp_path / "p.npy", np.array([[0.5, 1.0]]))
    capsys.readouterr()
    assert main(["evaluate", "--params", "run/model.npz", "--hidden-activation",
                 "myact:swish"]) == 0
    assert "Test accuracy: " in capsys.readouterr().out
    assert main(["predict", "--params", "run/model.npz", "--hidden-activation", "myact:swish",
                 "p.npy"]) == 0
    assert capsys.readouterr().out.startswith("p.npy row 1: ")
    assert main(["evaluate", "--params", "run/model.npz", "--hidden-activation",
                 "myact:broken"]) == 2


@needs_cat_data
def test_evaluate_remembers_the_data_folder_of_a_cat_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "cat"
    assert main(["train", "--dataset", "cat", "--data-dir", str(DATA), "--iterations", "3",
                 "--out", str(out), "-q"]) == 0
    monkeypatch.chdir(tmp_path)  # a folder without datasets/: the recorded one is read
    capsys.readouterr()
    assert main(["evaluate", "--params", str(out / "model.npz")]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"Test accuracy: {100 * metrics['test_accuracy']:.2f} %" in capsys.readouterr().out


def test_the_cost_figure_draws_every_epoch_and_ends_at_the_last(tmp_path, monkeypatch, capsys):
    """A 150-epoch mini-batch run: 150 points, the last at epoch 149 with the final cost (the
    course's every-100th sampling drew two points, ending at epoch 100)."""
    saved = figures_of(monkeypatch)
    assert main(["train", "--dataset", "moons", "--mini-batch-size", "64", "--epochs", "150",
                 "--checkpoint-every", "0", "--out", str(tmp_path), "-q"]) == 0
    final = json.loads((tmp_path / "metrics.json").read_text())["final_cost"]
    line, last = saved["costs.png"].axes[0].get_lines()
    assert list(line.get_xdata()) == list(range(150))
    assert list(last.get_xdata()) == [149] and last.get_ydata()[0] == pytest.approx(final)


def test_a_long_run_is_thinned_evenly_keeping_both_ends():
    from jaxdnn.app import plots

    assert list(plots.thinned(7)) == list(range(7))
    shown = plots.thinned(100001)
    assert len(shown) == plots.POINTS and shown[0] == 0 and shown[-1] == 100000
    assert np.ptp(np.diff(shown)) <= 1  # even steps


def test_predict_an_image_for_the_digits_model(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--mini-batch-size", "256", "--epochs", "1",
                 "--checkpoint-every", "0", "--out", str(out), "-q"]) == 0
    Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(tmp_path / "stroke.png")
    capsys.readouterr()
    assert main(["predict", "--params", str(out / "model.npz"), str(tmp_path / "stroke.png")]) \
        == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"{re.escape(str(tmp_path / 'stroke.png'))}: \d \(p\(\d\) = 0\.\d{{4}}\)",
                        line), line
