"""What the boundary checks cost an eager (un-jitted) course-style step.

One step is L_model_forward, compute_cost, L_model_backward and update_parameters on the cat
model's shapes ([12288, 20, 7, 5, 1], 209 examples, float32, random data), called eagerly as a
course notebook would. Rounds alternate between the public functions (checked) and the same step
written with the private kernels they call (unchecked); the printed figure is the median ratio of
paired rounds. Under ``jax.jit`` (every training loop of the library) the checks run once, at
trace time.

    python scripts/bench_checks.py [--rounds 7] [--steps 10]
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxdnn
from jaxdnn.core import kernels
from jaxdnn.core import layout as _layout
from jaxdnn.core.network import layer_activations


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
    activations = layer_activations("relu", 4)

    def checked(p):
        AL, caches = jaxdnn.L_model_forward(X, p)
        jaxdnn.compute_cost(AL, Y)
        grads = jaxdnn.L_model_backward(AL, Y, caches)
        return jax.block_until_ready(jaxdnn.update_parameters(p, grads, 0.0075))

    def unchecked(p):
        AL, caches = kernels.forward(X, _layout.to_layers(p), activations)
        activations[-1].cost(AL, Y)
        grads = _layout.grads_to_dict(*kernels.backward(AL, Y, caches, activations, stable=False))
        return jax.block_until_ready({k: v - 0.0075 * grads[f"d{k}"] for k, v in p.items()})

    def seconds_per_step(step, steps):
        nonlocal params
        start = time.perf_counter()
        for _ in range(steps):
            params = step(params)
        return (time.perf_counter() - start) / steps

    for step in (checked, unchecked):  # warm up both
        seconds_per_step(step, 3)
    ratios, times = [], []
    for _ in range(args.rounds):
        times.append(seconds_per_step(checked, args.steps))
        ratios.append(times[-1] / seconds_per_step(unchecked, args.steps))
    print(f"eager step, public (checked) / kernels (unchecked): median "
          f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, "
          f"{args.rounds} paired rounds); {statistics.median(times) * 1e3:.1f} ms per checked "
          f"step on {jax.devices()[0]}")


if __name__ == "__main__":
    main()
