"""SIGINT at random moments to real ``jaxdnn train`` and ``jaxdnn sweep`` processes: only the
documented exits, one line of ours on stderr, and a checkpoint left behind resumes.

Every child starts a session of its own (``start_new_session``): a signal meant for it can reach
no process of the test run, whatever process group the runner shares with it."""

import json
import os
import random
import signal
import subprocess
import threading
import time

ENV = dict(os.environ, JAX_PLATFORMS="cpu")
COMMANDS = {  # small runs: a few seconds each, mostly import and compilation
    "train": ["train", "--iterations", "3000", "--checkpoint-every", "300"],
    "train, no checkpoints": ["train", "--iterations", "3000", "--checkpoint-every", "0"],
    "train, mini-batches": ["train", "--mini-batch-size", "64", "--epochs", "300",
                            "--checkpoint-every", "40", "--optimizer", "adam"],
    "sweep": ["sweep", "--hidden-sizes", "1,3", "--iterations", "2000"],
}
EXITS = (0, 128 + signal.SIGINT)  # done (a signal in the last segment lets it finish), stopped


def started(process):
    """Wait until the command's first line has run: it catches SIGTERM (Python itself does not),
    so a signal now is the command's to handle, not the interpreter's start-up."""
    while process.poll() is None:
        with open(f"/proc/{process.pid}/status") as status:
            caught = next(int(line.split()[1], 16) for line in status
                          if line.startswith("SigCgt:"))
        if caught >> (signal.SIGTERM - 1) & 1:
            return
        time.sleep(0.001)


def interrupt(name, out, rng):
    """Start ``name`` and send SIGINT at a random moment: while it starts (imports, compiles) or
    soon after its first line of output (training), and sometimes a second one soon after, or
    later. Returns (the signals delivered, exit code, stderr)."""
    process = subprocess.Popen(["jaxdnn", *COMMANDS[name], "--out", str(out)], env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    started(process)
    if rng.random() < 0.6:
        process.stdout.readline()  # its first cost or accuracy line: training
        delays = [rng.uniform(0, 1)]
    else:
        delays = [rng.uniform(0, 2.5)]
    if rng.random() < 0.5:
        delays.append(rng.choice([rng.uniform(0, 0.2), rng.uniform(0.2, 2)]))
    sent = 0
    for delay in delays:
        time.sleep(delay)
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGINT)
        sent += 1
    stderr = process.communicate(timeout=120)[1]
    return sent, process.returncode, stderr


def test_random_sigints_end_only_in_documented_ways(tmp_path):
    rng = random.Random(os.environ.get("JAXDNN_SIGNAL_SEED", 14))
    results, lock = [], threading.Lock()

    def worker(k):
        while True:
            with lock:
                if sum(r[2] for r in results if r) >= 50:
                    return
                index = len(results)
                results.append(None)  # reserved
                name = list(COMMANDS)[index % len(COMMANDS)]
                seed = rng.random()
            out = tmp_path / f"{index}"
            sent, code, stderr = interrupt(name, out, random.Random(seed))
            with lock:
                results[index] = (name, out, sent, code, stderr)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r[2] for r in results) >= 50
    resumable = []
    for name, out, sent, code, stderr in results:
        where = f"{name} into {out} after {sent} SIGINT: exit {code}, stderr {stderr!r}"
        assert code in EXITS, where
        assert "Traceback" not in stderr and "Segmentation" not in stderr, where
        lines = stderr.splitlines()
        assert len(lines) <= 1 and all(line.startswith("jaxdnn: ") for line in lines), where
        if code == 0:
            assert (out / ("sweep.json" if name == "sweep" else "model.npz")).exists(), where
        elif name == "sweep" and (out / "sweep.json").exists():
            json.loads((out / "sweep.json").read_text())  # complete, never half-written
        if code and (out / "checkpoint.npz").exists() and not (out / "model.npz").exists():
            assert "jaxdnn train --resume" in stderr, where
            resumable.append(out)
    assert resumable, "no run left a checkpoint to resume"
    for out in resumable[:2]:
        resumed = subprocess.run(["jaxdnn", "train", "--resume", str(out)], env=ENV,
                                 capture_output=True, text=True, timeout=120,
                                 start_new_session=True)
        assert resumed.returncode == 0, resumed.stderr
        assert (out / "model.npz").exists()


def test_a_second_sigint_stops_at_once_while_xla_runs(tmp_path):
    """The first SIGINT inside the training loop waits for the segment running to end (a long
    one here: wide layers and one example a batch make a segment of 100 epochs last a minute
    or more); the second ends the process at once with exit 130 and one line. A first SIGINT
    that lands before the loop (a loaded machine: still loading) ends the process at once, as
    documented; then the run is tried again, signalled later."""
    for attempt, delay in enumerate((4, 10, 25)):
        out = tmp_path / f"long{attempt}"
        process = subprocess.Popen(["jaxdnn", "train", "--dataset", "circles", "--layers",
                                    "2000,2000", "--mini-batch-size", "1", "--epochs",
                                    "100000", "--checkpoint-every", "100000", "--out", str(out)],
                                   env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        started(process)
        time.sleep(delay)  # imported, compiled, inside the first segment (on a quiet machine)
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        if process.poll() is None:  # the first one only asks to stop at the segment's end
            break
        assert process.returncode == 128 + signal.SIGINT
        assert process.communicate()[1] == "jaxdnn: interrupted by SIGINT\n"
    else:
        raise AssertionError("the first SIGINT never landed inside the training loop")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGINT, stderr
    assert stderr == "jaxdnn: interrupted by SIGINT\n"


def test_a_signal_never_cuts_a_compilation_cache_write_in_half(tmp_path):
    """JAX writes a cache entry with a plain write_bytes under the cache's file lock: a process
    ending at once first waits for that lock (here held by the test, as a write in progress
    would), so no later run reads a truncated entry."""
    import fcntl

    from jaxdnn.app.cache import versioned

    cache = tmp_path / "cache"
    os.makedirs(versioned(str(cache)), mode=0o700)
    fd = os.open(os.path.join(versioned(str(cache)), ".lockfile"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    process = subprocess.Popen(["jaxdnn", "sweep", "--out", str(tmp_path / "sweep")],
                               env=dict(ENV, JAXDNN_CACHE_DIR=str(cache)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        process.stdout.readline()  # its first line: inside the command, jax loaded
        process.send_signal(signal.SIGINT)
        time.sleep(1)
        assert process.poll() is None  # waiting for the write to end
    finally:
        os.close(fd)  # the write ends
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGINT and stderr == "jaxdnn: interrupted by SIGINT\n"
