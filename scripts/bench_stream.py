"""Streamed mini-batch training (fit_stream) against the in-memory loop (fit), side by side.

    python scripts/bench_stream.py [--rounds 3] [--quick] [--json FILE] [--dir DIR]

Each workload writes an h5 file into ``--dir`` (a temporary folder by default; deleted after),
then trains the same network with the same options and key both ways, alternating, after one
untimed call of each (compilation): ``fit`` on ``H5Examples.load()`` (the inputs in memory, the
whole run one compiled scan) and ``fit_stream`` on the file (chunks of ``CHUNK_BYTES`` read by
the prefetch thread, one compiled call per chunk). Reported: the median examples per second
over ``--rounds`` and the ratio streamed / in memory. The file has just been written, so it is
read from the page cache: this measures the streaming machinery, not a disk.

Workloads (float32):
  images  cat-shaped: (m, 64, 64, 3) uint8, [12288, 20, 7, 5, 1] ReLU, batches of 64, gd 0.0075
  table   (m, 784) float32, [784, 256, 128, 10] softmax, batches of 256, Adam 0.001
  narrow  (m, 100) float32, [100, 16, 1], batches of 64: so little compute per row that the
          reads (h5py, a few microseconds per row) are the bound
"""

import argparse
import json
import pathlib
import statistics
import tempfile
import time

import h5py
import jax
import numpy as np
import optax

import jaxdnn

WORKLOADS = {  # name: (examples, quick examples, shape of one example, dtype, dims, batch, options)
    "images": (4096, 1024, (64, 64, 3), np.uint8, [12288, 20, 7, 5, 1], 64,
               dict(learning_rate=0.0075)),
    "table": (65536, 8192, (784,), np.float32, [784, 256, 128, 10], 256,
              dict(optimizer=optax.adam(0.001), output="softmax")),
    "narrow": (262144, 32768, (100,), np.float32, [100, 16, 1], 64,
               dict(learning_rate=0.01)),
}


def write(path, m, shape, dtype, classes, seed=0):
    """m random examples, written in slices (the writer's memory stays bounded too)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        x = f.create_dataset("x", (m, *shape), dtype)
        for s in range(0, m, 4096):
            k = min(4096, m - s)
            x[s:s + k] = (rng.integers(0, 256, (k, *shape), np.uint8) if dtype == np.uint8
                          else rng.standard_normal((k, *shape), dtype=np.float32))
        f["y"] = rng.integers(0, max(classes, 2), m).astype(np.uint8)


def seconds(fn):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def bench(name, args, folder):
    m, quick_m, shape, dtype, dims, batch, options = WORKLOADS[name]
    m = quick_m if args.quick else m
    path = pathlib.Path(folder) / f"{name}.h5"
    write(path, m, shape, dtype, dims[-1])
    examples = jaxdnn.H5Examples(path, "x", "y")
    params = jaxdnn.initialize_parameters_deep(dims, jax.random.PRNGKey(0), scheme="he",
                                               dtype="float32")
    options = dict(options, mini_batch_size=batch, num_epochs=args.epochs,
                   key=jax.random.PRNGKey(1))
    X, Y = examples.load()
    X = X.astype(np.float32)
    runs = {"in memory": lambda: jaxdnn.fit(X, Y, params, **options)[0],
            "streamed": lambda: jaxdnn.fit_stream(examples, params, **options)[0]}
    compile_s = {k: seconds(run) for k, run in runs.items()}
    times = {k: [] for k in runs}
    for _ in range(args.rounds):
        for k, run in runs.items():
            times[k].append(seconds(run))
    path.unlink()
    rate = {k: args.epochs * m / statistics.median(t) for k, t in times.items()}
    row = {"workload": name, "examples": m, "features": int(np.prod(shape)),
           "file_mb": m * int(np.prod(shape)) * np.dtype(dtype).itemsize / 2**20,
           "batch": batch, "dims": dims, "epochs": args.epochs,
           "in_memory_examples_per_s": rate["in memory"],
           "streamed_examples_per_s": rate["streamed"],
           "streamed_over_in_memory": rate["streamed"] / rate["in memory"],
           "first_call_s": compile_s, "all_s": times}
    print(f"{name:<8} {m:>7} x {row['features']:<6} {row['file_mb']:>7.0f} MB  "
          f"{rate['in memory']:>12.0f} {rate['streamed']:>12.0f} "
          f"{100 * row['streamed_over_in_memory']:>6.0f} %", flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--quick", action="store_true", help="smaller files")
    parser.add_argument("--dir", help="where to write the files (default: a temporary folder)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    print(f"device: {jax.devices()[0].device_kind}; chunks of "
          f"{jaxdnn.train.stream.CHUNK_BYTES / 2**20:.0f} MB; median of {args.rounds} rounds, "
          f"{args.epochs} epoch(s) each, float32")
    print(f"{'workload':<8} {'examples x features':>18} {'file':>9}  {'in memory/s':>12} "
          f"{'streamed/s':>12} {'ratio':>8}")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="jaxdnn-bench-stream-") as folder:
        rows = [bench(name, args, folder) for name in args.workloads.split(",")]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
