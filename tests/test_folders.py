"""Run folders: a new folder per ``jaxdnn train`` without --out, runs/latest pointing at the
newest, never a folder that mixes two runs."""

import json
import os
import subprocess

import pytest

from jaxdnn.app import folders
from jaxdnn.app.cli import main

ENV = dict(os.environ, JAX_PLATFORMS="cpu")


def jaxdnn(cwd, *argv):
    return subprocess.run(["jaxdnn", *argv], capture_output=True, text=True, env=ENV, cwd=cwd,
                          timeout=600)


def test_each_run_gets_its_own_folder_and_latest_points_at_the_newest(tmp_path, monkeypatch,
                                                                      capsys):
    """Train one data set then another, as a new user does: two folders, nothing replaced (the
    first run in a real process, the second in this one)."""
    first = jaxdnn(tmp_path, "train", "--iterations", "5", "--quiet")
    assert first.returncode == 0, first.stderr
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "moons", "--iterations", "5", "--quiet"]) == 0
    second = capsys.readouterr()
    runs = tmp_path / "runs"
    made = sorted(name for name in os.listdir(runs) if name != "latest")
    assert len(made) == 2 and made[0].startswith("moons-") and made[1].startswith("planar-")
    assert made[0].endswith("-1") and made[1].endswith("-1")
    assert os.readlink(runs / "latest") == made[0]  # the newest: moons
    assert f"to runs/{made[1]}" in first.stdout and f"to runs/{made[0]}" in second.out
    planar = json.loads((runs / made[1] / "metrics.json").read_text())
    assert planar["dataset"] == "planar"  # the first run is untouched
    assert json.loads((runs / "latest" / "metrics.json").read_text())["dataset"] == "moons"


def test_a_second_run_of_the_same_day_and_data_gets_the_next_number(tmp_path):
    first, second = folders.new_run("planar", tmp_path), folders.new_run("planar", tmp_path)
    assert first.endswith("-1") and second.endswith("-2") and os.path.isdir(second)


def test_out_holding_another_finished_run_is_refused_without_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "moons", "--iterations", "5", "--mini-batch-size", "32",
                 "--epochs", "2", "--out", str(out), "-q"]) == 0
    assert "learning_curves.png" in os.listdir(out)
    before = (out / "model.npz").read_bytes()
    capsys.readouterr()
    assert main(["train", "--iterations", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {out} holds another finished run" in err
    assert "--overwrite" in err and (out / "model.npz").read_bytes() == before
    assert main(["train", "--iterations", "5", "--out", str(out), "--overwrite", "-q"]) == 0
    # the other run's files are gone, none left beside this one's
    assert sorted(os.listdir(out)) == ["checkpoint.npz", "costs.png", "decision_boundary.png",
                                       "metrics.json", "model.npz"]
    assert json.loads((out / "metrics.json").read_text())["dataset"] == "planar"


def test_resuming_a_finished_run_says_so_and_rewrites_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--iterations", "5", "--out", str(out), "-q"]) == 0
    stamps = {name: os.stat(out / name).st_mtime_ns for name in os.listdir(out)}
    capsys.readouterr()
    assert main(["train", "--resume", str(out)]) == 0
    said = capsys.readouterr().out
    assert "holds a finished run (iteration 5 of 5): nothing to train" in said
    assert {name: os.stat(out / name).st_mtime_ns for name in os.listdir(out)} == stamps
    assert main(["train", "--resume", str(out), "--overwrite", "-q"]) == 0
    assert os.stat(out / "model.npz").st_mtime_ns != stamps["model.npz"]


def test_latest_is_a_text_file_where_links_fail_and_resume_follows_it(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.chdir(tmp_path)

    def no_links(*args, **kwargs):
        raise OSError("links are not supported here")

    monkeypatch.setattr(os, "symlink", no_links)
    assert main(["train", "--iterations", "20", "--checkpoint-every", "10", "-q"]) == 0
    latest = tmp_path / "runs" / "latest"
    assert latest.is_file() and not latest.is_symlink()
    name = latest.read_text().strip()
    assert (tmp_path / "runs" / name / "model.npz").is_file()
    capsys.readouterr()
    assert main(["train", "--resume", "runs/latest"]) == 0
    assert f"runs/{name} holds a finished run" in capsys.readouterr().out


def test_a_run_that_fails_leaves_no_empty_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "cat", "--data-dir", str(tmp_path / "none")]) == 2
    assert os.listdir(tmp_path / "runs") == []


@pytest.mark.parametrize("layout", ["folder", "link"])
def test_an_older_runs_latest_folder_is_left_as_is(tmp_path, monkeypatch, capsys, layout):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "old").mkdir(parents=True)
    if layout == "folder":
        (tmp_path / "runs" / "latest").mkdir()
    else:
        os.symlink("old", tmp_path / "runs" / "latest")
    assert main(["train", "--iterations", "3", "-q"]) == 0
    err = capsys.readouterr().err
    if layout == "folder":
        assert "runs/latest is not a link this version made; it is left as is" in err
        assert os.listdir(tmp_path / "runs" / "latest") == []
    else:
        assert os.readlink(tmp_path / "runs" / "latest").startswith("planar-")
