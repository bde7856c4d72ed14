"""Runs in a subprocess of tests/test_mesh.py, with 8 CPU host devices (the XLA flag must be set
before JAX starts): training on 1, 2, 4 and 8 devices against one device, and jaxdnn.mesh's
multi-host path with ``jax.distributed.initialize``. Prints one JSON object on stdout.

    python tests/mesh_worker.py devices                      # the equality cases
    python tests/mesh_worker.py distributed PORT OUT N P     # process P of N (8 / N devices)
"""

import contextlib
import io
import json
import os
import re
import sys

if __name__ != "__main__":  # pytest --doctest-modules imports every file; this one is a script
    import pytest

    pytest.skip("a script tests/test_mesh.py runs in subprocesses", allow_module_level=True)

PROCESSES = int(sys.argv[4]) if sys.argv[1] == "distributed" else 1
os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={8 // PROCESSES}"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import jax.experimental.multihost_utils  # noqa: E402

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import jaxdnn  # noqa: E402
import jaxdnn.train.mesh  # noqa: E402

COLLECTIVES = r"all-reduce|all-gather|reduce-scatter|collective-permute|all-to-all"


def relative(a, b):
    """The largest relative difference of any leaf (parameters) or entry (costs)."""
    if isinstance(b, dict):
        return max(relative(a[k], b[k]) for k in b)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def problem(m, K, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(5, m)
    Y = (rng.rand(1, m) > 0.5).astype(float) if K == 1 else rng.randint(0, K, (1, m))
    params = jaxdnn.initialize_parameters_deep([5, 6, 4, K], jax.random.PRNGKey(seed),
                                               scheme="he")
    return X, Y, params


def cases():
    """name: (m, K, options, device counts); built after jax.distributed may have started."""
    return {
        "sigmoid, m=37": (37, 1, dict(hidden_activation="tanh", learning_rate=0.1,
                                      num_iterations=200), (1, 2, 4, 8)),
        "sigmoid, m=40": (40, 1, dict(hidden_activation="tanh", learning_rate=0.1,
                                      num_iterations=200), (1, 2, 4, 8)),
        "softmax, m=37": (37, 3, dict(hidden_activation="tanh", output="softmax", learning_rate=0.1,
                                      num_iterations=200), (1, 2, 4, 8)),
        "sigmoid, m=3 < devices": (3, 1, dict(learning_rate=0.1, num_iterations=50), (8,)),
        "mini-batches of 8, Adam, m=37": (37, 1, dict(mini_batch_size=8, num_epochs=20,
                                                      key=jax.random.PRNGKey(3),
                                                      optimizer=optax.adam(0.01)), (2, 8)),
        "dropout, L2, momentum, m=37": (37, 3, dict(output="softmax", keep_prob=0.8, lambd=0.1,
                                                    momentum=0.9, key=jax.random.PRNGKey(3),
                                                    learning_rate=0.1, num_iterations=100), (8,)),
        "Gram path, momentum, m=37": (37, 1, dict(gram=True, momentum=0.9, learning_rate=0.1,
                                                  num_iterations=100), (2, 8)),
    }


def recording(programs):
    """Replace jaxdnn.train.mesh._unpadded by one that keeps the text of each compiled program."""
    original = jaxdnn.train.mesh._unpadded

    def record(*args, **kwargs):
        compiled = original.lower(*args, **kwargs).compile()
        programs.append(compiled.as_text())
        return compiled(*args[3:])  # the arguments that are not static
    jaxdnn.train.mesh._unpadded = record
    return original


def devices():
    found, programs = [], []
    original = recording(programs)
    for name, (m, K, options, counts) in cases().items():
        X, Y, params = problem(m, K)
        reference, costs = jaxdnn.fit(X, Y, params, **options)
        for n in counts:
            before = len(programs)
            trained, got = jaxdnn.fit(X, Y, params, mesh=n, **options)
            text = programs[-1] if len(programs) > before else None  # one device: no mesh
            found.append({
                "case": name, "devices": n, "parameters": relative(trained, reference),
                "costs": relative(got, costs), "placed_on": len(trained["W1"].sharding.device_set),
                "same bits": all(np.array_equal(trained[k], reference[k]) for k in reference)
                and np.array_equal(got, costs), "meshed": text is not None,
                "collectives": sorted(set(re.findall(COLLECTIVES, text or ""))),
                # the compiled program's X parameter: this device's block of the padded columns
                "x_block": [int(d) for d in re.search(r"ENTRY.*?f64\[(\d+),(\d+)\]",
                                                      text, re.S).groups()] if text else None})

    # Fault: the padding is not sliced off, so the zero columns enter every sum and the mean.
    def unsliced(loop, m, examples, data, carry, *args, program):
        return loop(data, carry, *args, program=program)
    jaxdnn.train.mesh._unpadded = unsliced
    X, Y, params = problem(37, 1)
    options = cases()["sigmoid, m=37"][2]
    reference, costs = jaxdnn.fit(X, Y, params, **options)
    trained, got = jaxdnn.fit(X, Y, params, mesh=2, **options)
    fault = {"parameters": relative(trained, reference), "costs": relative(got, costs)}
    jaxdnn.train.mesh._unpadded = original

    printed = io.StringIO()  # reports come from the host: any number of devices
    with contextlib.redirect_stdout(printed):
        _, reported = jaxdnn.fit(X, Y, params, mesh=2, print_cost=True, **options)
    lines = {"printed": printed.getvalue().splitlines(),
             "expected": [f"Cost after iteration {i}: {reported[i]:f}" for i in (0, 100)]}

    # network_cost's custom_vjp on sharded inputs: the gradient of every argument.
    X, Y, params = problem(40, 3)
    mesh = jaxdnn.data_mesh(8)
    Xs, Ys = (jax.device_put(np.asarray(A, np.float64), NamedSharding(mesh, P(None, "examples")))
              for A in (X, jax.nn.one_hot(Y[0], 3).T))
    grad = jax.jit(jax.grad(jaxdnn.network_cost, argnums=(0, 1, 2)), static_argnums=3)
    sharded = grad(Xs, Ys, params, "tanh")
    plain = grad(np.asarray(X), np.asarray(jax.nn.one_hot(Y[0], 3).T), params, "tanh")
    text = grad.lower(Xs, Ys, params, "tanh").compile().as_text()
    network_cost = {"dX": relative(sharded[0], plain[0]), "dY": relative(sharded[1], plain[1]),
                    "d parameters": relative(sharded[2], plain[2]),
                    "dX placed_on": len(sharded[0].sharding.device_set),
                    "collectives": sorted(set(re.findall(COLLECTIVES, text)))}
    return {"cases": found, "fault": fault, "network_cost": network_cost, "print_cost": lines}


def distributed(port, out, process_id):
    """One process of a jax.distributed run on this host, as each host of a cluster runs it."""
    jax.distributed.initialize(coordinator_address=f"localhost:{port}",
                               num_processes=PROCESSES, process_id=process_id)
    mesh = jaxdnn.data_mesh()  # every device of every process
    X, Y, params = problem(37, 1)
    columns = jaxdnn.local_columns(X.shape[1], mesh)  # this process's share
    options = cases()["sigmoid, m=37"][2]
    trained, costs = jaxdnn.fit(X[:, columns], Y[:, columns], params, mesh=mesh, **options)
    reference, reference_costs = jaxdnn.fit(X, Y, params, **options)
    path = os.path.join(out, "model.npz")
    if jax.process_index() == 0:  # written once, by process 0
        jaxdnn.save_model(path, trained)
    jax.experimental.multihost_utils.sync_global_devices("saved")  # the others wait for it
    saved = jaxdnn.load_model(path)[0]
    return {"processes": jax.process_count(), "devices": mesh.size,
            "columns": [columns.start, columns.stop],
            "parameters": relative(trained, reference), "costs": relative(costs, reference_costs),
            "saved": relative(saved, trained)}


if __name__ == "__main__":
    result = (devices() if sys.argv[1] == "devices"
              else distributed(int(sys.argv[2]), sys.argv[3], int(sys.argv[5])))
    print(json.dumps(result))
