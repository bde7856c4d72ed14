"""What a research script's first ``L_layer_model`` call spends compiling, in new processes.

    python scripts/bench_first_call.py [--rounds 3] [--iterations 2500]

Each round starts three new processes that load the cat data and call ``L_layer_model`` on
it (the course's [12288, 20, 7, 5, 1], float32 unless x64): without a persistent cache, with
JAX's persistent compilation cache in an empty folder, and with the same folder again (warm).
Each child reports the call's wall time, the programs compiled (``jax_log_compiles``'s count,
from ``jax.monitoring``'s compile events) and the seconds JAX spent tracing, lowering and
compiling them; then a second call in the same process, for the compiled speed.

The cache is turned on by the script, not by the library (a library that flips global JAX
settings changes every other program of the process)::

    jax.config.update("jax_compilation_cache_dir", "/path/to/cache")
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # default 1 s
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "compile",
    "/jax/compilation_cache/cache_retrieval_time_sec": "cache read",
}


def child(cache, iterations):
    import jax
    if cache:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    spent = {name: 0.0 for name in EVENTS.values()}
    counts = {name: 0 for name in EVENTS.values()}

    def listen(event, seconds, **_):
        if event in EVENTS:
            spent[EVENTS[event]] += seconds
            counts[EVENTS[event]] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    import jaxdnn
    train_x, train_y, *_ = jaxdnn.load_cat_data("datasets")
    dims = [12288, 20, 7, 5, 1]
    start = time.perf_counter()
    params, _ = jaxdnn.L_layer_model(train_x, train_y, dims, num_iterations=iterations)
    jax.block_until_ready(params)
    first = time.perf_counter() - start
    first_spent, first_counts = dict(spent), dict(counts)
    start = time.perf_counter()
    jax.block_until_ready(jaxdnn.L_layer_model(train_x, train_y, dims,
                                               num_iterations=iterations)[0])
    second = time.perf_counter() - start
    print(json.dumps({"first_s": first, "second_s": second, "spent": first_spent,
                      "counts": first_counts}))


def run(cache, iterations):
    argv = [sys.executable, __file__, "--child", cache or "", "--iterations", str(iterations)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True,
                         env=dict(os.environ, JAX_PLATFORMS="cpu"))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=2500)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child, args.iterations)
    rows = {"no cache": [], "cache, empty": [], "cache, warm": []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as cache:
            rows["no cache"].append(run(None, args.iterations))
            rows["cache, empty"].append(run(cache, args.iterations))
            rows["cache, warm"].append(run(cache, args.iterations))
    print(f"L_layer_model on the cat data, {args.iterations} iterations, first call in a new "
          f"process; medians of {args.rounds} rounds (load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    print(f"{'':<14} {'first s':>8} {'range':>11} {'second s':>9} {'programs':>9} "
          + " ".join(f"{name + ' s':>12}" for name in EVENTS.values()))
    for name, results in rows.items():
        firsts = [r["first_s"] for r in results]
        spent = {k: statistics.median(r["spent"][k] for r in results) for k in EVENTS.values()}
        print(f"{name:<14} {statistics.median(firsts):>8.2f} "
              f"{f'{min(firsts):.2f}-{max(firsts):.2f}':>11} "
              f"{statistics.median(r['second_s'] for r in results):>9.3f} "
              f"{results[0]['counts']['compile']:>9} "
              + " ".join(f"{spent[k]:>12.3f}" for k in EVENTS.values()))


if __name__ == "__main__":
    main()
