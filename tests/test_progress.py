"""Progress: one updating bar on a terminal (tested in a pseudo-terminal, in a real process),
the course's lines where the output is not a terminal or with --verbose, nothing with --quiet,
and the final cost last."""

import io
import os
import pty
import re
import subprocess

from jaxdnn.app.cli import main
from jaxdnn.train import reports

ENV = dict(os.environ, JAX_PLATFORMS="cpu", COLUMNS="120")


def on_a_terminal(*argv, cwd):
    """``jaxdnn argv`` with stdout and stderr on a pseudo-terminal: (exit code, what it
    showed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(["jaxdnn", *argv], stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=follower, env=ENV, cwd=cwd)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has ended
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=600), shown.decode()


def test_a_run_on_a_terminal_shows_one_updating_bar_and_the_final_cost(tmp_path):
    code, shown = on_a_terminal("train", "--iterations", "1500", "--checkpoint-every", "0",
                                "--out", "run", cwd=tmp_path)
    assert code == 0, shown
    assert "Cost after iteration" not in shown  # the bar instead of 15 lines
    bar = shown.split("Final cost")[0]
    updates = [part for part in bar.split("\r") if part.strip()]
    assert len(updates) >= 2 and all("iterations/s" in u for u in updates[1:]), updates
    assert re.search(r"100%\|#+\| 1500/1500 \[\d\d:\d\d<\d\d:\d\d, [\d,.]+ iterations/s, "
                     r"cost \d\.\d{6}\]", updates[-1]), updates[-1]
    lines = shown.replace("\r\n", "\n").split("\n")
    final = next(line for line in lines if line.startswith("Final cost: "))
    assert lines.index(final) < lines.index(next(line for line in lines
                                                 if line.startswith("Train accuracy")))


def test_verbose_on_a_terminal_prints_the_course_lines_above_the_bar(tmp_path):
    code, shown = on_a_terminal("train", "--iterations", "300", "--verbose", "--out", "run",
                                cwd=tmp_path)
    assert code == 0, shown
    lines = [part for line in shown.split("\n") for part in line.split("\r") if part.strip()]
    costs = [line for line in lines if line.startswith("Cost after iteration")]
    assert [line.split(":")[0][-3:] for line in costs] == ["n 0", "100", "200"]
    assert "300/300 [" in shown and "iterations/s" in shown


def test_without_a_terminal_the_lines_are_plain_and_quiet_prints_none(tmp_path, capsys):
    assert main(["train", "--iterations", "250", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr()
    assert "\r" not in out.out + out.err
    assert [line.split(":")[0] for line in out.out.splitlines()[:4]] == [
        "Cost after iteration 0", "Cost after iteration 100", "Cost after iteration 200",
        "Final cost"]
    assert main(["train", "--iterations", "250", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert "Cost after" not in quiet and quiet.startswith("Final cost: ")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_bar_reports_rate_time_left_and_cost():
    err = Terminal()
    progress = reports.Progress(1000, "epoch", err=err, out=io.StringIO())
    progress(99, 0.5)
    progress(499, 0.25)
    text = progress.text()
    assert text.startswith(" 50%|" + "#" * 12 + "." * 12 + "| 500/1000 [")
    assert "epochs/s, cost 0.250000]" in text
    progress.close(1000, 0.125)
    assert err.getvalue().endswith("1000/1000 [" + err.getvalue().split("1000/1000 [")[-1])
    assert err.getvalue().endswith("cost 0.125000]\n")


def test_fit_and_fit_many_print_cost_progress_draw_the_bar(monkeypatch, capsys):
    import numpy as np

    import jaxdnn

    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    X = np.random.RandomState(0).randn(2, 40)
    Y = (X[:1] > 0).astype(np.float64)
    params = jaxdnn.initialize_parameters_deep([2, 3, 1], numpy_seed=1)
    jaxdnn.fit(X, Y, params, num_iterations=300, print_cost="progress")
    assert "/300 [" in err.getvalue() and "iterations/s" in err.getvalue()
    jaxdnn.fit(X, Y, params, num_iterations=300, print_cost=True)
    assert "Cost after iteration 200:" in capsys.readouterr().out
    err.seek(0)
    err.truncate()
    stack = jaxdnn.stack_models([params, jaxdnn.initialize_parameters_deep([2, 4, 1],
                                                                          numpy_seed=2)])
    jaxdnn.fit_many(X, Y, stack, num_iterations=300, print_cost="progress")
    shown = err.getvalue()
    assert "201/300 [" in shown and shown.rstrip("\n").split("\r")[-1].startswith("100%|")


def test_compare_and_check_draw_one_bar_over_their_models_sweep_over_its_iterations(
        monkeypatch, capsys, tmp_path):
    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    assert main(["compare", "--dataset", "moons", "--hidden-activation", "tanh", "--seeds",
                 "2", "--layers", "3", "--iterations", "5", "--out", str(tmp_path)]) == 0
    assert err.getvalue().rstrip("\n").split("\r")[-1].startswith("100%|") and \
        "2/2 [" in err.getvalue() and "models/s" in err.getvalue()
    assert "trained tanh at learning rate 0.03 over 2 seeds" in capsys.readouterr().out
    err.seek(0)
    err.truncate()
    assert main(["check", "--draws", "2", "--layers", "3", "--examples", "4"]) == 0
    assert "2/2 [" in err.getvalue() and "draws/s" in err.getvalue()
    assert "draw 1 (" in capsys.readouterr().out  # the lines too: stdout is not a terminal
    err.seek(0)
    err.truncate()
    assert main(["sweep", "--hidden-sizes", "2,3", "--iterations", "350", "--out",
                 str(tmp_path / "sweep")]) == 0  # one program, cut every 100 iterations
    shown = err.getvalue()
    assert shown.startswith("\r  0%|") and "0/350 [" in shown
    assert "301/350 [" in shown and shown.rstrip("\n").split("\r")[-1].startswith(
        "100%|") and "350/350 [" in shown and "iterations/s" in shown
