"""Data-parallel step time: a wide network's training step sharded over 2 devices against 1.

    python scripts/bench_mesh.py [--rounds R] [--steps S] [--examples M] [--json FILE]

The workload is bench.py's ``wide``, [1024, 1024, 1024, 1] in float32 (4096 examples unless
``--examples``), full-batch descent through ``jaxdnn.fit`` (the plain loop): one device
(``mesh=None``) against ``mesh=2``, the examples sharded over two devices. On a CPU the two
devices are XLA host devices (``--xla_force_host_platform_device_count=2``), which must be set
before JAX starts, so every configuration runs in a child process of this script. Two
configurations: XLA's default threading, where one device's matmuls already use every core,
and ``--xla_cpu_multi_thread_eigen=false``, one thread per device's matmul, where the
data-parallel split is the only parallelism. Within a child the two variants run in
interleaved rounds after a compiling warm-up; the ratio is the median of the per-round ratios
(2 devices / 1; below 1 is faster); ``CPU ms`` is the process's CPU time per step, all
threads (the machine's share it got, beside the wall time). On a machine with 2+ GPUs the
same script times them (the flags only concern CPU devices).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONFIGS = {
    "default threads": "",
    "one thread per device": "--xla_cpu_multi_thread_eigen=false",
}


def child(args):
    import jax
    import numpy as np

    import jaxdnn

    rng = np.random.RandomState(0)
    dims = [1024, 1024, 1024, 1]
    X = rng.rand(dims[0], args.examples).astype(np.float32)
    Y = (rng.rand(1, args.examples) > 0.5).astype(np.float32)
    params = jaxdnn.initialize_parameters_deep(dims, numpy_seed=1, scheme="scaled",
                                               dtype="float32")
    variants = {"1 device": None, "2 devices": 2}

    def run(mesh):
        trained, costs = jaxdnn.fit(X, Y, params, learning_rate=0.0075, gram=False,
                                    num_iterations=args.steps, mesh=mesh)
        return costs  # a numpy array: the loop has finished

    for mesh in variants.values():
        run(mesh)  # compiles
    times = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, mesh in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run(mesh)
            times[name].append((time.perf_counter() - start) / args.steps)
            cpu[name].append((time.process_time() - start_cpu) / args.steps)
    device = jax.devices()[0]
    print(json.dumps({"device": f"{device.platform}: {device.device_kind}",
                      "devices": jax.device_count(), "times": times, "cpu": cpu}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="iterations per timed fit")
    parser.add_argument("--examples", type=int, default=4096)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", choices=list(CONFIGS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    flops = 2 * args.examples * (3 * (1024 * 1024 * 2 + 1024) - 1024 * 1024)
    print(f"wide [1024, 1024, 1024, 1], {args.examples} examples, float32, "
          f"{flops / 1e9:.1f} GFLOP per step; {os.cpu_count()} cpus; load average "
          f"{os.getloadavg()[0]:.1f} before")
    print(f"{'configuration':24} {'1 device ms':>12} {'2 devices ms':>13} "
          f"{'2/1 (paired range)':>22} {'CPU ms 1 / 2':>14}  device")
    results = {}
    for config, flags in CONFIGS.items():
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count=2 {flags}")
        out = subprocess.run([sys.executable, __file__, "--child", config, "--rounds",
                              str(args.rounds), "--steps", str(args.steps), "--examples",
                              str(args.examples)], env=env, capture_output=True, text=True,
                             check=True).stdout
        found = json.loads(out.splitlines()[-1])
        one, two = found["times"]["1 device"], found["times"]["2 devices"]
        paired = [b / a for a, b in zip(one, two, strict=True)]
        found["ratio"] = statistics.median(paired)
        results[config] = found
        print(f"{config:24} {statistics.median(one) * 1e3:12.1f} "
              f"{statistics.median(two) * 1e3:13.1f} {found['ratio']:8.2f} "
              f"({min(paired):.2f}-{max(paired):.2f}) "
              f"{statistics.median(found['cpu']['1 device']) * 1e3:6.0f} / "
              f"{statistics.median(found['cpu']['2 devices']) * 1e3:<6.0f} {found['device']}",
              flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} after")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
