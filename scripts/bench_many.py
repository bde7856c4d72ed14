"""Many models in one compiled program (jaxdnn.fit_many) against one at a time, side by side in
one process.

    python scripts/bench_many.py [--iterations 10000] [--rounds 3] [--torch-models 8] [--json F]

Workloads, float32, on the course's planar data (400 examples, 2 features):

  grid   64 networks [2, 4, 1] with tanh hidden units: the course's initialisation under numpy
         seeds 2..9 times 8 learning rates from 0.05 to 1.2, ``--iterations`` full-batch steps.
         Contenders: ``fit_many`` (one program for all 64), 64 sequential ``jaxdnn.fit`` calls
         (one compilation, reused 63 times) and 64 sequential PyTorch trainings (eager, the
         same network from the same initial weights, ``BCEWithLogitsLoss``, ``optim.SGD``, on
         one thread: with two, on a loaded 2-core machine, OpenMP's threads contend and an
         iteration takes 6-22 ms instead of 0.4; ``--torch-models N`` (default 8) trains the
         first N and scales the time to 64, saying so).
  sweep  the course's hidden-layer sweep, sizes 1, 2, 3, 4, 5, 20, 50 at learning rate 1.2 for
         5000 iterations: ``fit_many`` padded to 50 units against ``nn_model`` once per size
         (what ``jaxdnn sweep`` ran before: seven programs).

Each contender is timed cold (the first call after ``jax.clear_caches()``: compilation
included, with no persistent compilation cache) and warm (compiled); the table gives the median
over ``--rounds`` interleaved rounds and each time's ratio to fit_many's. The machine's load
changes from one second to the next, so only ratios measured in the same round mean much.
"""

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxdnn
from jaxdnn.course.models import initial_parameters

SEEDS = range(2, 10)
RATES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.2)
SWEEP_SIZES = (1, 2, 3, 4, 5, 20, 50)


def planar():
    X, Y = jaxdnn.load_planar_dataset()
    return jnp.asarray(X, jnp.float32), jnp.asarray(Y, jnp.float32)


def grid_models():
    return [(initial_parameters([2, 4, 1], "course", seed, "small", "float32"), rate)
            for seed in SEEDS for rate in RATES]


def timed(fn):
    start = time.perf_counter()
    result = fn()
    jax.block_until_ready(result)
    return time.perf_counter() - start, result


def jaxdnn_many(X, Y, models, iterations):
    stack = jaxdnn.stack_models([params for params, _ in models])
    trained, _, diverged = jaxdnn.fit_many(X, Y, stack, hidden_activation="tanh",
                                           learning_rate=[rate for _, rate in models],
                                           num_iterations=iterations)
    return jaxdnn.predict_labels_many(X, trained, "tanh"), diverged


def jaxdnn_sequential(X, Y, models, iterations):
    labels = []
    for params, rate in models:
        trained, _ = jaxdnn.fit(X, Y, params, hidden_activation="tanh", learning_rate=rate,
                                num_iterations=iterations)
        labels.append(jaxdnn.predict_labels(X, trained, "tanh"))
    return np.stack(labels)


def torch_sequential(X, Y, models, iterations):
    import torch

    torch.set_num_threads(1)
    Xt = torch.from_numpy(np.array(X).T.copy())
    Yt = torch.from_numpy(np.array(Y).T.copy())
    labels = []
    for params, rate in models:
        net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
        with torch.no_grad():
            for layer, l in ((net[0], 1), (net[2], 2)):
                layer.weight.copy_(torch.from_numpy(np.array(params[f"W{l}"])))
                layer.bias.copy_(torch.from_numpy(np.array(params[f"b{l}"])[:, 0]))
        opt = torch.optim.SGD(net.parameters(), lr=rate)
        loss = torch.nn.BCEWithLogitsLoss()
        for _ in range(iterations):
            opt.zero_grad()
            loss(net(Xt), Yt).backward()
            opt.step()
        with torch.no_grad():
            labels.append((net(Xt) > 0).numpy().T.astype(np.int64))
    return np.stack(labels)


def bench_grid(args, X, Y):
    models = grid_models()
    try:
        import torch
    except ImportError as e:
        print(f"(PyTorch skipped: {e})")
        torch = None
    torch_models = models[:args.torch_models]
    times = {"many": {"cold": [], "warm": []}, "fit": {"cold": [], "warm": []},
             "torch": {"warm": []}}
    for _ in range(args.rounds):
        jax.clear_caches()
        for kind in ("cold", "warm"):
            t, (many, diverged) = timed(lambda: jaxdnn_many(X, Y, models, args.iterations))
            times["many"][kind].append(t)
        jax.clear_caches()
        for kind in ("cold", "warm"):
            t, sequential = timed(lambda: jaxdnn_sequential(X, Y, models, args.iterations))
            times["fit"][kind].append(t)
        if torch is not None:
            t, by_torch = timed(lambda: torch_sequential(X, Y, torch_models, args.iterations))
            times["torch"]["warm"].append(t * len(models) / len(torch_models))
    same = int(sum(np.array_equal(a, b) for a, b in zip(many, sequential, strict=True)))
    print(f"grid: {len(models)} planar models [2, 4, 1] tanh, seeds {SEEDS.start}..{SEEDS.stop - 1}"
          f" x rates {RATES}, {args.iterations} iterations, float32; {same}/{len(models)} "
          f"predict alike in fit_many and fit, {int((diverged >= 0).sum())} diverged")
    if torch is not None:
        agree = np.mean([np.mean(a == b) for a, b in zip(many, by_torch, strict=False)])
        print(f"  PyTorch: {len(torch_models)} models trained"
              + (f", time scaled to {len(models)}" if len(torch_models) < len(models) else "")
              + f"; its predictions agree with fit_many's on {100 * agree:.1f} % of the points")
    return report("grid", times, args.rounds)


def bench_sweep(args, X, Y):
    models = [initial_parameters([2, n, 1], "course", 2, "small", "float32")
              for n in SWEEP_SIZES]
    times = {"many": {"cold": [], "warm": []}, "fit": {"cold": [], "warm": []}}

    def many():
        trained, _, _ = jaxdnn.fit_many(X, Y, jaxdnn.stack_models(models),
                                        hidden_activation="tanh", learning_rate=1.2,
                                        num_iterations=args.sweep_iterations)
        return jaxdnn.predict_labels_many(X, trained, "tanh")

    def sequential():
        return [jaxdnn.predict_labels(X, jaxdnn.nn_model(X, Y, n, args.sweep_iterations)[0],
                                      "tanh") for n in SWEEP_SIZES]

    for _ in range(args.rounds):
        for name, fn in (("many", many), ("fit", sequential)):
            jax.clear_caches()
            for kind in ("cold", "warm"):
                t, labels = timed(fn)
                times[name][kind].append(t)
            if name == "many":
                together = labels
    same = int(sum(np.array_equal(a, b) for a, b in zip(together, labels, strict=True)))
    print(f"sweep: sizes {SWEEP_SIZES} at 1.2, {args.sweep_iterations} iterations, float32; "
          f"{same}/{len(SWEEP_SIZES)} predict alike together and apart")
    return report("sweep", times, args.rounds)


NAMES = {"many": "fit_many, one program", "fit": "one jaxdnn.fit per model",
         "torch": "one PyTorch training per model"}


def report(workload, times, rounds):
    print(f"{'contender':<34} {'cold s':>8} {'x':>7} {'warm s':>8} {'x':>7}   (median of "
          f"{rounds} rounds; x: over fit_many's in the same round, median)")
    rows = []
    for name, kinds in times.items():
        row = {"workload": workload, "contender": NAMES[name]}
        cells = []
        for kind in ("cold", "warm"):
            if kinds.get(kind):
                ratio = statistics.median(t / b for t, b in zip(kinds[kind], times["many"][kind],
                                                                strict=True))
                row[f"{kind}_s"], row[f"{kind}_ratio"] = statistics.median(kinds[kind]), ratio
                cells += [f"{row[f'{kind}_s']:>8.2f}", f"{ratio:>7.1f}"]
            else:
                cells += [f"{'-':>8}", f"{'-':>7}"]
        print(f"{NAMES[name]:<34} " + " ".join(cells))
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--sweep-iterations", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--torch-models", type=int, default=8,
                        help="PyTorch trains the first N models; the time is scaled to 64")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    X, Y = planar()
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}")
    rows = bench_grid(args, X, Y) + bench_sweep(args, X, Y)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
