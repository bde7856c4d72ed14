"""Whole-command times of ``jaxdnn train`` with a cold and a warm compilation cache, side by side
with the course's numpy loop, in one process.

    python scripts/bench_startup.py [--data-dir DIR] [--rounds N]

Each round runs, as new processes: the cat command with an empty cache folder (cold), again with
the folder that run filled (cached), the same with ``--plain``, the planar command cold and
cached, and a script calling ``L_layer_model`` (float64, 2500 iterations) cold and cached (the
call alone is timed there); then 500 iterations of the numpy loop (scripts/bench.py's, the cat
model) in this process in float32 and in float64, times 5 for 2500 (numpy's iterations all cost
the same). Prints, per command, the median wall seconds and their range, the median CPU seconds
of the process (steadier on a shared machine), and the median of the per-round ratios numpy /
command (x numpy: how many times faster than the numpy loop in the command's dtype: float32 for
``jaxdnn train``, float64 for the ``L_layer_model`` script).
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import numpy_loop  # noqa: E402

import jaxdnn  # noqa: E402

COURSE = """
import sys, time
from jaxdnn.app import cache as _cache
_cache.enable()
import jax
jax.config.update("jax_enable_x64", True)
import jaxdnn
x, y, *_ = jaxdnn.load_cat_data(sys.argv[1])
start, cpu = time.perf_counter(), time.process_time()
jaxdnn.L_layer_model(x, y, [12288, 20, 7, 5, 1], num_iterations=2500, dtype="float64")
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def timed(argv, cache):
    """(wall s, CPU s) of one new process; for the course script, of its call alone."""
    env = dict(os.environ, JAXDNN_CACHE_DIR=cache, JAX_PLATFORMS="cpu")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if argv[0] == sys.executable:
        wall, cpu = map(float, result.stdout.split()[-2:])
        return wall, cpu
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="datasets")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    train_x, train_y, *_ = jaxdnn.load_cat_data(args.data_dir)
    numpy_runs = {}
    for dtype in ("float32", "float64"):  # numpy's arrays: float64 needs no x64 here
        params = jaxdnn.initialize_parameters_deep([12288, 20, 7, 5, 1], numpy_seed=1,
                                                   scheme="scaled", dtype="float32")
        params = {k: np.asarray(v, dtype) for k, v in params.items()}
        numpy_runs[dtype] = numpy_loop(train_x.astype(dtype), train_y.astype(dtype), params, 500)
    rows, numpy_s = {}, {"float32": [], "float64": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = ["--out", os.path.join(tmp, "run")]
        cat = ["jaxdnn", "train", "--dataset", "cat", "--data-dir", args.data_dir, *out]
        planar = ["jaxdnn", "train", *out]
        course = [sys.executable, "-c", COURSE, args.data_dir]
        commands = (("jaxdnn train --dataset cat, cold", cat, "cat", True),
                    ("jaxdnn train --dataset cat, cached", cat, "cat", False),
                    ("  the same with --plain, cached", [*cat, "--plain"], "cat", False),
                    ("jaxdnn train (planar), cold", planar, "planar", True),
                    ("jaxdnn train (planar), cached", planar, "planar", False),
                    ("L_layer_model f64 call, cold", course, "course", True),
                    ("L_layer_model f64 call, cached", course, "course", False))
        for _ in range(args.rounds):
            for name, argv, folder, cold in commands:
                cache = os.path.join(tmp, folder)
                if cold:
                    shutil.rmtree(cache, ignore_errors=True)
                rows.setdefault(name, []).append(timed(argv, cache))
            for dtype, numpy_run in numpy_runs.items():
                start = time.perf_counter()
                numpy_run()
                numpy_s[dtype].append(5 * (time.perf_counter() - start))
    for dtype, times in numpy_s.items():
        print(f"numpy loop, cat model, {dtype}, 2500 iterations: median "
              f"{statistics.median(times):.1f} s (range {min(times):.1f}-{max(times):.1f})")
    print(f"{'command':36} {'wall s':>7} {'range':>11} {'CPU s':>6} {'x numpy':>8}")
    for name, times in rows.items():
        wall = [w for w, _ in times]
        numpy = numpy_s["float64" if name.startswith("L_layer_model") else "float32"]
        ratio = statistics.median(n / w for n, w in zip(numpy, wall, strict=True))
        print(f"{name:36} {statistics.median(wall):7.2f} {min(wall):5.2f}-{max(wall):<5.2f} "
              f"{statistics.median(c for _, c in times):6.2f} {ratio:8.1f}")


if __name__ == "__main__":
    main()
