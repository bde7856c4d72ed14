"""What the command promises about its folders, its output streams and its signals: ``--out``
checked before anything is trained, outputs all or none, a closed stdout that loses no work, a
second signal during a save that never cuts it, one SIGTERM delivered twice, a background job's
ignored SIGINT, and the lock file."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from jaxdnn.app import studies
from jaxdnn.app.cli import main
from jaxdnn.io import files

ENV = dict(os.environ, JAX_PLATFORMS="cpu")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def nothing_trained(monkeypatch):
    """Training of any study fails the test."""
    def train(*args, **kwargs):
        raise AssertionError("trained before --out was checked")

    monkeypatch.setattr(studies, "fit_many", train)
    monkeypatch.setattr(studies, "fit", train)


@pytest.mark.parametrize("command", [["sweep"], ["compare", "--seeds", "1"], ["train"]])
def test_out_a_file_is_refused_before_anything_is_trained(tmp_path, capsys, nothing_trained,
                                                          command):
    (tmp_path / "file").write_text("mine")
    assert main([*command, "--out", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err
    assert err == f"jaxdnn: error: --out {tmp_path / 'file'} exists and is not a folder\n"
    assert (tmp_path / "file").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_an_unwritable_out_is_refused_before_anything_is_trained(tmp_path, capsys,
                                                                 nothing_trained):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert main(["sweep", "--out", str(locked)]) == 2
    assert capsys.readouterr().err.startswith(f"jaxdnn: error: cannot write into --out {locked}")


@pytest.mark.parametrize("command, name", [(["sweep"], "sweep_accuracy.png"),
                                           (["compare", "--seeds", "1"], "compare.json"),
                                           (["train"], "metrics.json")])
def test_a_folder_named_like_an_output_is_refused_before_anything_is_written(
        tmp_path, capsys, nothing_trained, command, name):
    out = tmp_path / "out"
    (out / name).mkdir(parents=True)
    assert main([*command, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"jaxdnn: error: {out / name} is a folder: jaxdnn writes its {name} there; "
                   f"move it away\n")
    assert os.listdir(out) == [name]  # no lock, no staging folder, no partial set


def test_write_files_puts_back_what_it_replaced_when_a_rename_fails(tmp_path, monkeypatch):
    (tmp_path / "a").write_text("old a")
    (tmp_path / "b").write_text("old b")
    replace = os.replace

    def failing(source, target):
        if os.path.basename(target) == "b":
            raise OSError("disk full")
        replace(source, target)

    monkeypatch.setattr(files.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        files.write_files(tmp_path, {"a": lambda f: f.write(b"new a"),
                                     "c": lambda f: f.write(b"new c"),
                                     "b": lambda f: f.write(b"new b")})
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]  # c, written before b, is gone again
    assert (tmp_path / "a").read_text() == "old a" and (tmp_path / "b").read_text() == "old b"


def test_a_lock_file_that_is_a_dangling_link_is_refused(tmp_path, capsys, nothing_trained):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".jaxdnn.lock").symlink_to(tmp_path / "target")
    assert main(["sweep", "--out", str(out)]) == 2
    assert "is a symbolic link, not jaxdnn's lock file" in capsys.readouterr().err
    assert not (tmp_path / "target").exists()


def test_sweep_takes_the_out_lock(tmp_path, capsys, nothing_trained):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out / ".jaxdnn.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a train into the same folder
    try:
        assert main(["sweep", "--out", str(out)]) == 2
    finally:
        os.close(fd)
    assert "another jaxdnn run is writing to" in capsys.readouterr().err


def test_a_closed_stdout_loses_no_work(tmp_path):
    """``jaxdnn train | head -1``: the reader goes after the first line; the run still trains
    to its end, writes its checkpoint and model, and exits 0 without a word."""
    out = tmp_path / "out"
    process = subprocess.Popen(["jaxdnn", "train", "--iterations", "1500", "--checkpoint-every",
                                "500", "--out", str(out)], env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    assert process.stdout.readline().startswith(b"Cost after iteration 0")
    process.stdout.close()
    stderr = process.communicate(timeout=300)[1]
    assert process.returncode == 0 and stderr == b"", stderr
    assert {"checkpoint.npz", "model.npz", "metrics.json"} <= set(os.listdir(out))


def script(code, **popen):
    """Run ``code`` in a new Python process from the repository root; its result."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=ENV, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, start_new_session=True,
                          **popen)


SIGNALS_PROLOGUE = """
import os, signal, time
from jaxdnn.app import signals

def send(signum, times=1):
    for _ in range(times):
        os.kill(os.getpid(), signum)
    time.sleep(0.3)  # the watcher thread has acted
"""


def test_signals_that_must_not_end_the_process():
    """One SIGTERM delivered twice (timeout(1) signals the process, then its group) is one
    request; a second Ctrl-C while the checkpoint is saved waits for the save, always."""
    result = script(SIGNALS_PROLOGUE + textwrap.dedent("""
        with signals.deferred() as stop:
            send(signal.SIGTERM, 2)
            print("went on", stop.signum == signal.SIGTERM)
        with signals.deferred() as stop:
            send(signal.SIGINT)
            with signals.saving():
                send(signal.SIGINT)
                time.sleep(0.3)
                print("saved", end=" ")
            print("went on", stop.signum == signal.SIGINT)
        """))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["went on True", "saved went on True"]
    assert result.stderr == ""


def test_a_second_sigint_outside_a_save_still_ends_at_once():
    result = script(SIGNALS_PROLOGUE + textwrap.dedent("""
        with signals.deferred():
            send(signal.SIGINT)
            time.sleep(0.2)
            send(signal.SIGINT)
            print("went on")
        """))
    assert result.returncode == 128 + signal.SIGINT and result.stdout == ""
    assert result.stderr == "jaxdnn: interrupted by SIGINT\n"


def test_a_background_jobs_ignored_sigint_stays_ignored():
    """A shell starts a background job with SIGINT ignored: neither the console script's first
    handlers nor the command's replace that."""
    result = script("""
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        import jaxdnn.__main__
        from jaxdnn.app import signals
        first = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        with signals.handled():
            print(first, signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
                  signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL)
        """)
    assert result.stdout.split() == ["True", "True", "True"], result.stderr


def test_a_signal_during_a_checkpoint_stops_the_run_at_that_checkpoint(tmp_path):
    """Two SIGINTs while the first checkpoint is written: the second is ignored, the checkpoint
    completes and the run stops there, with the one line of a stopped run."""
    result = script(f"""
        import os, signal, sys, time
        from jaxdnn.app import execute
        from jaxdnn.app.cli import main
        save = execute.save_checkpoint

        def slow(*args):
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.3)
            save(*args)

        execute.save_checkpoint = slow
        sys.exit(main(["train", "--iterations", "3000", "--checkpoint-every", "1000",
                       "--out", {str(tmp_path / "out")!r}]))
        """)
    assert result.returncode == 128 + signal.SIGINT, result.stderr
    assert result.stderr.startswith("jaxdnn: stopped by SIGINT at iteration 1000 of 3000; "
                                    "checkpoint saved"), result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("argv, says", [
    (["--examples", "1000000000"], "on 1,000,000,000 examples (the central differences) takes"),
    (["--layers", "100000000"], "need 800,000,001 parameters together, above the budget"),
    (["--output", "softmax", "--classes", "100000000"], "need 500,000,059 parameters"),
    (["--output", "softmax", "--classes", "30000"], "MAX_CHECK_OPERATIONS"),
    (["--draws", "1000000000"], "checking 1,000,000,000 draws of layer sizes [6, 5, 4, 1]"),
])
def test_check_refuses_what_it_cannot_afford_up_front(capsys, monkeypatch, argv, says):
    monkeypatch.setattr("jaxdnn.core.limits.available_memory", lambda: 2**33)
    assert main(["check", *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and says in err, err


def test_the_costs_of_many_models_are_estimated_before_anything_is_trained(
        tmp_path, capsys, monkeypatch, nothing_trained):
    import numpy as np

    from jaxdnn import initialize_parameters_deep
    from jaxdnn.errors import OptionError
    from jaxdnn.train import stack

    monkeypatch.setattr("jaxdnn.core.limits.available_memory", lambda: 2**34)
    assert main(["sweep", "--iterations", "1073741824", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert ("jaxdnn: error: 1,073,741,824 iterations of 7 models recording their costs takes "
            "172,032 MiB") in err and "16,384 MiB of memory available" in err
    assert not (tmp_path / "s").exists()
    params = initialize_parameters_deep([2, 3, 1], numpy_seed=1)
    X, Y = np.ones((2, 4)), np.array([[0.0, 1.0, 0.0, 1.0]])
    with pytest.raises(OptionError, match="of 2 models recording their costs"):  # one fits
        stack.fit_many(X, Y, stack.stack_models([params, params]), num_iterations=2**29)


def test_a_repeated_hidden_size_is_trained_once(tmp_path, capsys, monkeypatch):
    trained = []

    def fit_many(X, Y, stack, **options):
        trained.append(stack.dims)
        raise KeyboardInterrupt  # enough: the grid is known

    monkeypatch.setattr(studies, "fit_many", fit_many)
    with pytest.raises(KeyboardInterrupt):
        main(["sweep", "--hidden-sizes", "3,3,1,3", "--out", str(tmp_path / "s")])
    assert "jaxdnn: note: --hidden-sizes repeats a value: each is trained once" in \
        capsys.readouterr().err
    assert [dims[1] for dims in trained[0]] == [3, 1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of a run stopped half-way (its metadata to be crafted)."""
    import numpy as np

    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--iterations", "20", "--checkpoint-every", "10", "--out",
                 str(out)]) == 0
    with np.load(out / "checkpoint.npz") as z:
        return dict(z)


@pytest.mark.parametrize("change, says", [
    ({"curves": "abc"}, "metadata entry curves is 'abc'; expected a list"),
    ({"curves": [[1.0, 2.0, 3.0]]}, "metadata entry curves[0] is [1.0, 2.0, 3.0]"),
    ({"epoch": "x"}, "metadata entry epoch is 'x'; expected an integer"),
    ({"epoch": 5}, "its iterations, epoch and learning curves do not fit"),
    ({"stopped_early": "yes"}, "metadata entry stopped_early is 'yes'; expected true or false"),
])
def test_a_checkpoints_recorded_facts_are_checked_on_resume(tmp_path, capsys, checkpoint,
                                                             change, says):
    import json

    import numpy as np

    arrays = dict(checkpoint)
    meta = json.loads(str(arrays["__metadata__"]))
    meta.update(change, iteration=10, epoch=change.get("epoch", 10))
    arrays["__metadata__"] = np.array(json.dumps(meta))
    arrays["__costs__"] = arrays["__costs__"][:10]
    (tmp_path / "run").mkdir()
    np.savez(tmp_path / "run" / "checkpoint.npz", **arrays)
    assert main(["train", "--resume", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and says in err, err


def test_no_devices_is_one_line():
    env = dict(ENV, XLA_FLAGS="--xla_force_host_platform_device_count=0")
    result = subprocess.run(["jaxdnn", "check", "--draws", "1"], env=env, capture_output=True,
                            text=True, timeout=120, start_new_session=True)
    assert result.returncode == 2
    assert result.stderr.startswith("jaxdnn: error: jax cannot start its devices (see XLA_FLAGS "
                                    "and JAX_PLATFORMS): Unable to initialize backend 'cpu'")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("argv, says", [
    (["--seeds", "20000"], "140,000 models (hidden sizes x seeds x learning rates) are above the "
                           "limit of 4,096 (MAX_STUDY_MODELS)"),
    (["--seeds", "500", "--iterations", "1000000"], "3,500 models (hidden sizes x seeds x "
                                                    "learning rates) of 1,000,000 iterations"),
])
def test_a_sweep_that_would_run_for_days_is_refused_up_front(tmp_path, capsys, monkeypatch,
                                                             nothing_trained, argv, says):
    monkeypatch.setattr("jaxdnn.core.limits.available_memory", lambda: 2**50)
    assert main(["sweep", *argv, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and says in err, err
