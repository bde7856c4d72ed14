"""Where the Gram loop's time goes: CPU time per iteration against its largest product and
without the divergence guard, side by side, the compiled program's size, and the float32 path's
distance from float64.

    python scripts/bench_gram.py [--data-dir DIR] [--rounds N]

The course's cat model [12288, 20, 7, 5, 1] (the real data when present, random data of that
shape otherwise). Times are process CPU time (this machine is shared; CPU time is far steadier
than wall time for a single-threaded loop), per iteration as the difference between 2500 and
500 iterations; variants run in interleaved rounds and are reported as the median of per-round
ratios to the loop as shipped, with their range.
"""

import argparse
import contextlib
import os
import statistics
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxdnn  # noqa: E402
from jaxdnn.core.network import layer_activations  # noqa: E402
from jaxdnn.train import gram, loop  # noqa: E402

DIMS = [12288, 20, 7, 5, 1]


def data(data_dir):
    if os.path.exists(os.path.join(data_dir, "train_catvnoncat.h5")):
        return jaxdnn.load_cat_data(data_dir)[:2]
    rng = np.random.RandomState(0)
    return rng.rand(DIMS[0], 209), (rng.rand(1, 209) > 0.5).astype(np.float64)


@contextlib.contextmanager
def variant(guard=True):
    """While tracing: without the guard, the loop keeps every carry (a benchmark-only variant:
    it would not stop at NaN)."""
    checked = loop._all_finite
    if not guard:
        loop._all_finite = lambda tree: jnp.bool_(True)
    try:
        yield
    finally:
        loop._all_finite = checked


def compiled(X, Y, params, n, dtype):
    carry = loop.Carry(params, None, {"gram": gram.fresh_state(params, None, X.shape[1])})
    args = (loop.Data(X, Y), carry, jnp.int32(0), jnp.int32(n),
            loop.Hyper(jnp.full(n, 0.0075, dtype), jnp.asarray(0.0, dtype)))
    start = time.perf_counter()
    program = loop.run.lower(*args, program=loop.Program(
        gram.BODY, layer_activations("relu", 4), n)).compile()
    return program, args, time.perf_counter() - start


def cpu_seconds(program, args):
    args = (args[0], jax.tree.map(jnp.array, args[1]), *args[2:])  # donated: a fresh copy
    start = time.process_time()
    jax.block_until_ready(program(*args))
    return time.process_time() - start


def matmul_only(Z, K, n):
    return jax.lax.scan(lambda Z, i: (Z + (1e-9 * Z) @ K, None), Z, jnp.arange(n))[0]


def profile(X, Y, dtype, rounds):
    X, Y = jnp.asarray(X, dtype), jnp.asarray(Y, dtype)
    params = jaxdnn.initialize_parameters_deep(DIMS, numpy_seed=1, scheme="scaled", dtype=dtype)
    kinds = {"as shipped": {}, "no guard": {"guard": False}}
    programs = {}
    for name, options in kinds.items():
        with variant(**options):
            programs[name] = [compiled(X, Y, params, n, dtype) for n in (500, 2500)]
    compile_s = programs["as shipped"][1][2]
    K, Z = X.T @ X + 1, jnp.ones((DIMS[1], X.shape[1]), dtype)
    floor = {n: jax.jit(matmul_only, static_argnums=2).lower(Z, K, n).compile()
             for n in (500, 2500)}
    per_iteration = {name: [] for name in [*kinds, "u @ K alone"]}
    for _ in range(rounds):
        for name, ((short, short_args, _), (long, long_args, _)) in programs.items():
            per_iteration[name].append((cpu_seconds(long, long_args)
                                        - cpu_seconds(short, short_args)) / 2000)
        times = []
        for n in (2500, 500):
            start = time.process_time()
            jax.block_until_ready(floor[n](Z, K))
            times.append(time.process_time() - start)
        per_iteration["u @ K alone"].append((times[0] - times[1]) / 2000)
    base = per_iteration["as shipped"]
    print(f"{dtype}: compiling the loop {compile_s:.2f} s; HLO of the compiled loop: "
          f"{hlo_counts(programs['as shipped'][1][0])}")
    for name, values in per_iteration.items():
        ratios = [v / b for v, b in zip(values, base, strict=True)]
        print(f"  {name:12} {statistics.median(values) * 1e6:6.1f} us/iteration (CPU)  "
              f"x shipped {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")


def hlo_counts(program):
    lines = [line for line in program.as_text().splitlines() if " = " in line]
    fusions = sum(" fusion(" in line for line in lines)
    dots = sum(" dot(" in line or "custom-call(" in line for line in lines)
    return f"{len(lines)} instructions, {fusions} fusions, {dots} dots"


def drift(X, Y):
    """The float32 Gram and plain loops' costs against float64's, 250 and 2500 iterations."""
    costs = {}
    for dtype, path in (("float64", "auto"), ("float32", "auto"), ("float32", False)):
        costs[dtype, path] = np.asarray(jaxdnn.L_layer_model(
            X, Y, DIMS, num_iterations=2500, dtype=dtype, gram=path)[1], np.float64)
    reference = costs["float64", "auto"]
    for (dtype, path), c in costs.items():
        if dtype == "float32":
            gap = np.abs(c / reference - 1)
            print(f"float32 {'Gram' if path else 'plain'} loop vs float64: max relative cost "
                  f"difference {gap[:250].max():.1e} over 250 iterations, first above 1e-6 at "
                  f"{int(np.argmax(gap > 1e-6))}; cost at 2400 {c[2400]:.6f} (float64 "
                  f"{reference[2400]:.6f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="datasets")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    X, Y = data(args.data_dir)
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}, {os.cpu_count()} cpus")
    for dtype in ("float64", "float32"):
        profile(X, Y, dtype, args.rounds)
    drift(X, Y)


if __name__ == "__main__":
    main()
