"""Mini-batch training against the tools a JAX or PyTorch user would pick, side by side in one run.

    python scripts/bench_peers.py [--rounds 3] [--workloads digits,synthetic,wide] [--json FILE]

Every contender trains the same float32 network ([n0, ..., 10], ReLU hidden layers, softmax
output, Adam at 0.001, no L2, no dropout) from the same initial weights (jaxdnn's He draw,
copied into each peer) on the same data; jaxdnn, equinox and PyTorch see the same batches in the
same order (jaxdnn's: epoch e is ``permutation(fold_in(split(key)[0], e), m)`` cut into
batches, the last one ragged), so their accuracies agree to float32 rounding. Each contender
gets its data on the device once, outside the timing; inside it, jaxdnn and the equinox
contenders draw each epoch's order on the device (``jax.random.permutation``), PyTorch takes
the same orders precomputed, and scikit-learn shuffles by itself.

Contenders (each optional peer skipped with a line when it is not installed):
  jaxdnn           ``fit(mini_batch_size=...)``: the whole run one compiled loop
  equinox step     ``eqx.nn.MLP``, ``eqx.filter_value_and_grad`` + optax, one ``eqx.filter_jit``
                   step per batch fed from a per-epoch permuted numpy copy (their tutorials)
  equinox scan     the same step inside ``lax.scan`` over an epoch's batches, one jitted call
                   per epoch (the ragged last batch a second jitted step)
  torch eager      ``nn.Sequential`` + ``torch.optim.Adam``
  torch.compile    the same model under ``torch.compile`` (inductor), optimizer step compiled too
  scikit-learn     ``MLPClassifier(solver="adam")``, initial weights set by a warm start

Workloads: digits [64, 64, 32, 10] batch 64; synthetic 100 000 x 784 (labels of a random
linear teacher) [784, 256, 128, 10] batch 256; wide 16 384 x 1024 [1024, 1024, 1024, 10] batch
1024. Each round runs every contender once, interleaved; the table gives the median (and range)
of seconds per epoch over the rounds, a first call (compile included) apart, the median (and
range) of the per-round ratios to jaxdnn, time to the target test accuracy (first epoch
reaching it, from an untimed run that evaluates after each epoch, times the median seconds per
epoch) and the final test accuracy.

The floor of a workload (measured in every round): only the matmuls of an epoch's steps
(forward W A, dW = dZ A^T, dA = W^T dZ above the input) at the batches' shapes, in one compiled
scan, in jaxdnn's column layout; floor / jaxdnn says how near the loop is to its arithmetic.
"""

import argparse
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxdnn

LR = 0.001
WORKLOADS = {
    # name: (dims, batch, epochs, target accuracy)
    "digits": ([64, 64, 32, 10], 64, 100, 0.95),
    "synthetic": ([784, 256, 128, 10], 256, 2, 0.80),
    "wide": ([1024, 1024, 1024, 10], 1024, 3, 0.15),
}


def load(name):
    """``(X, Y, Xt, Yt)``: float32 (n, m) inputs, (1, m) int class ids; train and test."""
    if name == "digits":
        X, Y = jaxdnn.load_digits()
        order = np.random.RandomState(0).permutation(X.shape[1])
        train, test = np.split(order, [int(0.8 * X.shape[1])])
        X = X.astype(np.float32)
        return X[:, train], Y[:, train].astype(np.int32), X[:, test], Y[:, test].astype(np.int32)
    n, m = {"synthetic": (784, 100_000), "wide": (1024, 16_384)}[name]
    rng = np.random.RandomState(0)
    X = rng.rand(n, m + 2000).astype(np.float32)
    teacher = rng.randn(10, n).astype(np.float32)
    Y = np.argmax(teacher @ (X - 0.5), axis=0)[None].astype(np.int32)
    return X[:, :m], Y[:, :m], X[:, m:], Y[:, m:]


def orders(m, epochs, seed=0):
    """jaxdnn's order of the examples in each epoch (:mod:`jaxdnn.train.batches`)."""
    shuffle_key, _ = jax.random.split(jax.random.PRNGKey(seed))
    return [np.asarray(jax.random.permutation(jax.random.fold_in(shuffle_key, e), m))
            for e in range(epochs)]


def order_drawer(m, seed=0):
    """Epoch e's order of :func:`orders` drawn on the device by a jitted function of e, as a
    JAX user's training loop draws it (inside the timing, as jaxdnn's loop does)."""
    shuffle_key, _ = jax.random.split(jax.random.PRNGKey(seed))
    return jax.jit(lambda e: jax.random.permutation(jax.random.fold_in(shuffle_key, e), m))


def initial(dims, seed=0):
    """jaxdnn's He initialisation as numpy: [(W (n_l, n_l-1), b (n_l, 1)), ...]."""
    p = jaxdnn.initialize_parameters_deep(dims, jax.random.PRNGKey(seed), scheme="he",
                                          dtype="float32")
    return [(np.asarray(p[f"W{l}"]), np.asarray(p[f"b{l}"])) for l in range(1, len(dims))]


def batches(order, size):
    return [order[k:k + size] for k in range(0, len(order), size)]


class Jaxdnn:
    name = "jaxdnn"
    key = "jaxdnn"

    def __init__(self, w):
        self.w, self.adam = w, optax.adam(LR)
        # on the device once, outside the timing, as every JAX peer gets its data
        self.X, self.Y = jnp.asarray(w["X"]), jnp.asarray(w["Y"])

    def _params(self):
        return {k: jnp.array(v) for l, (W, b) in enumerate(self.w["init"], 1)
                for k, v in ((f"W{l}", W), (f"b{l}", b))}

    def train(self, epochs, after=None):
        w = self.w
        params = self._params()
        if after is None:
            params, _ = jaxdnn.fit(self.X, self.Y, params, output="softmax",
                                   optimizer=self.adam, mini_batch_size=w["batch"],
                                   num_epochs=epochs, key=jax.random.PRNGKey(0), donate=True)
            return jax.block_until_ready(params)
        state = jaxdnn.init_train_state(params, optimizer=self.adam)
        per_epoch = -(-w["X"].shape[1] // w["batch"])
        for _ in range(epochs):
            state, _ = jaxdnn.train_steps(self.X, self.Y, state, per_epoch, output="softmax",
                                          optimizer=self.adam, mini_batch_size=w["batch"],
                                          key=jax.random.PRNGKey(0))
            after(state.parameters)
        return state.parameters

    def accuracy(self, params):
        labels = jaxdnn.predict_labels(self.w["Xt"], params, output="softmax")
        return float(np.mean(labels == self.w["Yt"]))


class EquinoxStep:
    name = "equinox, jitted step"
    key = "eqx-step"

    def __init__(self, w):
        import equinox as eqx
        self.eqx, self.w, self.adam = eqx, w, optax.adam(LR)
        self.rows, self.labels = np.ascontiguousarray(w["X"].T), w["Y"][0]

        @eqx.filter_jit
        def step(model, opt_state, x, y):
            loss, grads = eqx.filter_value_and_grad(self.loss)(model, x, y)
            updates, opt_state = self.adam.update(grads, opt_state,
                                                  eqx.filter(model, eqx.is_array))
            return eqx.apply_updates(model, updates), opt_state, loss
        self.step = step

    @staticmethod
    def loss(model, x, y):
        logits = jax.vmap(model)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def model(self):
        eqx, dims = self.eqx, self.w["dims"]
        model = eqx.nn.MLP(dims[0], dims[-1], width_size=dims[1], depth=len(dims) - 2,
                           activation=jax.nn.relu, key=jax.random.PRNGKey(0))
        # MLP's hidden layers all have width_size: rebuild the layers at the workload's widths
        layers = tuple(eqx.nn.Linear(dims[l - 1], dims[l], key=jax.random.PRNGKey(l))
                       for l in range(1, len(dims)))
        model = eqx.tree_at(lambda m: m.layers, model, layers)
        for l, (W, b) in enumerate(self.w["init"]):
            model = eqx.tree_at(lambda m, l=l: (m.layers[l].weight, m.layers[l].bias), model,
                                (jnp.array(W), jnp.array(b[:, 0])))
        return model

    def train(self, epochs, after=None):
        model = self.model()
        opt_state = self.adam.init(self.eqx.filter(model, self.eqx.is_array))
        for e in range(epochs):
            order = np.asarray(self.w["draw_order"](e))
            rows, labels = self.rows[order], self.labels[order]  # the epoch's permuted copy
            for k in range(0, len(order), self.w["batch"]):
                model, opt_state, _ = self.step(model, opt_state, rows[k:k + self.w["batch"]],
                                                labels[k:k + self.w["batch"]])
            if after:
                after(model)
        return jax.block_until_ready(model)

    def accuracy(self, model):
        logits = jax.vmap(model)(jnp.asarray(self.w["Xt"].T))
        return float(np.mean(np.argmax(logits, 1) == self.w["Yt"][0]))


class EquinoxScan(EquinoxStep):
    name = "equinox, lax.scan epoch"
    key = "eqx-scan"

    def __init__(self, w):
        super().__init__(w)
        eqx, size = self.eqx, w["batch"]
        m = w["X"].shape[1]
        full = m // size * size
        self.device_rows, self.device_labels = jnp.asarray(self.rows), jnp.asarray(self.labels)

        @eqx.filter_jit
        def epoch(model, opt_state, X, Y, order):
            params, static = eqx.partition(model, eqx.is_array)

            def body(carry, idx):
                params, opt_state = carry
                model, opt_state, loss = step(eqx.combine(params, static), opt_state, X[idx],
                                              Y[idx])
                return (eqx.filter(model, eqx.is_array), opt_state), loss

            (params, opt_state), _ = jax.lax.scan(body, (params, opt_state),
                                                  order[:full].reshape(-1, size))
            model = eqx.combine(params, static)
            if full < m:
                model, opt_state, _ = step(model, opt_state, X[order[full:]], Y[order[full:]])
            return model, opt_state
        step = self.step
        self.epoch = epoch

    def train(self, epochs, after=None):
        model = self.model()
        opt_state = self.adam.init(self.eqx.filter(model, self.eqx.is_array))
        for e in range(epochs):
            model, opt_state = self.epoch(model, opt_state, self.device_rows, self.device_labels,
                                          self.w["draw_order"](e))
            if after:
                after(model)
        return jax.block_until_ready(model)


class TorchEager:
    name = "PyTorch eager"
    key = "torch"

    def __init__(self, w):
        import torch
        self.torch, self.w = torch, w
        self.rows = torch.from_numpy(np.ascontiguousarray(w["X"].T))
        self.labels = torch.from_numpy(w["Y"][0].astype(np.int64))
        self.orders = [torch.from_numpy(o.astype(np.int64)) for o in w["orders"]]

    def model(self):
        torch, dims = self.torch, self.w["dims"]
        layers = []
        for l, (W, b) in enumerate(self.w["init"]):
            linear = torch.nn.Linear(dims[l], dims[l + 1])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W))
                linear.bias.copy_(torch.from_numpy(b[:, 0]))
            layers += [linear, torch.nn.ReLU()]
        return torch.nn.Sequential(*layers[:-1])

    def prepare(self, model):
        opt = self.torch.optim.Adam(model.parameters(), lr=LR)
        return model, opt, opt.step

    def train(self, epochs, after=None):
        torch = self.torch
        model, opt, opt_step = self.prepare(self.model())
        loss_fn = torch.nn.functional.cross_entropy
        for order in self.orders[:epochs]:
            for idx in batches(order, self.w["batch"]):
                opt.zero_grad(set_to_none=True)
                loss_fn(model(self.rows[idx]), self.labels[idx]).backward()
                opt_step()
            if after:
                after(model)
        return model

    def accuracy(self, model):
        with self.torch.no_grad():
            logits = model(self.torch.from_numpy(np.ascontiguousarray(self.w["Xt"].T)))
        return float(np.mean(logits.argmax(1).numpy() == self.w["Yt"][0]))


class TorchCompile(TorchEager):
    name = "torch.compile"
    key = "torch-compile"

    def prepare(self, model):
        model = self.torch.compile(model)
        opt = self.torch.optim.Adam(model.parameters(), lr=LR)
        return model, opt, self.torch.compile(opt.step)


class Sklearn:
    name = "scikit-learn MLPClassifier"
    key = "sklearn"

    def __init__(self, w):
        from sklearn.neural_network import MLPClassifier
        self.w, self.rows, self.labels = w, np.ascontiguousarray(w["X"].T), w["Y"][0]
        self.make = lambda epochs: MLPClassifier(
            hidden_layer_sizes=tuple(w["dims"][1:-1]), activation="relu", solver="adam",
            alpha=0.0, batch_size=w["batch"], learning_rate_init=LR, max_iter=epochs,
            shuffle=True, tol=0.0, n_iter_no_change=10**9, random_state=0, warm_start=True)

    def model(self, epochs):
        """A classifier holding jaxdnn's initial weights: one short fit builds its attributes,
        then the weights are replaced (a warm start keeps them and makes a new optimiser)."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        model = self.make(1)
        classes = np.unique(self.labels)
        first = np.concatenate([np.flatnonzero(self.labels == c)[:1] for c in classes])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(self.rows[first], self.labels[first])
        model.coefs_ = [np.ascontiguousarray(W.T) for W, _ in self.w["init"]]
        model.intercepts_ = [b[:, 0].copy() for _, b in self.w["init"]]
        model.max_iter = epochs
        return model

    def train(self, epochs, after=None):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        model = self.model(epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if after is None:
                return model.fit(self.rows, self.labels)
            if hasattr(model, "_optimizer"):
                del model._optimizer  # partial_fit makes a new one, then keeps it
            for _ in range(epochs):
                model.partial_fit(self.rows, self.labels)
                after(model)
        return model

    def accuracy(self, model):
        return float(np.mean(model.predict(np.ascontiguousarray(self.w["Xt"].T))
                             == self.w["Yt"][0]))


PEERS = (EquinoxStep, EquinoxScan, TorchEager, TorchCompile, Sklearn)


def contenders(w):
    found = [Jaxdnn(w)]
    for kind in PEERS:
        try:
            found.append(kind(w))
        except ImportError as e:
            print(f"({kind.name} skipped: {e})")
    return found


def floor(w, rounds):
    """Seconds of one epoch's matmuls alone (forward, dW, dA above the input) at the batches'
    shapes, jaxdnn's layout, one compiled scan over the full batches (the ragged one apart)."""
    dims, size = w["dims"], w["batch"]
    X = jnp.asarray(w["X"])
    m = X.shape[1]
    full = m // size
    Ws = [jnp.asarray(W) for W, _ in w["init"]]

    def epoch(Ws, X):
        def body(acc, b):
            A = jax.lax.dynamic_slice_in_dim(X, b * size, size, axis=1)
            As = [A]
            for W in Ws:
                As.append(W @ As[-1])
            dZ, grads = As[-1], []
            for l in range(len(Ws) - 1, -1, -1):
                grads.append(dZ @ As[l].T)
                if l:
                    dZ = Ws[l].T @ dZ
            return [a + g for a, g in zip(acc, grads[::-1], strict=True)], None
        acc, _ = jax.lax.scan(body, [jnp.zeros_like(W) for W in Ws], jnp.arange(full))
        return acc

    run = jax.jit(epoch)
    jax.block_until_ready(run(Ws, X))
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        jax.block_until_ready(run(Ws, X))
        seconds.append((time.perf_counter() - start) * m / (full * size))
    pairs = [dims[l] * dims[l - 1] for l in range(1, len(dims))]
    flops = 2 * m * (3 * sum(pairs) - pairs[0])
    return seconds, flops


def measure(name, rounds, only):
    dims, batch, epochs, target = WORKLOADS[name]
    X, Y, Xt, Yt = load(name)
    w = {"dims": dims, "batch": batch, "X": X, "Y": Y, "Xt": Xt, "Yt": Yt,
         "init": initial(dims), "orders": orders(X.shape[1], epochs)}
    w["draw_order"] = order_drawer(X.shape[1])
    assert all(np.array_equal(w["draw_order"](e), o) for e, o in enumerate(w["orders"]))
    runners = [r for r in contenders(w) if not only or r.key in only or r.key == "jaxdnn"]
    first, times, final = {}, {r.name: [] for r in runners}, {}
    for r in runners:  # first call: compilation included
        start = time.perf_counter()
        r.train(epochs)
        first[r.name] = time.perf_counter() - start
    floors = []
    for _ in range(rounds):
        for r in runners:
            start = time.perf_counter()
            model = r.train(epochs)
            times[r.name].append((time.perf_counter() - start) / epochs)
            final[r.name] = r.accuracy(model)
        floors.append(floor(w, 1)[0][0])
    flops = floor(w, 0)[1]
    rows = []
    for r in runners:
        per_epoch = statistics.median(times[r.name])
        curve = []
        r.train(epochs, after=lambda model, r=r, curve=curve: curve.append(r.accuracy(model)))
        reached = next((e + 1 for e, a in enumerate(curve) if a >= target), None)
        ratios = [t / j for t, j in zip(times[r.name], times["jaxdnn"], strict=True)]
        rows.append({"workload": name, "contender": r.name, "s_per_epoch": per_epoch,
                     "range": [min(times[r.name]), max(times[r.name])],
                     "rounds": times[r.name], "ratio_range": [min(ratios), max(ratios)],
                     "first_call_s": first[r.name], "x_jaxdnn": statistics.median(ratios),
                     "test_accuracy": final[r.name], "curve_accuracy": curve[-1],
                     "epochs_to_target": reached,
                     "s_to_target": None if reached is None else reached * per_epoch})
    f = statistics.median(floors)
    floor_row = {"workload": name, "contender": "floor (matmuls alone)", "s_per_epoch": f,
                 "range": [min(floors), max(floors)], "gflops": flops / f / 1e9,
                 "floor_over_jaxdnn": statistics.median(
                     [f / j for f, j in zip(floors, times["jaxdnn"], strict=True)]),
                 "rounds": floors}
    report(name, w, epochs, target, rows, floor_row)
    return rows + [floor_row]


def report(name, w, epochs, target, rows, floor_row):
    print(f"\n{name}: {w['X'].shape[1]} train / {w['Xt'].shape[1]} test, {w['dims']}, "
          f"batches of {w['batch']}, Adam {LR}, {epochs} epochs, float32")
    print(f"{'contender':<26} {'ms/epoch':>9} {'range':>15} {'x jaxdnn':>8} {'range':>11} "
          f"{'first s':>7} {'acc':>6} {'ep to ' + str(target):>9} {'s to tgt':>8}")
    for row in rows:
        lo, hi = (1000 * x for x in row["range"])
        rlo, rhi = row["ratio_range"]
        to = "-" if row["epochs_to_target"] is None else str(row["epochs_to_target"])
        s_to = "-" if row["s_to_target"] is None else f"{row['s_to_target']:.3f}"
        print(f"{row['contender']:<26} {1000 * row['s_per_epoch']:>9.1f} "
              f"{f'{lo:.1f}-{hi:.1f}':>15} {row['x_jaxdnn']:>8.2f} {f'{rlo:.2f}-{rhi:.2f}':>11} "
              f"{row['first_call_s']:>7.2f} {row['test_accuracy']:>6.3f} {to:>9} {s_to:>8}")
    lo, hi = (1000 * x for x in floor_row["range"])
    print(f"{'floor (matmuls alone)':<26} {1000 * floor_row['s_per_epoch']:>9.1f} "
          f"{f'{lo:.1f}-{hi:.1f}':>15}   {floor_row['gflops']:.1f} GFLOP/s; floor / jaxdnn "
          f"= {100 * floor_row['floor_over_jaxdnn']:.0f}%")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="digits,synthetic,wide")
    parser.add_argument("--only", default="", help="contenders to keep besides jaxdnn: eqx-step,"
                        " eqx-scan, torch, torch-compile, sklearn (default: all)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    try:
        import torch
        torch.set_num_threads(1)  # two threads contend on a loaded 2-core machine
    except ImportError:
        pass
    print(f"jax {jax.__version__}, {os.cpu_count()} cpus, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    only = {s for s in args.only.split(",") if s}
    rows = [row for name in args.workloads.split(",") for row in
            measure(name, args.rounds, only)]
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
