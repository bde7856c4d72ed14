"""jaxdnn's layer check side by side with jax.test_util.check_grads (and torch.autograd.gradcheck
where torch is installed) on the gallery: faults caught, classes named, false alarms on the
correct layers over many draws, seconds; float32 and float64.

Every tool sees the same inputs (jaxdnn's draws: normal entries, a quarter exactly 0, a tie).
check_grads checks the hand pair wrapped in a ``jax.custom_vjp`` (reverse mode, order 1, its
default tolerances for the dtype); it names no class.

    python scripts/bench_verify.py [--correct-draws 1000] [--dtypes float32,float64]
"""

import argparse
import time
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

from jaxdnn.verify import gallery, layer
from jaxdnn.verify import witnesses as w
from jaxdnn.verify.faults import FAULTS


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
    report = layer.verify(forward, backward, examples, draws=draws, seed=seed)
    return None if report.finding is None else report.finding.bug


def faults(dtype, tool):
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
            failed = any(check_grads_fails(forward, fault.backward, w.draw_inputs(examples, rng))
                         for _ in range(3))
            caught += failed
            if not failed:
                misses.append(fault.name)
    return caught, named, misses, time.perf_counter() - start


def false_alarms(dtype, tool, draws):
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
                bug = check_grads_fails(pair.forward, pair.backward,
                                        w.draw_inputs(examples, rng)) or None
            if bug is not None:
                alarms.append(f"{name} ({bug})" if tool == "jaxdnn" else name)
    return alarms, done, time.perf_counter() - start


def subtle(dtype, tool):
    """The smallest relative error caught: dense's dW times 1 + delta, delta = 10^-1 .. 10^-12;
    and one wrong element (times 1.5) of tanh's gradient on a 100 x 100 input."""
    forward, backward, _ = gallery.LAYERS["dense"]
    smallest = None
    for k in range(1, 13):
        delta = 10.0**-k
        off = lambda d, c, delta=delta: (backward(d, c)[0] * (1 + delta),  # noqa: E731
                                         *backward(d, c)[1:])
        if not _rejects(tool, forward, off, gallery.examples("dense", dtype)):
            break
        smallest = delta
    tanh, tanh_backward, _ = gallery.LAYERS["tanh"]
    one = lambda d, z: tanh_backward(d, z).at[17, 42].multiply(1.5)  # noqa: E731
    element = _rejects(tool, tanh, one, (jnp.zeros((100, 100), dtype),))
    return smallest, element


def _rejects(tool, forward, backward, examples):
    if tool == "jaxdnn":
        return jaxdnn_result(forward, backward, examples) is not None
    rng = np.random.RandomState(0)
    return any(check_grads_fails(forward, backward, w.draw_inputs(examples, rng))
               for _ in range(3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--correct-draws", type=int, default=1000)
    parser.add_argument("--dtypes", default="float32,float64")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    try:
        import torch  # noqa: F401
        print("torch is installed; its gradcheck is not wired in this script yet")
    except ImportError:
        print("torch.autograd.gradcheck: torch not installed, not run")
    print(f"{len(FAULTS)} faults in {len({f.layer for f in FAULTS})} layers; "
          f"{len(gallery.LAYERS)} correct layers")
    print("| tool | dtype | faults caught | classes right | false alarms / correct draws "
          "| seconds (faults) | seconds (correct) |")
    print("|---|---|---|---|---|---|---|")
    notes, limits = [], []
    for dtype in args.dtypes.split(","):
        for tool in ("jaxdnn", "check_grads"):
            caught, named, misses, t_faults = faults(dtype, tool)
            alarms, done, t_correct = false_alarms(dtype, tool, args.correct_draws)
            classes = f"{named}/{len(FAULTS)}" if tool == "jaxdnn" else "- (names none)"
            print(f"| {tool} | {dtype} | {caught}/{len(FAULTS)} | {classes} | "
                  f"{len(alarms)} / {done} | {t_faults:.1f} | {t_correct:.1f} |",
                  flush=True)
            counts = ", ".join(f"{k} {n}" for k, n in Counter(alarms).most_common())
            notes.append(f"{tool} {dtype}: misses {misses or 'none'}; alarms {counts or 'none'}")
            smallest, element = subtle(dtype, tool)
            limits.append(f"| {tool} | {dtype} | {smallest if smallest else 'none'} | "
                          f"{'caught' if element else 'missed'} |")
    print("\n" + "\n".join(notes))
    print("\n| tool | dtype | smallest relative error caught in dense's dW | one element x1.5 "
          "in a 100 x 100 tanh |\n|---|---|---|---|\n" + "\n".join(limits))


if __name__ == "__main__":
    jnp.zeros(())  # jax's start-up outside the timings
    main()
