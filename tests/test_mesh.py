"""Data parallelism (jaxdnn.mesh): training sharded over 1, 2, 4 and 8 CPU host devices equals
one device's, in a subprocess (tests/mesh_worker.py) because the device count is fixed when JAX
starts; the multi-host path through jax.distributed with one process; bad meshes."""

import json
import math
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest
from tolerances import SAME_MATH_RTOL

import jaxdnn
from jaxdnn import InputTypeError, OptionError

WORKER = os.path.join(os.path.dirname(__file__), "mesh_worker.py")


def worker(*argv):
    result = subprocess.run([sys.executable, WORKER, *argv], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def on_devices():
    return worker("devices")


def test_training_on_1_2_4_8_devices_equals_one_device(on_devices):
    """float64 parameters and every cost to 1e-12 relative, sigmoid and softmax, m = 37 (no
    device count divides it), 40 and 3 (fewer examples than devices), mini-batches with Adam,
    dropout with L2 and momentum, the Gram path; each run really sharded: its parameters on n
    devices, its program's X one device's block of ceil(m / n) columns, all-reduces in it."""
    cases = on_devices["cases"]
    assert {(c["case"], c["devices"]) for c in cases} >= {
        (f"{output}, m=37", n) for output in ("sigmoid", "softmax") for n in (1, 2, 4, 8)}
    for c in cases:
        assert c["parameters"] <= SAME_MATH_RTOL and c["costs"] <= SAME_MATH_RTOL, c
        assert c["placed_on"] == c["devices"], c
        if c["devices"] == 1:  # a mesh of one device is no mesh: the very program, the bits
            assert c["same bits"] and not c["meshed"], c
            continue
        m = int(c["case"].split("m=")[1].split()[0])
        assert c["x_block"] == [5, math.ceil(m / c["devices"])], c
        assert "all-reduce" in c["collectives"], c


def test_the_equality_catches_padding_that_reaches_the_sums(on_devices):
    """Fault injection: with the zero columns of a ragged m left in (not sliced off), the same
    comparison is off by far more than its bound."""
    assert on_devices["fault"]["parameters"] > 1e-3
    assert on_devices["fault"]["costs"] > 1e-4


def test_cost_reports_on_several_devices_are_the_costs_returned(on_devices):
    """Reports come from the host after each segment, so a run on two devices prints the
    course's lines, each the very cost it returns."""
    lines = on_devices["print_cost"]
    assert lines["printed"] == lines["expected"] and len(lines["printed"]) == 2


def test_network_cost_gradient_on_sharded_inputs(on_devices):
    """jax.grad of the custom_vjp bridge with X and Y sharded over 8 devices equals the
    unsharded gradient, in X, Y and the parameters, and XLA all-reduces the parameter sums."""
    found = on_devices["network_cost"]
    for leaf in ("dX", "dY", "d parameters"):
        assert found[leaf] <= SAME_MATH_RTOL, found
    assert found["dX placed_on"] == 8 and "all-reduce" in found["collectives"]


@pytest.mark.parametrize("processes", [1, 2])
def test_the_multi_host_path(tmp_path, processes):
    """jax.distributed.initialize on localhost with one process of 8 devices, and with two of 4
    (the CPU collectives go through gloo): a mesh over the global devices, each process's
    columns from local_columns assembled by make_array_from_process_local_data, the same
    parameters and costs as one device, the model written once by process 0 and read by all."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, WORKER, "distributed", str(port), str(tmp_path),
                               str(processes), str(p)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for p in range(processes)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    found = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
        found.append(json.loads(out.splitlines()[-1]))
    per = math.ceil(37 / 8) * 8 // processes  # columns per process (4 or 8 devices of 5)
    assert [f["columns"] for f in found] == [[p * per, min((p + 1) * per, 37)]
                                             for p in range(processes)]
    for f in found:
        assert f["processes"] == processes and f["devices"] == 8, f
        assert f["parameters"] <= SAME_MATH_RTOL and f["costs"] <= SAME_MATH_RTOL, f
        assert f["saved"] == 0.0


# --- in this process (one device unless XLA_FLAGS says otherwise) -------------------------------

def test_more_devices_than_jax_sees_is_an_option_error_with_the_flag():
    n = jax.device_count() + 1
    with pytest.raises(OptionError, match=rf"devices={n}.*xla_force_host_platform_device_count"):
        jaxdnn.data_mesh(n)


@pytest.mark.parametrize("mesh, error, match", [
    (0, OptionError, "at least 1"), (-1, OptionError, "devices"), ("2", InputTypeError, "mesh"),
    (2.0, InputTypeError, "mesh"), (True, InputTypeError, "mesh"),
])
def test_bad_meshes_are_refused_naming_them(mesh, error, match):
    X, Y = np.ones((2, 4)), np.ones((1, 4))
    params = jaxdnn.initialize_parameters_deep([2, 1], jax.random.PRNGKey(0))
    with pytest.raises(error, match=match):
        jaxdnn.fit(X, Y, params, num_iterations=1, mesh=mesh)


def test_a_2d_mesh_is_refused():
    mesh = jax.make_mesh((1, 1), ("a", "b"))
    with pytest.raises(OptionError, match="1-D"):
        jaxdnn.local_columns(4, mesh)


def test_a_mesh_listing_a_device_twice_is_refused():
    device = jax.devices()[0]
    mesh = jax.sharding.Mesh(np.array([device, device]), ("examples",))  # jax accepts it
    X, Y = np.ones((2, 4)), np.ones((1, 4))
    params = jaxdnn.initialize_parameters_deep([2, 1], jax.random.PRNGKey(0))
    with pytest.raises(OptionError, match=r"mesh lists a device more than once"):
        jaxdnn.fit(X, Y, params, num_iterations=1, mesh=mesh)


def test_one_device_mesh_is_the_plain_run():
    X, Y = jaxdnn.load_planar_dataset()
    params = jaxdnn.initialize_parameters_deep([2, 4, 1], numpy_seed=2)
    reference, costs = jaxdnn.fit(X, Y, params, hidden_activation="tanh", num_iterations=50)
    trained, got = jaxdnn.fit(X, Y, params, hidden_activation="tanh", num_iterations=50, mesh=1)
    np.testing.assert_array_equal(got, costs)
    for k in params:
        np.testing.assert_array_equal(trained[k], reference[k])
    assert jaxdnn.local_columns(400, 1) == slice(0, 400)
    named = jax.make_mesh((1,), ("batch",))  # a user's mesh, whatever its axis is called
    trained, got = jaxdnn.fit(X, Y, params, hidden_activation="tanh", num_iterations=50,
                              mesh=named)
    np.testing.assert_array_equal(got, costs)


def test_a_plan_made_for_other_data_is_refused():
    """fit hands its plan on as mesh=; a plan for another number of examples names both."""
    X, Y = jaxdnn.load_planar_dataset()
    state = jaxdnn.init_train_state(jaxdnn.initialize_parameters_deep([2, 4, 1], numpy_seed=2))
    plan = jaxdnn.train.mesh.Plan(jaxdnn.data_mesh(1), 400)
    with pytest.raises(jaxdnn.ShapeError, match="for 400 examples.*X has 41"):
        jaxdnn.train_steps(X[:, :41], Y[:, :41], state, 2, mesh=plan)


def test_jaxdnn_train_devices_2_writes_the_one_device_model(tmp_path):
    """``jaxdnn train --devices 2`` (two CPU host devices) against the same run on one: the
    model files agree to 1e-12 (float64, 320 planar examples, 300 iterations), and
    metrics.json says where each was trained."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", JAXDNN_CACHE_DIR="off")
    models = []
    for devices in ([], ["--devices", "2"]):
        out = tmp_path / f"run{len(models)}"
        result = subprocess.run(
            [sys.executable, "-m", "jaxdnn.app.cli", "train", "--iterations", "300", "--x64",
             "--checkpoint-every", "0", "--out", str(out), *devices],
            capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        models.append(jaxdnn.load_model(str(out / "model.npz"))[0])
        with open(out / "metrics.json") as f:
            assert json.load(f)["devices"] == (2 if devices else 1)
    for k, reference in models[0].items():
        error = np.linalg.norm(models[1][k] - reference) / np.linalg.norm(reference)
        assert error <= SAME_MATH_RTOL, (k, error)


def test_readme_many_devices_example_runs():
    """The README's example, on the devices this process has (one, unless XLA_FLAGS says)."""
    from test_readme import run_example

    namespace = run_example("mesh = jaxdnn.data_mesh()")
    assert namespace["costs"][-1] < namespace["costs"][0] / 2
    assert len(namespace["params"]["W1"].sharding.device_set) == jax.device_count()
