"""Mini-batch training against the field's hand-written MLPs, side by side in one process.

    python scripts/bench_minibatch.py [--epochs 100] [--quick] [--json FILE]

Workloads (float32, Adam at 0.001, no L2, no dropout, ReLU hidden layers, softmax output):
  digits    scikit-learn's 8x8 digits (1437 train / 360 test, a fixed 80/20 split),
            [64, 64, 32, 10], batches of 64, ``--epochs`` epochs
  synthetic 100 000 random examples x 784 features, [784, 256, 128, 10], batches of 256,
            one epoch; achieved GFLOP/s against the same process's float32 matmul peak

Contenders on digits: jaxdnn (``fit(mini_batch_size=...)``: the whole run one compiled scan),
scikit-learn's ``MLPClassifier`` (numpy backprop; optional) and a PyTorch eager loop (optional;
``torch.set_num_threads`` as the machine). Each trains from its own initialisation; the table
gives the median seconds per epoch over ``--rounds`` interleaved rounds (jaxdnn's compile time
apart), the ratio to jaxdnn, the final test accuracy, and the time to a test accuracy of
``--target`` (the first epoch that reaches it, from a separate untimed run that evaluates after
every epoch, times the median seconds per epoch).
"""

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxdnn

LR = 0.001


def digits():
    X, Y = jaxdnn.load_digits()
    order = np.random.RandomState(0).permutation(X.shape[1])
    train, test = np.split(order, [int(0.8 * X.shape[1])])
    X = X.astype(np.float32)
    return X[:, train], Y[:, train], X[:, test], Y[:, test]


def init(dims, seed):
    return jaxdnn.initialize_parameters_deep(dims, jax.random.PRNGKey(seed), scheme="he",
                                             dtype="float32")


def accuracy_of(params, X, Y):
    return float(np.mean(jaxdnn.predict_labels(X, params, output="softmax") == Y))


class Jaxdnn:
    name = "jaxdnn"

    def __init__(self, dims, batch):
        self.dims, self.batch, self.adam = dims, batch, optax.adam(LR)

    def train(self, X, Y, epochs, seed=0):
        params, _ = jaxdnn.fit(X, Y, init(self.dims, seed), output="softmax",
                               optimizer=self.adam, mini_batch_size=self.batch,
                               num_epochs=epochs, key=jax.random.PRNGKey(seed), donate=True)
        jax.block_until_ready(params)
        return params

    def accuracy_curve(self, X, Y, Xt, Yt, epochs):
        state = jaxdnn.init_train_state(init(self.dims, 1), optimizer=self.adam)
        per_epoch = -(-X.shape[1] // self.batch)
        curve = []
        for _ in range(epochs):
            state, _ = jaxdnn.train_steps(X, Y, state, per_epoch, output="softmax",
                                          optimizer=self.adam, mini_batch_size=self.batch,
                                          key=jax.random.PRNGKey(1))
            curve.append(accuracy_of(state.parameters, Xt, Yt))
        return curve

    def accuracy(self, params, Xt, Yt):
        return accuracy_of(params, Xt, Yt)


class Sklearn:
    name = "scikit-learn MLPClassifier"

    def __init__(self, dims, batch):
        from sklearn.neural_network import MLPClassifier
        self.make = lambda epochs, seed: MLPClassifier(
            hidden_layer_sizes=tuple(dims[1:-1]), activation="relu", solver="adam",
            alpha=0.0, batch_size=batch, learning_rate_init=LR, max_iter=epochs, shuffle=True,
            tol=0.0, n_iter_no_change=10**9, random_state=seed)

    def train(self, X, Y, epochs, seed=0):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self.make(epochs, seed).fit(X.T, Y[0])

    def accuracy_curve(self, X, Y, Xt, Yt, epochs):
        model, curve = self.make(1, 1), []
        for _ in range(epochs):
            model.partial_fit(X.T, Y[0], classes=np.arange(10))
            curve.append(float(np.mean(model.predict(Xt.T) == Yt[0])))
        return curve

    def accuracy(self, model, Xt, Yt):
        return float(np.mean(model.predict(Xt.T) == Yt[0]))


class Torch:
    name = "PyTorch eager"

    def __init__(self, dims, batch):
        import torch
        self.torch, self.dims, self.batch = torch, dims, batch

    def _model(self, seed):
        torch = self.torch
        torch.manual_seed(seed)
        layers = []
        for l in range(1, len(self.dims)):
            layers.append(torch.nn.Linear(self.dims[l - 1], self.dims[l]))
            if l < len(self.dims) - 1:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    def _epochs(self, model, opt, X, Y, epochs, after=None):
        torch = self.torch
        Xt = torch.from_numpy(np.ascontiguousarray(X.T))
        Yt = torch.from_numpy(Y[0].astype(np.int64))
        for _ in range(epochs):
            order = torch.randperm(Xt.shape[0])
            for k in range(0, Xt.shape[0], self.batch):
                idx = order[k:k + self.batch]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(Xt[idx]), Yt[idx]).backward()
                opt.step()
            if after:
                after(model)
        return model

    def train(self, X, Y, epochs, seed=0):
        model = self._model(seed)
        return self._epochs(model, self.torch.optim.Adam(model.parameters(), lr=LR), X, Y, epochs)

    def accuracy(self, model, Xt, Yt):
        with self.torch.no_grad():
            predicted = model(self.torch.from_numpy(np.ascontiguousarray(Xt.T))).argmax(1)
        return float(np.mean(predicted.numpy() == Yt[0]))

    def accuracy_curve(self, X, Y, Xt, Yt, epochs):
        model, curve = self._model(1), []
        self._epochs(model, self.torch.optim.Adam(model.parameters(), lr=LR), X, Y, epochs,
                     after=lambda m: curve.append(self.accuracy(m, Xt, Yt)))
        return curve


def contenders(dims, batch):
    found = [Jaxdnn(dims, batch)]
    for kind in (Sklearn, Torch):
        try:
            found.append(kind(dims, batch))
        except ImportError as e:
            print(f"({kind.name} skipped: {e})")
    return found


def bench_digits(args):
    X, Y, Xt, Yt = digits()
    dims, batch = [64, 64, 32, 10], 64
    runners = contenders(dims, batch)
    start = time.perf_counter()
    runners[0].train(X, Y, args.epochs)  # jaxdnn's compilation, reported apart
    compile_s = time.perf_counter() - start
    times = {r.name: [] for r in runners}
    final = {}
    for _ in range(args.rounds):
        for r in runners:
            start = time.perf_counter()
            model = r.train(X, Y, args.epochs)
            times[r.name].append((time.perf_counter() - start) / args.epochs)
            final[r.name] = r.accuracy(model, Xt, Yt)
    rows = []
    base = statistics.median(times["jaxdnn"])
    for r in runners:
        per_epoch = statistics.median(times[r.name])
        curve = r.accuracy_curve(X, Y, Xt, Yt, args.epochs)
        reached = next((e + 1 for e, a in enumerate(curve) if a >= args.target), None)
        rows.append({"workload": "digits", "contender": r.name, "s_per_epoch": per_epoch,
                     "vs_jaxdnn": per_epoch / base, "test_accuracy": final[r.name],
                     "epochs_to_target": reached,
                     "s_to_target": None if reached is None else reached * per_epoch})
    print(f"digits: {X.shape[1]} train / {Xt.shape[1]} test, {dims}, batches of {batch}, "
          f"Adam {LR}, {args.epochs} epochs, float32; jaxdnn compiles in {compile_s:.2f} s "
          f"(first call, less one run)")
    print(f"{'contender':<28} {'ms/epoch':>9} {'x jaxdnn':>9} {'test acc':>9} "
          f"{'epochs to ' + str(args.target):>16} {'s to target':>12}")
    for row in rows:
        to = "-" if row["epochs_to_target"] is None else str(row["epochs_to_target"])
        s_to = "-" if row["s_to_target"] is None else f"{row['s_to_target']:.3f}"
        print(f"{row['contender']:<28} {1000 * row['s_per_epoch']:>9.2f} "
              f"{row['vs_jaxdnn']:>9.2f} {row['test_accuracy']:>9.3f} {to:>16} {s_to:>12}")
    return rows


def matmul_peak(n=2048, repeats=5):
    a = jnp.asarray(np.random.RandomState(0).randn(n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    best = min(_time(lambda: f(a).block_until_ready()) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_synthetic(args):
    m = 20_000 if args.quick else 100_000
    dims, batch = [784, 256, 128, 10], 256
    rng = np.random.RandomState(0)
    X = rng.rand(dims[0], m).astype(np.float32)
    Y = rng.randint(0, 10, size=(1, m))
    runner = Jaxdnn(dims, batch)
    runner.train(X, Y, 1)  # compile
    seconds = min(_time(lambda: runner.train(X, Y, 1)) for _ in range(args.rounds))
    pairs = [dims[l] * dims[l - 1] for l in range(1, len(dims))]
    flops = 2 * m * (3 * sum(pairs) - pairs[0])  # forward, dW, dA above the input
    peak = matmul_peak()
    row = {"workload": "synthetic", "examples": m, "s_per_epoch": seconds,
           "gflops": flops / seconds / 1e9, "matmul_peak_gflops": peak}
    print(f"synthetic: {m} x {dims[0]}, {dims}, batches of {batch}, Adam, float32: "
          f"{seconds:.3f} s per epoch, {row['gflops']:.1f} GFLOP/s = "
          f"{100 * row['gflops'] / peak:.0f}% of the same process's matmul peak ({peak:.1f})")
    return [row]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--quick", action="store_true", help="20 epochs, 20 000 synthetic")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if args.quick:
        args.epochs = 20
    rows = bench_digits(args) + bench_synthetic(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
