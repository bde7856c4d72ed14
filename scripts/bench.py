"""Training speed, side by side in one process: jaxdnn's hand-written chain, jax.grad, numpy, torch.

    python scripts/bench.py [--data-dir DIR] [--json FILE] [--quick] [--scale]

Workloads (each in float32 and float64):
  cat-e2e   the course's cat model [12288, 20, 7, 5, 1], 2500 full-batch iterations, time to
            trained parameters (compile time reported separately); the real data when present,
            random data of the same shape otherwise
  cat-step  one training step at cat size
  wide      [1024, 1024, 1024, 1], 4096 examples (compute bound)
  deep      ten hidden layers of 64, 256 examples (overhead bound)

Variants:
  hand      jaxdnn's hand-written backward, whole loop jitted (jaxdnn.fit, gram=False)
  autodiff  jax.value_and_grad of the same cost, the same jitted scan loop
  gram      jaxdnn.fit through the Gram matrix of X (only where n[0] > m)
  numpy     the course's algorithm in plain numpy, written below
  torch     PyTorch autograd (when torch is importable; never a dependency)

The variants of a workload run in interleaved rounds (hand, autodiff, ..., hand, autodiff, ...)
after a compiling warm-up, so machine drift affects them alike. Columns: median ms per step, its
spread (min-max), the median of the per-round ratios to ``hand`` (below 1 is faster) and their
range, achieved GFLOP/s (the useful work of one step: forward,
dW/db and dA for layers 2..L), the same process's matmul peak for the dtype, and the device the
row ran on: JAX's default device (``platform: device_kind``, a GPU or TPU when JAX has one; the
script needs no change) for the jax variants, the host CPU for numpy and torch.
"""

import argparse
import json
import os
import platform
import statistics
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxdnn  # noqa: E402

WORKLOADS = {
    "cat-step": ([12288, 20, 7, 5, 1], 209),
    "wide": ([1024, 1024, 1024, 1], 4096),
    "deep": ([64] * 11 + [1], 256),
}


def flops_per_step(dims, m):
    pairs = [dims[l] * dims[l - 1] for l in range(1, len(dims))]
    return 2 * m * (3 * sum(pairs) - pairs[0])  # forward, dW, dA (none for the input)


def timed(fn, repeats):
    """Wall times (s) of ``fn()`` after one warm-up call; returns (warm-up, [times])."""
    start = time.perf_counter()
    fn()
    warm = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return warm, times


def problem(dims, m, dtype, data_dir=None):
    if data_dir and dims[0] == 12288 and os.path.exists(os.path.join(data_dir,
                                                                     "train_catvnoncat.h5")):
        train_x, train_y, *_ = jaxdnn.load_cat_data(data_dir)
        X, Y = train_x.astype(dtype), train_y.astype(dtype)
    else:
        rng = np.random.RandomState(0)
        X = rng.rand(dims[0], m).astype(dtype)
        Y = (rng.rand(1, m) > 0.5).astype(dtype)
    params = jaxdnn.initialize_parameters_deep(dims, numpy_seed=1, scheme="scaled", dtype=dtype)
    return X, Y, params


# --- the variants -------------------------------------------------------------------------------

def jax_loop(kind, X, Y, params, steps, lr=0.0075):
    X, Y = jnp.asarray(X), jnp.asarray(Y)
    if kind in ("hand", "gram"):
        def run():
            p, costs = jaxdnn.fit(X, Y, params, learning_rate=lr, num_iterations=steps,
                                  gram=kind == "gram")
            return costs
        return run

    def cost(p):
        AL, caches = jaxdnn.L_model_forward(X, p)
        return jaxdnn.compute_cost_from_logits(caches[-1][1], Y)

    @jax.jit
    def loop(p):
        def step(p, _):
            c, g = jax.value_and_grad(cost)(p)
            return jax.tree.map(lambda a, b: a - lr * b, p, g), c
        return jax.lax.scan(step, p, None, length=steps)

    return lambda: np.asarray(loop(params)[1])


def numpy_loop(X, Y, params, steps, lr=0.0075):
    """The course's algorithm: relu hidden layers, sigmoid output, literal backward."""
    X, Y = np.asarray(X), np.asarray(Y)
    p0 = {k: np.asarray(v) for k, v in params.items()}

    def run():
        p = dict(p0)
        L = len(p) // 2
        m = X.shape[1]
        for _ in range(steps):
            A, caches = X, []
            for l in range(1, L + 1):
                Z = p[f"W{l}"] @ A + p[f"b{l}"]
                caches.append((A, Z))
                A = np.maximum(0, Z) if l < L else 1 / (1 + np.exp(-Z))
            dA = -(Y / A - (1 - Y) / (1 - A))
            for l in range(L, 0, -1):
                A_prev, Z = caches[l - 1]
                if l == L:
                    s = 1 / (1 + np.exp(-Z))
                    dZ = dA * s * (1 - s)
                else:
                    dZ = np.where(Z > 0, dA, 0)
                dW, db = dZ @ A_prev.T / m, dZ.sum(axis=1, keepdims=True) / m
                if l > 1:
                    dA = p[f"W{l}"].T @ dZ
                p[f"W{l}"] = p[f"W{l}"] - lr * dW
                p[f"b{l}"] = p[f"b{l}"] - lr * db
        return p
    return run


def torch_loop(X, Y, params, steps, lr=0.0075):
    import torch

    torch.set_num_threads(os.cpu_count())
    Xt, Yt = torch.from_numpy(np.asarray(X)), torch.from_numpy(np.asarray(Y))
    p0 = {k: torch.from_numpy(np.array(v)) for k, v in params.items()}

    def run():
        p = {k: v.clone().requires_grad_() for k, v in p0.items()}
        L = len(p) // 2
        for _ in range(steps):
            A = Xt
            for l in range(1, L):
                A = torch.relu(p[f"W{l}"] @ A + p[f"b{l}"])
            Z = p[f"W{L}"] @ A + p[f"b{L}"]
            cost = torch.nn.functional.binary_cross_entropy_with_logits(Z, Yt)
            grads = torch.autograd.grad(cost, list(p.values()))
            with torch.no_grad():
                p = {k: (v - lr * g).requires_grad_()
                     for (k, v), g in zip(p.items(), grads, strict=True)}
        return p
    return run


def matmul_peak(dtype, n=2048, repeats=5):
    a = jnp.asarray(np.random.RandomState(0).rand(n, n), dtype)
    f = jax.jit(lambda a: a @ a)
    _, times = timed(lambda: f(a).block_until_ready(), repeats)
    return 2 * n ** 3 / min(times) / 1e9


JAX_DEVICE = None
"""``platform: device_kind`` of jax.devices()[0], set in main (JAX starts there)."""
HOST_CPU = f"cpu: {platform.processor() or platform.machine()}"


def device_of(variant):
    """Where ``variant`` runs: numpy and torch (CPU tensors) on the host, the rest on JAX's."""
    return HOST_CPU if variant in ("numpy", "torch") else JAX_DEVICE


# --- the table ----------------------------------------------------------------------------------

def variants(dims, m, torch_ok):
    names = ["hand", "autodiff"] + (["gram"] if dims[0] > m else []) + ["numpy"]
    return names + (["torch"] if torch_ok else [])


def make(name, X, Y, params, steps):
    if name in ("hand", "autodiff", "gram"):
        return jax_loop(name, X, Y, params, steps)
    return (numpy_loop if name == "numpy" else torch_loop)(X, Y, params, steps)


def bench(args):
    """Every workload's variants timed in interleaved rounds, so drift hits them all alike."""
    try:
        import torch  # noqa: F401
        torch_ok = True
    except ImportError:
        torch_ok = False
    rows, peaks = [], {}
    for dtype in ("float32", "float64"):
        peaks[dtype] = matmul_peak(dtype)
        cases = [("cat-e2e", [12288, 20, 7, 5, 1], 209, 250 if args.quick else 2500, 3)]
        for workload, (dims, m) in WORKLOADS.items():
            steps = {"cat-step": 20, "wide": 2, "deep": 50}[workload]
            cases.append((workload, dims, m, steps, 3 if args.quick else 9))
        for workload, dims, m, steps, rounds in cases:
            X, Y, params = problem(dims, m, dtype, args.data_dir)
            names = variants(dims, m, torch_ok)
            if workload == "cat-e2e":  # numpy and torch take ~10-30 s a run here: one each
                slow = {"numpy": 0, "torch": 0} if args.quick else {"numpy": 1, "torch": 1}
            else:
                slow = {}
            names = [n for n in names if slow.get(n, 1) > 0]
            runs, compile_s = {}, {}
            for name in names:
                runs[name] = make(name, X, Y, params, steps)
                if name in ("hand", "autodiff", "gram"):  # first call compiles
                    start = time.perf_counter()
                    runs[name]()
                    compile_s[name] = time.perf_counter() - start
                else:
                    compile_s[name] = 0.0
            times = {name: [] for name in names}
            for r in range(rounds):
                for name in names:
                    if r >= slow.get(name, rounds):
                        continue
                    start = time.perf_counter()
                    runs[name]()
                    times[name].append(time.perf_counter() - start)
            flops = flops_per_step(dims, m)
            results = {}
            for name in names:
                per_step = [t / steps * 1e3 for t in times[name]]
                if len(times[name]) == len(times["hand"]):
                    paired = [t / h for t, h in zip(times[name], times["hand"], strict=True)]
                else:  # a single slow run: against the median of hand's rounds
                    paired = [t / statistics.median(times["hand"]) for t in times[name]]
                results[name] = dict(
                    workload=workload, dtype=dtype, variant=name, steps=steps,
                    rounds=len(per_step), ms_per_step=statistics.median(per_step),
                    ms_min=min(per_step), ms_max=max(per_step),
                    total_s=statistics.median(times[name]),
                    compile_s=max(compile_s[name] - statistics.median(times[name]), 0.0),
                    ratio_to_hand=statistics.median(paired), ratio_min=min(paired),
                    ratio_max=max(paired),
                    gflops=flops / (statistics.median(per_step) / 1e3) / 1e9,
                    peak_gflops=peaks[dtype], device=device_of(name))
            for r in results.values():
                rows.append(r)
                print_row(r)
    return rows, peaks


HEADER = (f"{'workload':9} {'dtype':8} {'variant':9} {'ms/step':>9} {'spread':>17} "
          f"{'x hand':>6} {'(paired range)':>14} {'GFLOP/s':>8} {'peak':>6} {'total s':>8} "
          f"{'compile s':>9}  device")


def print_row(r):
    print(f"{r['workload']:9} {r['dtype']:8} {r['variant']:9} {r['ms_per_step']:9.3f} "
          f"{r['ms_min']:8.3f}-{r['ms_max']:<8.3f} {r['ratio_to_hand']:6.2f} "
          f"{r['ratio_min']:6.2f}-{r['ratio_max']:<7.2f} "
          f"{r['gflops']:8.1f} {r['peak_gflops']:6.0f} {r['total_s']:8.2f} "
          f"{r['compile_s']:9.2f}  {r['device']}", flush=True)


def scale(args):
    """Marginal time per step of the plain and Gram loops against m and against n[0].

    Each loop is timed at 10 and at 60 steps; (t60 - t10) / 50 is the cost of one more step and
    t10 - 10 x that is the one-off setup (for the Gram loop: K = X^T X and recovering W1).
    """
    print(f"\nscale on {JAX_DEVICE}: float64, [n0, 20, 7, 5, 1]; ms per step (marginal) and "
          f"one-off setup ms")
    print(f"{'n0':>6} {'m':>6} {'plain':>9} {'gram':>9} {'gram/plain':>10} {'gram setup':>10}")
    out = []
    sizes = [(12288, m) for m in (32, 64, 209, 512, 1024, 2048)]
    sizes += [(n0, 209) for n0 in (64, 256, 1024, 4096, 49152)]
    for n0, m in sizes:
        X, Y, params = problem([n0, 20, 7, 5, 1], m, "float64")
        row = dict(n0=n0, m=m)
        for kind in ("hand", "gram"):
            t = {}
            for steps in (10, 60):
                _, times = timed(jax_loop(kind, X, Y, params, steps), 3)
                t[steps] = statistics.median(times)
            per_step = max(t[60] - t[10], 0.0) / 50
            row[kind] = per_step * 1e3
            row[kind + "_setup"] = max(t[10] - 10 * per_step, 0.0) * 1e3
        out.append(row)
        print(f"{n0:6} {m:6} {row['hand']:9.3f} {row['gram']:9.3f} "
              f"{row['gram'] / row['hand']:10.2f} {row['gram_setup']:10.1f}", flush=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="datasets")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds, 250 cat-e2e iterations, no numpy/torch cat-e2e")
    parser.add_argument("--scale", action="store_true", help="also the scale-law table")
    parser.add_argument("--scale-only", action="store_true", help="only the scale-law table")
    args = parser.parse_args()
    global JAX_DEVICE
    JAX_DEVICE = f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}"
    print(f"jax {jax.__version__} on {JAX_DEVICE} (host {HOST_CPU}, {os.cpu_count()} cpus)")
    rows, peaks = [], {}
    if not args.scale_only:
        print(HEADER)
        rows, peaks = bench(args)
    scaling = scale(args) if args.scale or args.scale_only else None
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"jax": jax.__version__, "device": JAX_DEVICE, "rows": rows,
                       "matmul_peak_gflops": peaks, "scale": scaling}, f, indent=2)


if __name__ == "__main__":
    main()
