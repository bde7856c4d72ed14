"""The jaxdnn command: outputs, figures checked as images, and one-line errors with exit code 2."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image
from test_train import DATA, needs_cat_data

import jaxdnn
from jaxdnn import initialize_parameters_deep, load_model, save_model
from jaxdnn.app import execute as run_module
from jaxdnn.app import plots
from jaxdnn.app.cli import main
from jaxdnn.train import reports


def run(*argv):
    """The installed console script, as a user runs it."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run(["jaxdnn", *argv], capture_output=True, text=True, env=env,
                          timeout=600)


def png_size(path):
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def test_train_default_planar(tmp_path):
    out = tmp_path / "run"
    result = run("train", "--iterations", "300", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Cost after iteration 0: ")
    assert "Cost after iteration 200: " in lines[2]
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    assert sorted(os.listdir(out)) == ["checkpoint.npz", "costs.png", "decision_boundary.png",
                                       "metrics.json", "model.npz"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["layer_dims"] == [2, 4, 1] and metrics["iterations"] == 300
    assert 0.5 <= metrics["train_accuracy"] <= 1
    for png in ("costs.png", "decision_boundary.png"):
        width, height = png_size(out / png)
        assert width > 300 and height > 200
    assert np.isfinite(metrics["final_cost"]) and 0.5 <= metrics["test_accuracy"] <= 1
    params, meta = load_model(out / "model.npz")
    assert meta["hidden_activation"] == "tanh" and params["W1"].shape == (4, 2)
    assert meta["seed"] == 2  # the course's planar initialisation seed

    evaluated = run("evaluate", "--params", str(out / "model.npz"))
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"Train accuracy: {100 * metrics['train_accuracy']:.2f} %" in evaluated.stdout


@pytest.mark.parametrize("dataset", ["moons", "circles", "blobs", "gaussian-quantiles",
                                     "no-structure"])
def test_train_other_2d_sets(tmp_path, dataset, capsys):
    out = tmp_path / dataset
    assert main(["train", "--dataset", dataset, "--iterations", "50", "--layers", "3,2",
                 "--hidden-activation", "relu", "--init", "he", "--optimizer", "adam",
                 "--learning-rate", "0.01", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["layer_dims"] == [2, 3, 2, 1]


@pytest.mark.parametrize("argv, message", [
    (["train", "--layers", "4,0"], "a layer size must be at least 1; got 0"),
    (["train", "--learning-rate", "-1"], "must be finite and positive"),
    (["train", "--learning-rate", "inf"], "must be finite and positive"),
    (["train", "--iterations", "-5"], "must not be negative"),
    (["train", "--dataset", "mnist"], "invalid choice: 'mnist'"),
    (["train", "--hidden-activation", "swish"], "or MODULE:OBJECT; got 'swish'"),
    (["train", "--init", "xavier"], "invalid choice: 'xavier'"),
    (["train", "--dataset", "cat", "--data-dir", "/nonexistent"],
     "/nonexistent/train_catvnoncat.h5 not found"),
    (["evaluate", "--params", "/nonexistent/model.npz"], "no such model file"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_errors_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        sys.exit(main([*argv, "--out", str(out)] if argv[0] == "train" else argv))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_a_failing_figure_leaves_out_untouched(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("jaxdnn.app.plots.plot_costs", broken)
    out = tmp_path / "out"
    assert main(["train", "--iterations", "5", "--out", str(out)]) == 2
    assert "disk full" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["out"]  # no staging folder left behind
    assert os.listdir(out) == ["checkpoint.npz"]  # the training is not lost:
    monkeypatch.undo()
    assert main(["train", "--resume", str(out)]) == 0  # writes the outputs, trains nothing
    assert "Cost after" not in capsys.readouterr().out
    assert "model.npz" in os.listdir(out)


@pytest.mark.parametrize("flags", [["--dtype", "float64"], ["--x64"]])
def test_evaluate_uses_the_trained_dtype(tmp_path, capsys, flags):
    out = tmp_path / "x64"
    assert main(["train", *flags, "--iterations", "50", "--out", str(out)]) == 0
    trained = json.loads((out / "metrics.json").read_text())
    assert trained["dtype"] == "float64"
    assert main(["evaluate", "--params", str(out / "model.npz")]) == 0
    assert f"Test accuracy: {100 * trained['test_accuracy']:.2f} %" in capsys.readouterr().out


def test_predict_images_and_bad_files(tmp_path, capsys):
    out = tmp_path / "img"
    rng = np.random.RandomState(0)
    X = rng.rand(8 * 8 * 3, 6)
    from jaxdnn import fit, initialize_parameters_deep, save_model
    params, _ = fit(X, (rng.rand(1, 6) > 0.5).astype(float),
                    initialize_parameters_deep([192, 3, 1], numpy_seed=1), num_iterations=5)
    out.mkdir()
    save_model(out / "model.npz", params, {"classes": ["non-cat", "cat"],
                                           "hidden_activation": "relu"})
    Image.fromarray((rng.rand(20, 30, 3) * 255).astype(np.uint8)).save(out / "a.png")
    Image.fromarray((rng.rand(5, 5) * 255).astype(np.uint8)).save(out / "b.jpg")  # grey
    (out / "c.png").write_text("not an image")
    code = main(["predict", "--params", str(out / "model.npz"), str(out / "a.png"),
                 str(out / "c.png"), str(out / "b.jpg")])
    captured = capsys.readouterr()
    assert code == 2
    predicted = captured.out.splitlines()
    assert [line.split(":")[0] for line in predicted] == [str(out / "a.png"), str(out / "b.jpg")]
    assert all("(p(cat) = " in line for line in predicted)
    assert "c.png: not a readable image" in captured.err


def test_predict_prints_a_file_name_that_is_not_utf_8(tmp_path, capsys):
    """A name of bytes that are not UTF-8 (surrogates in Python's str) is printed with its
    undecodable bytes replaced, on a UTF-8 stdout, instead of ending the command."""
    params = initialize_parameters_deep([192, 1], numpy_seed=1)
    save_model(tmp_path / "model.npz", params, {"classes": ["non-cat", "cat"]})
    name = os.fsdecode(b"chat-\xe9t\xe9.png")  # Latin-1 bytes
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / name)
    assert main(["predict", "--params", str(tmp_path / "model.npz"), str(tmp_path / name)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path}/chat-\ufffdt\ufffd.png: ") and "(p(cat) = " in out


def test_predict_refuses_model_not_trained_on_images(tmp_path, capsys):
    from jaxdnn import initialize_parameters_deep, save_model
    save_model(tmp_path / "m.npz", initialize_parameters_deep([2, 1], numpy_seed=0))
    assert main(["predict", "--params", str(tmp_path / "m.npz"), "x.png"]) == 2
    assert "trained on 2 features, not on images: give a .csv or .npy file" in \
        capsys.readouterr().err


def test_plot_activations_and_sweep(tmp_path):
    assert main(["plot-activations", "--out", str(tmp_path)]) == 0
    width, height = png_size(tmp_path / "activations.png")
    assert width > 800 and height > 200
    assert main(["sweep", "--hidden-sizes", "1,4", "--iterations", "500",
                 "--out", str(tmp_path / "sweep")]) == 0
    rows = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [r["hidden_units"] for r in rows] == [0, 1, 4]  # 0: the logistic baseline
    assert rows[0]["accuracy"] == 0.47  # the course's baseline on the flower
    assert png_size(tmp_path / "sweep" / "sweep.png")[0] > 500


def test_sweep_over_seeds_and_rates_in_one_program(tmp_path, capsys):
    """Sizes x seeds x learning rates, each model as nn_model trains it alone; the table's mean
    and spread over the seeds are those of sweep.json's rows."""
    out = tmp_path / "sweep"
    assert main(["sweep", "--hidden-sizes", "1,4", "--iterations", "300", "--seeds", "3",
                 "--learning-rates", "0.5,1.2", "--out", str(out)]) == 0
    rows = json.loads((out / "sweep.json").read_text())
    assert [(r["hidden_units"], r["learning_rate"], r["seed"]) for r in rows[1:]] == [
        (n, rate, seed) for n in (1, 4) for rate in (0.5, 1.2) for seed in (2, 3, 4)]
    X, Y = jaxdnn.load_planar_dataset()
    for row in rows[1:4]:
        alone, _ = jaxdnn.nn_model(X, Y, 1, 300, learning_rate=0.5, seed=row["seed"])
        assert row["accuracy"] == jaxdnn.accuracy(jaxdnn.predict_labels(X, alone, "tanh"), Y)
    table = capsys.readouterr().out.splitlines()
    line = next(line for line in table if line.split()[:2] == ["4", "1.2"])
    accuracies = [100 * r["accuracy"] for r in rows[10:13]]
    assert line.split()[2:5] == [f"{np.mean(accuracies):.2f}", "±", f"{np.std(accuracies):.2f}"]
    assert line.split()[-1] == "0/3"
    assert png_size(out / "sweep_accuracy.png")[0] > 400


@needs_cat_data
def test_train_cat_writes_mislabeled_figure(tmp_path):
    out = tmp_path / "cat"
    assert main(["train", "--dataset", "cat", "--data-dir", str(DATA), "--iterations", "100",
                 "--out", str(out)]) == 0
    assert png_size(out / "mislabeled.png")[0] > 200
    assert json.loads((out / "metrics.json").read_text())["layer_dims"] == [12288, 20, 7, 5, 1]


@needs_cat_data
@pytest.mark.parametrize("argv, path", [([], "gram"), (["--plain"], "plain")])
def test_train_cat_takes_the_gram_path_unless_told_plain(tmp_path, capsys, argv, path):
    """float32 by default, through the Gram path; the command says which, and so do the
    metrics."""
    out = tmp_path / "cat"
    assert main(["train", "--dataset", "cat", "--data-dir", str(DATA), "--iterations", "300",
                 "--checkpoint-every", "130", "--out", str(out), *argv]) == 0
    printed = capsys.readouterr().out
    assert ("The first layer trained through X^T X" in printed) == (path == "gram")
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["path"], metrics["dtype"]) == (path, "float32")
    lines = [line for line in printed.splitlines() if line.startswith("Cost after iteration")]
    # segments 0-129, 130-259, 260-299: each reports its own multiples of 100
    assert [line.split()[3] for line in lines] == ["0:", "100:", "200:"]


def test_train_without_matplotlib_says_how_to_get_figures(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "noplots"
    assert main(["train", "--iterations", "10", "--out", str(out)]) == 0
    assert "pip install 'jaxdnn[plot]'" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["checkpoint.npz", "metrics.json", "model.npz"]


def test_train_with_a_matplotlib_that_fails_to_import_still_writes_the_model(tmp_path):
    """matplotlib is there (pyplot imports on a thread while the run trains) but raises: a note,
    exit 0, the model and metrics written, no figures."""
    fake = tmp_path / "site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('this matplotlib is broken')\n")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": f"{fake.parent}{os.pathsep}"
           f"{os.environ.get('PYTHONPATH', '')}", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(["jaxdnn", "train", "--iterations", "10", "--out", str(out)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "importing it said: this matplotlib is broken; figures are skipped" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(os.listdir(out)) == ["checkpoint.npz", "metrics.json", "model.npz"]


def test_divergence_is_one_line_and_exit_3(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["train", "--learning-rate", "1e30", "--layers", "8,8", "--hidden-activation",
                 "relu", "--init", "he", "--iterations", "200", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 3 and err.startswith("jaxdnn: error: ")  # the one prefix of every error
    assert len(err.strip().splitlines()) == 1 and "diverged at iteration" in err, err
    assert not out.exists()


@pytest.mark.parametrize("argv", [["--iterations", "400"],
                                  ["--iterations", "300", "--optimizer", "adam", "--init", "he",
                                   "--learning-rate", "0.01", "--x64"]])
def test_same_seed_and_options_give_bit_identical_models(tmp_path, argv):
    """Two separate processes, same options: every array of the saved model is bit-identical."""
    models = []
    for run_name in ("a", "b"):
        result = run("train", *argv, "--out", str(tmp_path / run_name))
        assert result.returncode == 0, result.stderr
        models.append(load_model(tmp_path / run_name / "model.npz")[0])
    for key in models[0]:
        assert models[0][key].tobytes() == models[1][key].tobytes(), key


def interrupted(out, signum, argv):
    """Start a training, send ``signum`` once its first checkpoint is on disk, wait for it."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    process = subprocess.Popen(["jaxdnn", "train", *argv, "--out", str(out)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # its signals reach no test process
    while not (out / "checkpoint.npz").exists() and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=600)
    return process.returncode, stdout, stderr


@pytest.mark.parametrize("signum, argv", [
    (signal.SIGINT, ["--iterations", "20000", "--checkpoint-every", "500"]),
    (signal.SIGTERM, ["--iterations", "6000", "--checkpoint-every", "200", "--optimizer", "adam",
                      "--learning-rate", "0.01", "--init", "he", "--x64"]),
])
def test_interrupted_then_resumed_run_is_bit_identical_to_an_uninterrupted_one(
        tmp_path, signum, argv):
    """A real process stopped by a signal saves a checkpoint and exits 128 + signum; --resume
    finishes the run, whose parameters and costs equal an uninterrupted run's, bit for bit."""
    straight = run("train", *argv, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr

    out = tmp_path / "interrupted"
    code, _, stderr = interrupted(out, signum, argv)
    assert code == 128 + signum, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert f"stopped by {signal.Signals(signum).name} at iteration" in stderr
    assert f"jaxdnn train --resume {out}" in stderr
    assert sorted(os.listdir(out)) == ["checkpoint.npz"]  # no final outputs yet
    _, meta = load_model(out / "checkpoint.npz")
    total = int(argv[1])
    assert 0 < meta["iteration"] < total

    resumed = run("train", "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert f"Cost after iteration {meta['iteration'] // 100 * 100 + 100}:" in resumed.stdout
    a, b = (load_model(tmp_path / name / "model.npz")[0] for name in ("straight", "interrupted"))
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key
    costs = [np.load(tmp_path / name / "checkpoint.npz")["__costs__"]
             for name in ("straight", "interrupted")]
    assert len(costs[0]) == total and costs[0].tobytes() == costs[1].tobytes()


@pytest.mark.parametrize("argv, message", [
    (["--layers", "3"], "--resume continues the run recorded in its checkpoint; --layers"),
    (["--x64", "--iterations", "9"], "--iterations, --dtype cannot change it"),
])
def test_resume_refuses_options_that_would_change_the_run(tmp_path, capsys, argv, message):
    assert main(["train", "--iterations", "20", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_resume_needs_a_checkpoint(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert f"{tmp_path / 'checkpoint.npz'}: no such model file" in capsys.readouterr().err
    save_model(tmp_path / "checkpoint.npz", load_model_like())
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a checkpoint written by jaxdnn train" in capsys.readouterr().err


def load_model_like():
    import jax

    return initialize_parameters_deep([2, 4, 1], jax.random.PRNGKey(0))


def test_a_new_run_does_not_overwrite_an_unfinished_one(tmp_path, capsys):
    """An interrupted run's checkpoint is work: a new run into its folder is refused until it is
    resumed; a finished run's checkpoint is simply replaced (none is left stale)."""
    from jaxdnn import init_train_state, save_checkpoint

    assert main(["train", "--iterations", "30", "--checkpoint-every", "10",
                 "--out", str(tmp_path)]) == 0
    state = init_train_state(load_model(tmp_path / "checkpoint.npz")[0])._replace(iteration=10)
    run = load_model(tmp_path / "checkpoint.npz")[1]["run"]
    save_checkpoint(tmp_path / "checkpoint.npz", state, np.ones(10), {"run": run})
    capsys.readouterr()
    assert main(["train", "--iterations", "5", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} holds an unfinished run (iteration 10 of 30)" in err, err
    assert load_model(tmp_path / "checkpoint.npz")[1]["iteration"] == 10  # untouched

    assert main(["train", "--resume", str(tmp_path)]) == 0  # finishes it
    assert main(["train", "--dataset", "cat", "--data-dir", "/nonexistent", "--overwrite",
                 "--out", str(tmp_path)]) == 2
    assert "checkpoint.npz" in os.listdir(tmp_path)  # a failed new run removed nothing
    assert main(["train", "--iterations", "5", "--checkpoint-every", "0", "--overwrite",
                 "--out", str(tmp_path)]) == 0
    assert "checkpoint.npz" not in os.listdir(tmp_path)  # the finished one is not left stale

    (tmp_path / "checkpoint.npz").write_bytes(b"someone else's file")
    assert main(["train", "--iterations", "5", "--overwrite", "--out", str(tmp_path)]) == 2
    assert "is not a checkpoint written by jaxdnn train" in capsys.readouterr().err
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"someone else's file"


def test_train_blobs_softmax_six_classes(tmp_path, capsys):
    out = tmp_path / "blobs"
    assert main(["train", "--dataset", "blobs", "--output", "softmax", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Test accuracy per class: class 0" in printed and "confusion matrix" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["layer_dims"] == [2, 4, 6] and metrics["output"] == "softmax"
    assert metrics["test_accuracy"] >= 0.75  # the floor for these defaults
    confusion = np.array(metrics["test_confusion_matrix"])
    assert confusion.shape == (6, 6) and confusion.sum() == 40
    assert np.trace(confusion) / 40 == metrics["test_accuracy"]
    params, meta = load_model(out / "model.npz")
    assert meta["output"] == "softmax" and len(meta["classes"]) == 6
    # six regions in six colours: the figure's six most common colours are far apart
    with Image.open(out / "decision_boundary.png") as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    top = colours[np.argsort(counts)[::-1][:7]].astype(int)
    regions = [c for c in top if not (c > 240).all()][:6]  # the white margin aside
    assert len(regions) == 6
    assert min(np.abs(a - b).sum() for i, a in enumerate(regions) for b in regions[:i]) > 30
    capsys.readouterr()
    assert main(["evaluate", "--params", str(out / "model.npz")]) == 0
    assert f"Test accuracy: {100 * metrics['test_accuracy']:.2f} %" in capsys.readouterr().out


def test_a_checkpoint_from_before_softmax_outputs_resumes(tmp_path, capsys):
    """Runs recorded as earlier versions recorded them (no "output": a sigmoid run; the
    learning rate, L2, dropout and batch size beside the other settings, 0 for full batches)
    continue as such."""
    from jaxdnn import TrainState, save_checkpoint

    assert main(["train", "--iterations", "20", "--checkpoint-every", "10",
                 "--out", str(tmp_path)]) == 0
    data = np.load(tmp_path / "checkpoint.npz")
    params, meta = load_model(tmp_path / "checkpoint.npz")
    training = meta["run"].pop("training")
    del meta["run"]["output"]
    meta["run"].update(learning_rate=training["learning_rate"], l2=0.0, keep_prob=1.0,
                       mini_batch_size=0, iterations=30)
    state = TrainState(params, None, meta["iteration"])
    save_checkpoint(tmp_path / "checkpoint.npz", state, data["__costs__"], {"run": meta["run"]})
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path)]) == 0
    assert len(np.load(tmp_path / "checkpoint.npz")["__costs__"]) == 30  # trained on to 30
    assert load_model(tmp_path / "model.npz")[1]["output"] == "sigmoid"


def test_predict_images_with_a_softmax_model(tmp_path, capsys):
    rng = np.random.RandomState(0)
    from jaxdnn import fit

    X = rng.rand(8 * 8 * 3, 9)
    params, _ = fit(X, np.arange(9)[None] % 3, initialize_parameters_deep([192, 3, 3],
                                                                       numpy_seed=1),
                    output="softmax", num_iterations=5)
    save_model(tmp_path / "model.npz", params, {"classes": ["cat", "dog", "owl"],
                                                 "hidden_activation": "relu",
                                                 "output": "softmax"})
    Image.fromarray((rng.rand(20, 30, 3) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    assert main(["predict", "--params", str(tmp_path / "model.npz"),
                 str(tmp_path / "a.png")]) == 0
    line = capsys.readouterr().out.strip()
    name = line.split(": ")[1].split(" ")[0]
    assert name in ("cat", "dog", "owl") and f"(p({name}) = " in line


def test_compare_activations_over_seeds_and_learning_rates(tmp_path, capsys):
    out = tmp_path / "compare"
    assert main(["compare", "--dataset", "moons", "--seeds", "2", "--iterations", "300",
                 "--learning-rates", "0.1,0.5", "--layers", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("trained ") == 6 and "Wrote compare.json, compare.png" in printed
    result = json.loads((out / "compare.json").read_text())
    assert len(result["runs"]) == 12 and len(result["summary"]) == 6
    row = result["summary"][0]
    assert row["runs"] == 2 and 0 <= row["test_accuracy"]["mean"] <= 1
    assert {r["activation"] for r in result["runs"]} == {"tanh", "relu", "leaky_relu"}
    assert len(result["runs"][0]["costs_every_100"]) == 3
    assert png_size(out / "compare.png")[0] > 500


def test_train_with_l2_and_dropout_records_them(tmp_path):
    out = tmp_path / "l2"
    assert main(["train", "--iterations", "200", "--l2", "0.7", "--keep-prob", "0.8",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["l2"] == 0.7 and metrics["keep_prob"] == 0.8
    run = load_model(out / "checkpoint.npz")[1]["run"]
    assert run["training"]["lambd"] == 0.7 and run["training"]["keep_prob"] == 0.8


def test_predict_names_classes_of_a_model_saved_without_them(tmp_path, capsys):
    rng = np.random.RandomState(0)
    params = initialize_parameters_deep([12, 3, 3], numpy_seed=1)
    save_model(tmp_path / "model.npz", params, {"output": "softmax"})
    Image.fromarray((rng.rand(4, 4, 3) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    assert main(["predict", "--params", str(tmp_path / "model.npz"),
                 str(tmp_path / "a.png")]) == 0
    assert ": class " in capsys.readouterr().out


def test_train_digits_with_mini_batches_l2_and_dropout_draws_learning_curves(tmp_path, capsys):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn (jaxdnn[digits])")
    out = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--layers", "64,32", "--mini-batch-size", "64",
                 "--l2", "0.1", "--keep-prob", "0.9", "--optimizer", "adam", "--epochs", "30",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Cost after epoch 0:" in printed and "Test accuracy per class: 0 " in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["output"] == "softmax" and metrics["mini_batch_size"] == 64
    assert metrics["test_accuracy"] > 0.9, metrics["test_accuracy"]
    assert min(png_size(out / "learning_curves.png")) > 300
    curves = np.asarray(load_model(out / "checkpoint.npz")[1]["curves"])
    assert curves.shape == (30, 2) and curves[-1, 0] < curves[0, 0]


def test_a_mini_batch_run_interrupted_then_resumed_is_bit_identical(tmp_path):
    argv = ["--iterations", "3000", "--checkpoint-every", "50", "--mini-batch-size", "64",
            "--optimizer", "adam", "--keep-prob", "0.9"]
    straight = run("train", *argv, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "interrupted"
    code, _, stderr = interrupted(out, signal.SIGINT, argv)
    assert code == 128 + signal.SIGINT, stderr
    assert "stopped by SIGINT at epoch" in stderr
    assert 0 < load_model(out / "checkpoint.npz")[1]["epoch"] < 3000
    resumed = run("train", "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    (a, meta_a), (b, meta_b) = (load_model(tmp_path / name / "checkpoint.npz")
                                for name in ("straight", "interrupted"))
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key
    assert meta_a["curves"] == meta_b["curves"] and len(meta_a["curves"]) == 3000


def test_mini_batch_size_beyond_the_training_set_is_one_line(tmp_path, capsys):
    assert main(["train", "--mini-batch-size", "321", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mini_batch_size must be between 1 and m = 320" in err


SWISH = '''import jax
import jaxdnn

def forward(Z):
    return Z * jax.nn.sigmoid(Z), Z

def backward(dA, Z):
    s = jax.nn.sigmoid(Z)
    return dA * s * (1 + Z * (1 - s))

def backward_without_product_rule(dA, Z):
    return dA * jax.nn.sigmoid(Z)

swish = jaxdnn.custom_activation("swish", forward, backward)
broken = jaxdnn.custom_activation("swish", forward, backward_without_product_rule)
'''


def test_check_verifies_a_users_activation_from_a_scratch_file(tmp_path):
    (tmp_path / "myact.py").write_text(SWISH)
    env = dict(os.environ, JAX_PLATFORMS="cpu")

    def check(pair):
        return subprocess.run(["jaxdnn", "check", "--activation", f"myact:{pair}", "--draws",
                               "3", "--layers", "4,3"], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=600)

    good = check("swish")
    assert good.returncode == 0, good.stderr
    assert "draw 0 (swish" in good.stdout and "All gradients agree" in good.stdout
    assert "transpose (stable)" in good.stdout and "dW3" in good.stdout
    bad = check("broken")
    assert bad.returncode == 1, bad.stderr
    assert "FAIL" in bad.stdout and "jaxdnn: check failed: d" in bad.stderr
    assert "counterexample: draw " in bad.stderr and "swish" in bad.stderr


def test_train_with_a_users_activation_from_a_scratch_file(tmp_path, monkeypatch, capsys):
    """--hidden-activation module:object trains with the user's pair; the files record its
    name; a resume must name it again (no code a file names is imported), and so must a load."""
    (tmp_path / "trainact.py").write_text(SWISH)
    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / "run")
    assert main(["train", "--hidden-activation", "trainact:swish", "--iterations", "20",
                 "--out", out]) == 0, capsys.readouterr().err
    with open(os.path.join(out, "metrics.json")) as f:
        assert json.load(f)["hidden_activation"] == "trainact:swish"
    capsys.readouterr()
    assert main(["train", "--resume", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--hidden-activation trainact:swish" in err
    assert main(["train", "--resume", out, "--hidden-activation", "trainact:swish"]) == 0
    assert main(["train", "--resume", out, "--hidden-activation", "tanh"]) == 2
    assert "trains with your activation trainact:swish" in capsys.readouterr().err
    assert main(["evaluate", "--params", os.path.join(out, "model.npz")]) == 2
    assert "trainact:swish" in capsys.readouterr().err
    for spec, message in [("trainact:broken_name", "broken_name"),
                          ("trainact:backward_without_product_rule", "not an Activation")]:
        assert main(["train", "--hidden-activation", spec, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    with pytest.raises(SystemExit) as exited:
        main(["train", "--hidden-activation", "no such thing"])
    assert exited.value.code == 2 and "MODULE:OBJECT" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--activation", "nomodule"], "module:object"),
    (["--activation", "json:nothing_here"], "json:nothing_here"),
    (["--activation", "json:dumps"], "not an Activation"),
])
def test_check_refuses_what_is_not_an_activation(capsys, argv, message):
    assert main(["check", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


USER_MODULES = {  # module text, what the one line says
    "a syntax error": ("def forward(Z)\n    return Z, Z\n",
                       r"importing {m} raised SyntaxError: expected ':' \({m}\.py, line 1\)"),
    "raises on import": ("raise RuntimeError('no GPU here')\n",
                         r"importing {m} raised RuntimeError: no GPU here"),
    "sys.exit(7) on import": ("import sys\nsys.exit(7)\n", r"importing {m} called sys.exit\(7\)"),
    "sys.exit() on import": ("import sys\nsys.exit()\n", r"importing {m} called sys.exit\(None\)"),
    "a pair that calls numpy": (
        SWISH.replace("return Z * jax.nn.sigmoid(Z), Z", "import numpy\n"
                      "    return numpy.tanh(Z), Z"),
        r"activation 'swish' does not follow the contract .* its forward raised "
        r"TracerArrayConversionError: .* under jax.jit\)"),
}


@pytest.mark.parametrize("command", ["check", "train"])
@pytest.mark.parametrize("case", USER_MODULES)
def test_a_users_module_that_fails_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys,
                                                          case, command):
    """Whatever the user's module does on import (or its pair when tried): one line naming the
    option and the module and quoting the error, exit 2; JAXDNN_DEBUG=1 adds the traceback."""
    import re

    text, says = USER_MODULES[case]
    m = f"user_{command}_{abs(hash(case))}"
    (tmp_path / f"{m}.py").write_text(text)
    monkeypatch.chdir(tmp_path)
    option = "--activation" if command == "check" else "--hidden-activation"
    argv = [command, option, f"{m}:swish", *(["--out", str(tmp_path / "out")]
                                              if command == "train" else [])]
    monkeypatch.delenv("JAXDNN_DEBUG", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"jaxdnn: error: {option} {m}:swish: "), err
    assert re.search(says.format(m=m), err), err
    assert not (tmp_path / "out").exists()
    sys.modules.pop(m, None)
    monkeypatch.setenv("JAXDNN_DEBUG", "1")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and f"{m}.py" in err, err
    assert err.splitlines()[-1].startswith(f"jaxdnn: error: {option} {m}:swish: ")
    sys.modules.pop(m, None)


@pytest.mark.parametrize("spec", [".myact:swish", "..:swish", ".:x"])
def test_a_relative_module_name_is_one_line_and_exit_2(capsys, spec):
    assert main(["check", "--activation", spec]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a relative module name" in err and spec in err


def test_check_in_float32_softmax(capsys):
    assert main(["check", "--dtype", "float32", "--output", "softmax", "--draws", "2",
                 "--examples", "40"]) == 0
    out = capsys.readouterr().out
    assert "softmax, 40 examples, float32" in out and "All gradients agree" in out


def test_a_model_with_a_custom_activation_says_what_it_needs(tmp_path, capsys):
    params = initialize_parameters_deep([2, 3, 1], numpy_seed=1)
    save_model(tmp_path / "model.npz", params, {"hidden_activation": "swish"})
    assert main(["evaluate", "--params", str(tmp_path / "model.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'swish', which is not built in" in err
    assert "jaxdnn.custom_activation" in err


def test_a_second_run_into_the_same_out_is_refused_while_the_first_holds_it(tmp_path, capsys):
    import fcntl
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".jaxdnn.lock", "w") as held:  # what a running jaxdnn train holds
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["train", "--iterations", "5", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "another jaxdnn run is writing to" in err
        assert os.listdir(out) == [".jaxdnn.lock"]  # nothing of its own written
    # a lock left by a run that was killed is not held: the next run goes ahead, and tidies up
    assert main(["train", "--iterations", "5", "--out", str(out)]) == 0
    assert ".jaxdnn.lock" not in os.listdir(out) and "model.npz" in os.listdir(out)


def test_out_that_is_a_file_is_refused_before_training(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("mine")
    assert main(["train", "--iterations", "5", "--out", str(target)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert target.read_text() == "mine"


def test_outputs_are_staged_inside_out_even_through_a_link(tmp_path):
    """Staged on the target's own filesystem: a link to a folder elsewhere (another mount, say)
    gets its staging folder inside, and its parent never sees one."""
    from jaxdnn.io.files import write_files
    real, link = tmp_path / "elsewhere", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real)
    seen = []

    def write(f):
        seen.append(sorted(os.listdir(real)))
        f.write(b"x")

    write_files(str(link), {"a.txt": write})
    assert seen[0][0].startswith(".jaxdnn-staging-")  # the staging folder, inside the target
    assert sorted(os.listdir(tmp_path)) == ["elsewhere", "link"]
    assert os.listdir(real) == ["a.txt"]


# --- first-run frictions (issue 14) ---------------------------------------------------------


def test_train_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("hidden sizes (default: 4 for the 2-D sets, 20,7,5 for cat)",
                  "default: 1.2 for the 2-D sets", "0.0075 for cat",
                  "0.01 with --optimizer adam or rmsprop", "(default: 10000 for the 2-D sets, "
                  "2500 for cat)", "default: tanh for the 2-D sets, relu for cat"):
        assert shown in text


@pytest.mark.parametrize("argv", [["train", "--out", ""], ["train", "--resume", ""],
                                  ["sweep", "--out", ""], ["plot-activations", "--out", ""]])
def test_an_empty_folder_name_is_one_line_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    err = capsys.readouterr().err
    assert exit.value.code == 2 and len(err.splitlines()) == 1 and "must name a folder" in err


def test_the_resume_command_of_a_cat_run_names_its_data_folder(tmp_path, capsys, monkeypatch):
    """What ``jaxdnn train`` prints after a signal is a command that works: with --data-dir."""
    monkeypatch.setattr(run_module, "execute", lambda *a, **k: run_module.Stopped(2, 300))
    data = tmp_path / "my data"
    code = main(["train", "--dataset", "cat", "--data-dir", str(data), "--out",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 130
    assert f"continue with: jaxdnn train --resume {tmp_path / 'out'} --data-dir '{data}'" in err


def test_missing_cat_data_names_the_option(tmp_path, capsys):
    assert main(["train", "--dataset", "cat", "--data-dir", str(tmp_path),
                 "--out", str(tmp_path / "out")]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_the_progress_bar_ends_at_its_total():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = reports.Progress(300, err=stream, out=io.StringIO())
    for i in range(0, 300, 100):
        progress(i, 0.5)
    progress.close(300, 0.25)
    assert "300/300 [" in stream.getvalue().splitlines()[-1]
    assert stream.getvalue().splitlines()[-1].endswith("cost 0.250000]")


def figures_of(monkeypatch):
    """The figures the run draws, kept open: file name -> matplotlib Figure."""
    saved = {}
    monkeypatch.setattr(plots, "_save", lambda fig, f: saved.__setitem__(
        os.path.basename(getattr(f, "name", "")) or len(saved), fig) or f.write(b"png"))
    return saved


def test_figures_are_labelled_well_enough_to_read_without_the_readme(tmp_path, capsys,
                                                                    monkeypatch):
    saved = figures_of(monkeypatch)
    out = tmp_path / "run"
    assert main(["train", "--iterations", "200", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert stdout.splitlines()[-1] == (f"Wrote model.npz, metrics.json, costs.png, "
                                       f"decision_boundary.png, checkpoint.npz to {out}")
    metrics = json.loads((out / "metrics.json").read_text())
    boundary = saved["decision_boundary.png"].axes[0]
    assert boundary.get_xlabel() and boundary.get_ylabel()
    legend = [t.get_text() for t in boundary.get_legend().get_texts()]
    assert any(t.startswith("training set") for t in legend)
    assert any(t.startswith("test set") for t in legend)
    assert set(metrics["classes"]) <= set(legend)
    colours = {tuple(handle.get_facecolor()) for handle, text in zip(
        boundary.get_legend().legend_handles, legend, strict=True) if text in metrics["classes"]}
    assert len(colours) == len(metrics["classes"])  # each class its own, distinct, colour
    assert min(max(abs(a - b) for a, b in zip(c, d, strict=True)) for c in colours
               for d in colours if c != d) > 0.3
    title = boundary.get_title()
    assert f"train accuracy {metrics['train_accuracy']:.3f}" in title
    assert f"test {metrics['test_accuracy']:.3f}" in title
    cost_title = saved["costs.png"].axes[0].get_title()
    assert "planar" in cost_title and "tanh" in cost_title and "learning rate 1.2" in cost_title

    saved.clear()
    assert main(["sweep", "--hidden-sizes", "2", "--iterations", "300", "--out",
                 str(tmp_path / "sweep")]) == 0
    assert "all 400 points" in capsys.readouterr().out  # which data the accuracy is on
    rows = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    titles = [ax.get_title() for ax in saved["sweep.png"].axes if ax.get_title()]
    assert len(titles) == len(rows) == 2
    assert all(f"accuracy {row['accuracy'] * 100:.1f} %" in title
               for title, row in zip(titles, rows, strict=True))


def test_no_iterations_write_no_empty_cost_plot(tmp_path, capsys):
    out = tmp_path / "none"
    assert main(["train", "--iterations", "0", "--out", str(out)]) == 0
    assert "costs.png" not in os.listdir(out) and "decision_boundary.png" in os.listdir(out)


def test_sweep_without_matplotlib_still_writes_its_results(tmp_path):
    out = tmp_path / "sweep"
    code = ("import sys; sys.modules['matplotlib'] = None; from jaxdnn.app.cli import main; "
            f"sys.exit(main(['sweep', '--hidden-sizes', '2', '--iterations', '100', "
            f"'--out', {str(out)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, JAX_PLATFORMS="cpu"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "pip install 'jaxdnn[plot]'" in result.stderr
    assert os.listdir(out) == ["sweep.json"]
    assert [row["hidden_units"] for row in json.loads((out / "sweep.json").read_text())] == [0, 2]


def test_a_network_beyond_the_memory_available_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("jaxdnn.core.limits.available_memory", lambda: 2**20)
    assert main(["train", "--layers", "300,300", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "MiB of memory available" in err
    assert not (tmp_path / "out").exists()
