"""What the boundary value checks cost an eager (un-jitted) course-style step.

One step is L_model_forward, compute_cost, L_model_backward and update_parameters on the cat
model's shapes ([12288, 20, 7, 5, 1], 209 examples, float32, random data), called eagerly as a
course notebook would. Rounds alternate between the default (checks on) and the same step inside
``values_checked()`` (checks off); the printed figure is the median ratio of paired rounds.
Under ``jax.jit`` (every training loop of the library) the checks see tracers and cost nothing.

    python scripts/bench_checks.py [--rounds 7]
"""

import argparse
import contextlib
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxdnn
from jaxdnn._checks import values_checked


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    args = parser.parse_args()

    rng = np.random.RandomState(0)
    X = jnp.asarray(rng.rand(12288, 209), jnp.float32)
    Y = jnp.asarray(rng.rand(1, 209) > 0.5, jnp.float32)
    params = jaxdnn.initialize_parameters_deep([12288, 20, 7, 5, 1], numpy_seed=1,
                                               scheme="scaled", dtype="float32")

    def step(p):
        AL, caches = jaxdnn.L_model_forward(X, p)
        jaxdnn.compute_cost(AL, Y)
        grads = jaxdnn.L_model_backward(AL, Y, caches)
        return jax.block_until_ready(jaxdnn.update_parameters(p, grads, 0.0075))

    def seconds_per_step(context, steps):
        nonlocal params
        with context():
            start = time.perf_counter()
            for _ in range(steps):
                params = step(params)
            return (time.perf_counter() - start) / steps

    for context in (contextlib.nullcontext, values_checked):  # warm up both
        seconds_per_step(context, 3)
    ratios, checked = [], []
    for _ in range(args.rounds):
        checked.append(seconds_per_step(contextlib.nullcontext, args.steps))
        ratios.append(checked[-1] / seconds_per_step(values_checked, args.steps))
    print(f"eager step, checks on / checks off: median {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}, {args.rounds} paired rounds); "
          f"{statistics.median(checked) * 1e3:.1f} ms per checked step on {jax.devices()[0]}")


if __name__ == "__main__":
    main()
