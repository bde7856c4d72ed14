"""jaxdnn's layer check side by side with jax.test_util.check_grads and torch.autograd.gradcheck
on the gallery: faults caught, classes named, false alarms on the correct layers over many
draws, seconds; float32 and float64, in one run.

Every tool sees the same inputs (jaxdnn's draws: normal entries, a quarter exactly 0, a tie).
check_grads checks the hand pair wrapped in a ``jax.custom_vjp`` (reverse mode, order 1, its
default tolerances for the dtype); it names no class. torch's gradcheck runs in a Python that
has torch (``--torch-python``, default /work/venv-torch/bin/python; skipped with a line when
there is none): the pair becomes a ``torch.autograd.Function`` whose forward and backward this
process evaluates (scripts/torch_gradcheck.py), checked by gradcheck's defaults (slow mode,
atol 1e-5, rtol 1e-3, eps 1e-6, the reentrancy check); an error raised counts as caught. Every
fault is expressible so, since torch sees the pair through its values; a gradient of another
dtype reaches torch as float32 values (torch's engine casts a gradient to its input's dtype).
jaxdnn runs without shrinking the counterexample (what is timed is the check).

    python scripts/bench_verify.py [--correct-draws 1000] [--dtypes float32,float64]
"""

import argparse
import os
import pathlib
import pickle
import struct
import subprocess
import time
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

from jaxdnn.verify import gallery, layer
from jaxdnn.verify import witnesses as w
from jaxdnn.verify.faults import FAULTS

TOOLS = ("jaxdnn", "check_grads", "torch gradcheck")
WORKER = pathlib.Path(__file__).with_name("torch_gradcheck.py")


class Torch:
    """torch.autograd.gradcheck in a child process, this process answering its calls."""

    def __init__(self, python):
        env = dict(os.environ, PYTHONPATH="")
        self.child = subprocess.Popen([python, str(WORKER)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env)

    def _send(self, message):
        data = pickle.dumps(message, protocol=4)
        self.child.stdin.write(struct.pack("<Q", len(data)) + data)
        self.child.stdin.flush()

    def _receive(self):
        size = struct.unpack("<Q", self.child.stdout.read(8))[0]
        return pickle.loads(self.child.stdout.read(size))

    @staticmethod
    def _encode(arrays):
        out = []
        for a in arrays:
            a = np.asarray(a)
            if a.dtype.name == "bfloat16":
                a = a.astype(np.float32)
            out.append((a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes()))
        return out

    @staticmethod
    def _decode(items):
        return [np.frombuffer(b, np.dtype(t)).reshape(s).copy() for t, s, b in items]

    def fails(self, forward, backward, inputs):
        """Whether gradcheck rejects the pair at ``inputs`` (an error counts)."""
        self._send(("check", self._encode(inputs)))
        while True:
            message = self._receive()
            if message[0] == "done":
                return message[1] != "pass"
            x = [jnp.asarray(a) for a in self._decode(message[1])]
            try:
                if message[0] == "forward":
                    result = [forward(*x)[0]]
                else:
                    d = jnp.asarray(self._decode(message[2])[0])
                    result = list(w.as_grads(backward(d, forward(*x)[1]), len(x)))
            except Exception:  # noqa: BLE001 - the pair failed: torch sees NaNs
                result = [np.full(np.shape(a), np.nan) for a in x]
            self._send(("result", self._encode(result)))

    def close(self):
        self._send(("quit",))
        self.child.wait()


def find_torch(python):
    """A Torch, or None (with the line saying why) when that Python has no torch."""
    if not python or not pathlib.Path(python).exists():
        return None, f"torch.autograd.gradcheck: no Python with torch at {python}, not run"
    probe = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                           capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=""))
    if probe.returncode:
        return None, f"torch.autograd.gradcheck: {python} has no torch, not run"
    return Torch(python), f"torch.autograd.gradcheck: torch {probe.stdout.strip()} ({python})"


def check_grads_fails(forward, backward, inputs):
    """Whether jax.test_util.check_grads rejects the pair at ``inputs`` (an error counts)."""
    cache_count = [None] * len(inputs)

    @jax.custom_vjp
    def f(*x):
        return forward(*x)[0]

    f.defvjp(lambda *x: forward(*x),
             lambda cache, d: tuple(w.as_grads(backward(d, cache), len(cache_count))))
    try:
        check_grads(f, inputs, order=1, modes=("rev",))
    except Exception:  # noqa: BLE001 - an assertion or a shape/dtype error: rejected either way
        return True
    return False


def jaxdnn_result(forward, backward, examples, seed=0, draws=3):
    report = layer.verify(forward, backward, examples, draws=draws, seed=seed, shrink=False)
    return None if report.finding is None else report.finding.bug


def faults(dtype, tool, reject):
    """``(caught, named, misses, seconds)``; ``reject(forward, backward, inputs)`` for a tool
    that names no class."""
    caught = named = 0
    misses = []
    start = time.perf_counter()
    for fault in FAULTS:
        examples = gallery.examples(fault.layer, dtype)
        forward = gallery.LAYERS[fault.layer].forward
        if tool == "jaxdnn":
            bug = jaxdnn_result(forward, fault.backward, examples)
            caught += bug is not None
            named += bug == fault.bug
            if bug != fault.bug:
                misses.append(f"{fault.name}: {bug}")
        else:
            rng = np.random.RandomState(0)
            failed = any(reject(forward, fault.backward, w.draw_inputs(examples, rng))
                         for _ in range(3))
            caught += failed
            if not failed:
                misses.append(fault.name)
    return caught, named, misses, time.perf_counter() - start


def false_alarms(dtype, tool, reject, draws):
    """``(alarms, draws done, seconds)`` over ``draws`` correct-layer draws spread evenly."""
    per_layer = max(1, draws // len(gallery.LAYERS))
    alarms, done, start = [], 0, time.perf_counter()
    for name, pair in gallery.LAYERS.items():
        examples = gallery.examples(name, dtype)
        rng = np.random.RandomState(7)
        for seed in range(per_layer):
            done += 1
            if tool == "jaxdnn":
                bug = jaxdnn_result(pair.forward, pair.backward, examples, seed=1000 + seed,
                                    draws=1)
            else:
                bug = reject(pair.forward, pair.backward, w.draw_inputs(examples, rng)) or None
            if bug is not None:
                alarms.append(f"{name} ({bug})" if tool == "jaxdnn" else name)
    return alarms, done, time.perf_counter() - start


def subtle(dtype, tool, reject):
    """The smallest relative error caught: dense's dW times 1 + delta, delta = 10^-1 .. 10^-12;
    and one wrong element (times 1.5) of tanh's gradient on a 100 x 100 input (torch: 30 x 30,
    its slow mode builds the whole Jacobian)."""
    forward, backward, _ = gallery.LAYERS["dense"]
    smallest = None
    for k in range(1, 13):
        delta = 10.0**-k
        off = lambda d, c, delta=delta: (backward(d, c)[0] * (1 + delta),  # noqa: E731
                                         *backward(d, c)[1:])
        if not _rejects(tool, reject, forward, off, gallery.examples("dense", dtype)):
            break
        smallest = delta
    tanh, tanh_backward, _ = gallery.LAYERS["tanh"]
    n = 30 if tool == "torch gradcheck" else 100
    one = lambda d, z: tanh_backward(d, z).at[17, 22].multiply(1.5)  # noqa: E731
    element = _rejects(tool, reject, tanh, one, (jnp.zeros((n, n), dtype),))
    return smallest, element, n


def _rejects(tool, reject, forward, backward, examples):
    if tool == "jaxdnn":
        return jaxdnn_result(forward, backward, examples) is not None
    rng = np.random.RandomState(0)
    return any(reject(forward, backward, w.draw_inputs(examples, rng)) for _ in range(3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--correct-draws", type=int, default=1000)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--torch-python", default="/work/venv-torch/bin/python")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    torch, line = find_torch(args.torch_python)
    print(line)
    rejecters = {"jaxdnn": None, "check_grads": check_grads_fails}
    if torch is not None:
        rejecters["torch gradcheck"] = torch.fails
    print(f"{len(FAULTS)} faults in {len({f.layer for f in FAULTS})} layers; "
          f"{len(gallery.LAYERS)} correct layers")
    print("| tool | dtype | faults caught | classes right | false alarms / correct draws "
          "| seconds (faults) | seconds (correct) |")
    print("|---|---|---|---|---|---|---|")
    notes, limits = [], []
    for dtype in args.dtypes.split(","):
        for tool, reject in rejecters.items():
            caught, named, misses, t_faults = faults(dtype, tool, reject)
            alarms, done, t_correct = false_alarms(dtype, tool, reject, args.correct_draws)
            classes = f"{named}/{len(FAULTS)}" if tool == "jaxdnn" else "- (names none)"
            print(f"| {tool} | {dtype} | {caught}/{len(FAULTS)} | {classes} | "
                  f"{len(alarms)} / {done} | {t_faults:.1f} | {t_correct:.1f} |",
                  flush=True)
            counts = ", ".join(f"{k} {n}" for k, n in Counter(alarms).most_common())
            notes.append(f"{tool} {dtype}: misses {misses or 'none'}; alarms {counts or 'none'}")
            smallest, element, n = subtle(dtype, tool, reject)
            limits.append(f"| {tool} | {dtype} | {smallest if smallest else 'none'} | "
                          f"{'caught' if element else 'missed'} ({n} x {n}) |")
    if torch is not None:
        torch.close()
    print("\n" + "\n".join(notes))
    print("\n| tool | dtype | smallest relative error caught in dense's dW | one element x1.5 "
          "in a tanh input |\n|---|---|---|---|\n" + "\n".join(limits))


if __name__ == "__main__":
    jnp.zeros(())  # jax's start-up outside the timings
    main()
