"""Whether two source trees of jaxdnn train to the same bits: a speed change must not move them.

    python scripts/same_bits.py OLD_TREE NEW_TREE [--only NAME,...]

Each tree (a checkout, e.g. ``git worktree add /tmp/old HEAD~1``) trains the same mini-batch
and full-batch workloads in its own process (float32, fixed data, keys and initial weights);
the final cost and the parameters are compared bit for bit. Prints a line per workload and
exits 1 if any differs. XLA may compute a step differently when the code around it changes
(another fusion), so a change that leaves the math alone can still move the bits: this is the
check that it did not, on this machine's CPU.
"""

import argparse
import json
import os
import subprocess
import sys

WORKLOADS = {
    # name: (n0, m, dims, mini_batch_size, epochs, options)
    "digits-adam": (64, 1437, [64, 64, 32, 10], 64, 3, {"adam": 0.001}),
    "dropout-l2": (64, 1437, [64, 64, 32, 10], 64, 3, {"adam": 0.001, "keep_prob": 0.8,
                                                       "lambd": 0.1}),
    "momentum": (64, 1437, [64, 64, 32, 10], 64, 3, {"momentum": 0.9, "learning_rate": 0.05}),
    "synthetic": (784, 20_000, [784, 256, 128, 10], 256, 2, {"adam": 0.001}),
    "wide": (1024, 4096, [1024, 1024, 1024, 10], 1024, 2, {"adam": 0.001}),
    "full-batch": (64, 1437, [64, 64, 32, 10], None, 200, {"learning_rate": 0.1}),
}

CHILD = r"""
import hashlib, json, sys
import jax, numpy as np, optax, jaxdnn
n0, m, dims, size, epochs, options = json.loads(sys.argv[1])
rng = np.random.RandomState(0)
X = rng.rand(n0, m).astype(np.float32)
Y = np.argmax(rng.randn(10, n0).astype(np.float32) @ (X - 0.5), axis=0)[None].astype(np.int32)
params = jaxdnn.initialize_parameters_deep(dims, jax.random.PRNGKey(0), scheme="he",
                                           dtype="float32")
options = dict(options)
if "adam" in options:
    options["optimizer"] = optax.adam(options.pop("adam"))
count = {"num_epochs": epochs} if size else {"num_iterations": epochs}
params, costs = jaxdnn.fit(X, Y, params, output="softmax", mini_batch_size=size,
                           key=jax.random.PRNGKey(0), **count, **options)
digest = hashlib.sha256()
for name in sorted(params):
    digest.update(np.asarray(params[name]).tobytes())
print(json.dumps({"cost": float(costs[-1]).hex(), "parameters": digest.hexdigest()[:16]}))
"""


def run(tree, workload):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree), JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(workload)], env=env,
                            capture_output=True, text=True, cwd=tree)
    if result.returncode:
        sys.exit(f"{tree}: {result.stderr.strip().splitlines()[-1]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", metavar="OLD_TREE")
    parser.add_argument("new", metavar="NEW_TREE")
    parser.add_argument("--only", help=f"comma-separated among {', '.join(WORKLOADS)}")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {', '.join(unknown)}")
    differ = 0
    for name in names:
        old, new = run(args.old, WORKLOADS[name]), run(args.new, WORKLOADS[name])
        same = old == new
        differ += not same
        print(f"{name:<12} {'same bits' if same else 'DIFFER'}  old {old}  new {new}",
              flush=True)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
