"""The jaxdnn command's persistent compilation cache: where it lives, that a second process reads
what the first wrote, and that it can be turned off. Importing jaxdnn leaves JAX's settings."""

import json
import os
import subprocess
import sys

import pytest

from jaxdnn.app import cache as _cache

TRAIN = ["jaxdnn", "train", "--iterations", "200", "--checkpoint-every", "0"]


def versioned(folder):
    """The subfolder of the cache folder ``folder`` that this jaxdnn, jax and jaxlib use."""
    (sub,) = [p for p in folder.iterdir() if p.name.startswith("jaxdnn-")]
    return sub


def entries(folder):
    """``{name: content}`` of the cache's access-time files, one per entry (rewritten on each
    read: JAX's cache records reads when it has a size limit)."""
    folder = versioned(folder)
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
    assert versioned(tmp_path / "home" / "jaxdnn" / "xla").is_dir()
    train(tmp_path, "b", JAXDNN_CACHE_DIR="off", XDG_CACHE_HOME=str(tmp_path / "off"))
    assert not (tmp_path / "off" / "jaxdnn").exists()


def test_importing_jaxdnn_leaves_the_cache_off():
    code = "import jax, jaxdnn; print(jax.config.jax_compilation_cache_dir)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**os.environ, "JAXDNN_CACHE_DIR": "/tmp/unused"})
    assert result.stdout.strip() == "None"


def test_an_unusable_cache_is_off_with_one_line(tmp_path, monkeypatch):
    """A cache path that is a file: one note, and JAX's settings are left alone (no JAX warning
    at each compilation)."""
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("JAXDNN_CACHE_DIR", str(tmp_path / "file"))
    notes = []
    assert _cache.enable(notes.append) is None
    path = _cache.versioned(str(tmp_path / "file"))
    assert notes == [f"jaxdnn: note: the compilation cache {path} cannot be made (Not a "
                     f"directory); it is off for this run (JAXDNN_CACHE_DIR=off turns it off "
                     f"for good)"]
    import jax
    assert jax.config.jax_compilation_cache_dir is None


def test_what_makes_a_cache_folder_unusable(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    assert _cache.usable(str(tmp_path / "file")) == "is not a folder"
    assert _cache.usable(str(tmp_path / "file" / "sub")) == "cannot be made (Not a directory)"
    assert _cache.usable(str(tmp_path / "fine")) is None
    assert (tmp_path / "fine").stat().st_mode & 0o777 == 0o700  # made private
    (tmp_path / "shared").mkdir(mode=0o777)
    os.chmod(tmp_path / "shared", 0o777)
    assert _cache.usable(str(tmp_path / "shared")) == "may be written by others (chmod go-w it)"
    monkeypatch.setattr(_cache, "MIN_FREE_BYTES", 1 << 62)  # a full disk
    assert _cache.usable(str(tmp_path / "fine")) == "has under 4398046511104 MiB free on its disk"


def test_corrupted_and_swapped_entries_are_compiled_again(tmp_path):
    """An entry cut short (a full disk) and one swapped for another program of the run are
    removed before JAX reads them: the next run prints nothing, computes the same numbers, and
    the entries are whole again."""
    folder = tmp_path / "xla"
    first = train(tmp_path, "a", JAXDNN_CACHE_DIR=str(folder))
    cached = sorted(p for p in versioned(folder).iterdir() if p.name.endswith("-cache"))
    loop = next(p for p in cached if p.name.startswith("jit_loop-"))
    other = next(p for p in cached if p != loop)
    written = {p.name: p.read_bytes() for p in cached}
    other.write_bytes(written[other.name][:len(written[other.name]) // 2])
    loop.write_bytes(written[other.name])  # a valid entry, of another program
    second = train(tmp_path, "b", JAXDNN_CACHE_DIR=str(folder))
    assert second.stderr == ""
    assert second.stdout.replace(str(tmp_path / "b"), "") == \
        first.stdout.replace(str(tmp_path / "a"), "")
    assert _cache.heal(str(versioned(folder))) == []
    assert {p.name for p in cached} == {p.name for p in versioned(folder).iterdir()
                                        if p.name.endswith("-cache")}
    assert loop.read_bytes() != written[other.name]


def test_heal_records_entries_and_removes_what_changed(tmp_path):
    import importlib

    compress = importlib.import_module("jax._src.compilation_cache").compress_executable
    (tmp_path / "jit_a-1-cache").write_bytes(compress(b"program a"))
    (tmp_path / "jit_a-1-atime").write_bytes(b"\0" * 8)
    (tmp_path / "jit_b-2-cache").write_bytes(b"not compressed at all")
    (tmp_path / "jit_c-3-cache.sha256").write_text("an evicted entry's record\n")
    assert _cache.heal(str(tmp_path)) == ["jit_b-2-cache"]
    assert sorted(os.listdir(tmp_path)) == [".lockfile", "jit_a-1-atime", "jit_a-1-cache",
                                            "jit_a-1-cache.sha256"]
    assert _cache.heal(str(tmp_path)) == []
    os.utime(tmp_path / "jit_a-1-cache", ns=(1, 1))  # touched, the same program: kept
    assert _cache.heal(str(tmp_path)) == []
    (tmp_path / "jit_a-1-cache").write_bytes(compress(b"program b"))  # swapped
    assert _cache.heal(str(tmp_path)) == ["jit_a-1-cache"]
    assert os.listdir(tmp_path) == [".lockfile"]
