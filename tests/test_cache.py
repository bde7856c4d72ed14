"""The jaxdnn command's persistent compilation cache: where it lives, that a second process reads
what the first wrote, and that it can be turned off. Importing jaxdnn leaves JAX's settings."""

import json
import os
import subprocess
import sys

import pytest

from jaxdnn.app import cache as _cache

TRAIN = ["jaxdnn", "train", "--iterations", "200", "--checkpoint-every", "0"]


def entries(folder):
    """``{name: content}`` of the cache's access-time files, one per entry (rewritten on each
    read: JAX's cache records reads when it has a size limit)."""
    return {name: (folder / name).read_bytes() for name in os.listdir(folder)
            if name.endswith("-atime")}


def train(tmp_path, out, command=TRAIN, **env):
    """``jaxdnn train`` in a new process with ``env`` added (a None value removes a name)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **env}
    result = subprocess.run([*command, "--out", str(tmp_path / out)], capture_output=True,
                            text=True, env={k: v for k, v in env.items() if v is not None})
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / out / "metrics.json").read_text())
    assert metrics["path"] == "plain"  # planar: n[0] = 2 < m
    return result


@pytest.mark.parametrize("environ, expected", [
    ({}, os.path.join(os.path.expanduser("~"), ".cache", "jaxdnn", "xla")),
    ({"XDG_CACHE_HOME": "/x"}, "/x/jaxdnn/xla"),
    ({"XDG_CACHE_HOME": "/x", "JAXDNN_CACHE_DIR": "/y/z"}, "/y/z"),
    ({"JAXDNN_CACHE_DIR": "off"}, None),
    ({"JAXDNN_CACHE_DIR": " OFF "}, None),
    ({"JAXDNN_CACHE_DIR": ""}, None),
])
def test_cache_folder_from_the_environment(environ, expected):
    assert _cache.folder(environ) == expected


def test_second_process_reads_the_first_ones_programs(tmp_path):
    folder = tmp_path / "xla"
    train(tmp_path, "a", JAXDNN_CACHE_DIR=str(folder))
    written = entries(folder)
    assert any(name.startswith("jit_loop-") for name in written), sorted(written)
    train(tmp_path, "b", JAXDNN_CACHE_DIR=str(folder))
    read = entries(folder)
    assert read.keys() == written.keys()  # nothing compiled anew
    loops = [name for name in written if name.startswith("jit_loop-")]
    assert all(read[name] != written[name] for name in loops)  # and the loop was read


def test_a_run_compiles_one_loop_for_all_its_segments_and_nothing_else_per_shape(tmp_path):
    """Segments of 100, 100 and 50 iterations share one loop; the data and the initial
    parameters are converted without programs; prediction is one program for both sets (and one
    for the decision boundary's grid)."""
    folder = tmp_path / "xla"
    command = ["jaxdnn", "train", "--iterations", "250", "--checkpoint-every", "100"]
    train(tmp_path, "a", command, JAXDNN_CACHE_DIR=str(folder))
    programs = sorted(name.rsplit("-", 2)[0] for name in entries(folder))
    assert programs == ["jit__probabilities", "jit__probabilities", "jit_loop"]


def test_cache_off_writes_nothing(tmp_path):
    train(tmp_path, "a", JAXDNN_CACHE_DIR=None, XDG_CACHE_HOME=str(tmp_path / "home"))
    assert (tmp_path / "home" / "jaxdnn" / "xla").is_dir()
    train(tmp_path, "b", JAXDNN_CACHE_DIR="off", XDG_CACHE_HOME=str(tmp_path / "off"))
    assert not (tmp_path / "off" / "jaxdnn").exists()


def test_importing_jaxdnn_leaves_the_cache_off():
    code = "import jax, jaxdnn; print(jax.config.jax_compilation_cache_dir)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**os.environ, "JAXDNN_CACHE_DIR": "/tmp/unused"})
    assert result.stdout.strip() == "None"
