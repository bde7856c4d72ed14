"""Where an iteration of fit_many's grid goes, against one fit's iteration times 64.

    python scripts/floor_many.py [--rounds 5] [--profile]

The grid of scripts/bench_many.py (64 planar networks [2, 4, 1], tanh, float32, 400 examples).
Each time is per iteration: the difference of a compiled run of 2500 and one of 500 iterations
(the calls' fixed costs cancel), the median of ``--rounds`` interleaved rounds. Rows:

  fit_many               the 64 models in one program
  64 x one fit           one model's ``jaxdnn.fit`` iteration, times 64
  tanh / softplus / sigmoid
                         the one op alone in a scan, on the stack's array: tanh on the hidden
                         layer (S n[1], m), the cost's softplus and the output's sigmoid on
                         (S, m). Both contenders compute exactly these values every iteration;
                         their sum bounds how fast fit_many's iteration can be.

``--profile`` also traces one fit_many run (jax.profiler, perfetto) and lists its ops by time.
"""

import argparse
import collections
import glob
import gzip
import json
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from bench_many import grid_models, planar

import jaxdnn

LO, HI = 500, 2500


def per_iteration(run):
    """``run(T)`` trains T iterations; microseconds per iteration, both lengths compiled."""
    for T in (LO, HI):
        jax.block_until_ready(run(T))
    times = []
    for T in (LO, HI):
        start = time.perf_counter()
        jax.block_until_ready(run(T))
        times.append(time.perf_counter() - start)
    return (times[1] - times[0]) / (HI - LO) * 1e6


def op_loop(op, shape, dtype):
    """``run(T)``: ``op`` on an array of ``shape`` T times in one scan, on values spread like
    pre-activations (each iteration's input depends on the last output, a fused ``x + c / 8``,
    so it is not hoisted; and the values neither settle nor shrink to subnormals)."""
    x = jnp.asarray(np.random.RandomState(0).randn(*shape) * 2, dtype)
    loops = {T: jax.jit(lambda x, T=T: jax.lax.scan(lambda c, _: (op(x + c / 8), None), x, None,
                                                    length=T)[0]) for T in (LO, HI)}
    return lambda T: loops[T](x)


def contenders(X, Y, models):
    stack = jaxdnn.stack_models([params for params, _ in models])
    rates = [rate for _, rate in models]
    first, rate = models[0]
    S, n1, m = len(models), stack.dims[0][1], X.shape[1]
    return {
        "fit_many": lambda T: jaxdnn.fit_many(X, Y, stack, hidden_activation="tanh",
                                              learning_rate=rates, num_iterations=T)[0],
        f"{S} x one fit": lambda T: [jaxdnn.fit(X, Y, first, hidden_activation="tanh",
                                                learning_rate=rate, num_iterations=T)[0]],
        f"tanh on ({S * n1}, {m})": op_loop(jnp.tanh, (S * n1, m), X.dtype),
        f"softplus on ({S}, {m})": op_loop(jax.nn.softplus, (S, m), X.dtype),
        f"sigmoid on ({S}, {m})": op_loop(jax.nn.sigmoid, (S, m), X.dtype),
    }, S


def profile(X, Y, models, iterations=2000):
    """fit_many's ops by total time, microseconds per iteration."""
    stack = jaxdnn.stack_models([params for params, _ in models])

    def run():
        return jaxdnn.fit_many(X, Y, stack, hidden_activation="tanh",
                               learning_rate=[rate for _, rate in models],
                               num_iterations=iterations)[0]

    jax.block_until_ready(run())
    with tempfile.TemporaryDirectory() as d:
        with jax.profiler.trace(d, create_perfetto_trace=True):
            jax.block_until_ready(run())
        with gzip.open(glob.glob(f"{d}/**/perfetto_trace.json.gz", recursive=True)[0]) as f:
            events = json.load(f)
    events = events["traceEvents"] if isinstance(events, dict) else events
    per_op, count = collections.Counter(), collections.Counter()
    for e in events:  # the loop body's thunks run once per iteration
        if e.get("ph") == "X" and not e["name"].startswith(("$", "Thunk", "Pjit", "end:")):
            per_op[e["name"]] += e["dur"]
            count[e["name"]] += 1
    body = {name: t for name, t in per_op.items() if count[name] == iterations}
    total = sum(body.values()) / iterations
    print(f"fit_many's loop body, profiled ({len(body)} ops, {total:.1f} us per iteration):")
    for name, t in sorted(body.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {t / iterations:8.2f} us  {100 * t / iterations / total:5.1f} %  {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    X, Y = planar()
    models = grid_models()
    runs, S = contenders(X, Y, models)
    times = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            times[name].append(per_iteration(run))
    med = {name: statistics.median(t) for name, t in times.items()}
    med[f"{S} x one fit"] *= S
    ops = sum(t for name, t in med.items() if " on (" in name)
    print(f"jax {jax.__version__}; us per iteration, median of {args.rounds} rounds")
    for name, t in med.items():
        print(f"  {name:<24} {t:8.1f}")
    print(f"  {'the three ops':<24} {ops:8.1f}")
    print(f"64 x one fit / fit_many: {med[f'{S} x one fit'] / med['fit_many']:.2f}; "
          f"/ the three ops alone (the most fit_many could reach): "
          f"{med[f'{S} x one fit'] / ops:.2f}")
    if args.profile:
        profile(X, Y, models)


if __name__ == "__main__":
    main()
