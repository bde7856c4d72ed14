"""The scripts run: each one's --help (its imports), and bench_checks for one tiny round."""

import os
import pathlib
import subprocess
import sys

import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parents[1] / "scripts"


def run(*argv):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_script_help(script):
    result = run(str(SCRIPTS / script), "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_bench_checks_runs_one_round():
    result = run(str(SCRIPTS / "bench_checks.py"), "--rounds", "1", "--steps", "1")
    assert result.returncode == 0, result.stderr
    assert "public (checked) / kernels (unchecked): median" in result.stdout


def test_make_gallery_draws_figures_on_small_settings_and_names_every_gallery_file(tmp_path):
    """The script run on small settings (three of its commands: a train, the sweep and the
    activations), and every file of docs/gallery named by one of its commands."""
    only = "decision_boundary.png,sweep_accuracy.png,activations.png"
    result = run(str(SCRIPTS / "make_gallery.py"), "--quick", "--out", str(tmp_path),
                 "--data-dir", str(tmp_path / "no cat files"), "--only", only)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["activations.png", "decision_boundary.png",
                                            "sweep.png", "sweep_accuracy.png"]
    assert "costs.png, mislabeled.png and compare.png are skipped" in result.stderr
    assert "jaxdnn sweep --iterations 50" in result.stdout
    sys.path.insert(0, str(SCRIPTS))
    try:
        import make_gallery
    finally:
        sys.path.pop(0)
    cat = tmp_path / "cat"
    cat.mkdir()
    (cat / "train_catvnoncat.h5").write_bytes(b"")
    named = {name for _, names in make_gallery.figures(make_gallery.QUICK, str(cat))
             for name in names}
    assert named == set(os.listdir(SCRIPTS.parent / "docs" / "gallery"))
