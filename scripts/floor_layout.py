"""The synthetic workload's matmul floor in jaxdnn's column layout and in the row layout.

    python scripts/floor_layout.py [--rounds 5]

One compiled scan over an epoch's 390 full batches of 256 (100 000 x 784, [784, 256, 128, 10])
doing only the forward, dW and dA matmuls, once as W A on (n, B) columns and once as A W on
(B, n) rows (as equinox and PyTorch compute); interleaved rounds, per-round ratios.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

DIMS, SIZE, M = [784, 256, 128, 10], 256, 100_000


def epoch(Ws, X, rows):
    """The matmuls of every full batch; each layer's dW summed so that nothing is dead."""
    def body(acc, b):
        As = [jax.lax.dynamic_slice_in_dim(X, b * SIZE, SIZE, axis=0 if rows else 1)]
        for W in Ws:
            As.append(As[-1] @ W if rows else W @ As[-1])
        dZ, grads = As[-1], []
        for l in range(len(Ws) - 1, -1, -1):
            grads.append(As[l].T @ dZ if rows else dZ @ As[l].T)
            if l:
                dZ = dZ @ Ws[l].T if rows else Ws[l].T @ dZ
        return [a + g for a, g in zip(acc, grads[::-1], strict=True)], None
    return jax.lax.scan(body, [jnp.zeros_like(W) for W in Ws], jnp.arange(M // SIZE))[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    X = rng.rand(DIMS[0], M).astype(np.float32)
    Ws = [rng.randn(DIMS[l], DIMS[l - 1]).astype(np.float32) * 0.05 for l in range(1, len(DIMS))]
    cases = {"columns": (jax.jit(lambda W, X: epoch(W, X, False)), [jnp.asarray(W) for W in Ws],
                         jnp.asarray(X)),
             "rows": (jax.jit(lambda W, X: epoch(W, X, True)),
                      [jnp.asarray(np.ascontiguousarray(W.T)) for W in Ws],
                      jnp.asarray(np.ascontiguousarray(X.T)))}
    for f, W, A in cases.values():
        jax.block_until_ready(f(W, A))
    seconds = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (f, W, A) in cases.items():
            start = time.perf_counter()
            jax.block_until_ready(f(W, A))
            seconds[name].append(time.perf_counter() - start)
    for name, s in seconds.items():
        print(f"{name:<8} median {statistics.median(s):.3f} s, range {min(s):.3f}-{max(s):.3f}")
    ratios = [r / c for r, c in zip(seconds["rows"], seconds["columns"], strict=True)]
    print("rows / columns per round:", " ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()
