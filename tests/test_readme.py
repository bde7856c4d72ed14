"""The examples of the README and of the documentation pages run as written: each ```python
block is run by one test here (or in the test file of what it shows), found by a marker."""

import ast
import pathlib
import re

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def blocks():
    """Every ```python block of the README and the docs pages, as (page, code), README first."""
    return [(page, block) for page in PAGES
            for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S)]


def run_example(marker=None):
    """Execute the first ```python block (the README's, or the one that contains ``marker``);
    its namespace."""
    page, block = next((p, b) for p, b in blocks() if marker is None or marker in b)
    namespace = {}
    exec(compile(block, str(page), "exec"), namespace)
    return namespace


def markers():
    """The markers the tests give ``run_example``, from their source (None: the README's)."""
    found = set()
    for path in pathlib.Path(__file__).parent.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_example"):
                found.add(ast.literal_eval(node.args[0]) if node.args else None)
    return found


def test_every_example_of_the_docs_is_run_once():
    """Each block is found by exactly one marker and each marker finds exactly one block, so
    every example runs, and none runs twice."""
    found = blocks()
    hits = {marker: [i for i, (_, b) in enumerate(found) if marker is None and i == 0
                     or marker is not None and marker in b]
            for marker in markers()}
    assert {m: h for m, h in hits.items() if len(h) != 1} == {}
    unrun = {i for i in range(len(found))} - {h[0] for h in hits.values()}
    assert [f"{found[i][0].name}: {found[i][1][:60]!r}" for i in sorted(unrun)] == []


def test_readme_example_trains():
    params, step, X, Y = (run_example()[k] for k in ("params", "step", "X", "Y"))
    _, final_cost = step(params, X, Y)
    assert np.isfinite(final_cost) and final_cost < 0.5  # from about 0.69 at initialisation


def test_readme_checkpoint_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    state, costs, more = (run_example("load_checkpoint")[k] for k in ("state", "costs", "more"))
    assert state.iteration == 1000 and len(costs) == 500 and len(more) == 500
    assert more[-1] < costs[0]


def in_the_root_with_cat_data(monkeypatch):
    """Run from the repository's root, where ``load_cat_data("datasets")`` finds the files."""
    if not all((ROOT / "datasets" / f).exists()
               for f in ("train_catvnoncat.h5", "test_catvnoncat.h5")):
        pytest.skip(f"the course's cat files are not in {ROOT / 'datasets'}")
    monkeypatch.chdir(ROOT)


def test_training_from_python_example_runs(monkeypatch, capsys):
    in_the_root_with_cat_data(monkeypatch)
    namespace = run_example("L_layer_model(train_x")
    out = capsys.readouterr().out
    assert "Cost after iteration 0: 0.771749" in out and "Accuracy: 0.8" in out
    assert len(namespace["costs"]) == 2500


def test_readme_course_assignments_example_runs(monkeypatch, capsys):
    in_the_root_with_cat_data(monkeypatch)
    namespace = run_example("logistic.model")
    out = capsys.readouterr().out
    assert "train accuracy: 99.04306220095694 %" in out and "test accuracy: 70.0 %" in out
    assert namespace["grads"].keys() == {"dW1", "db1", "dW2", "db2"}
    assert namespace["d"]["w"].shape == (12288, 1) and out.rstrip().endswith("0.9075")


def test_readme_softmax_example_runs():
    namespace = run_example('load_dataset("blobs", multiclass=True)')
    assert namespace["costs"][-1] < namespace["costs"][0] / 10
    assert namespace["labels"].shape == (1, 200)


def test_readme_numbering_example_runs():
    grads = run_example("dA_from=0")["grads"]
    assert sorted(k for k in grads if k.startswith("dA")) == ["dA0", "dA1"]
    assert grads["dA0"].shape == (3, 5)


def test_readme_l2_example_runs():
    costs = run_example("lambd=0.7")["costs"]
    assert costs[-1] < costs[0]


def test_readme_dropout_example_runs():
    namespace = run_example("keep_prob=0.8")
    assert namespace["costs"][-1] < namespace["costs"][0]
    assert len(namespace["caches"][0]) == 3  # the mask travels in the cache


def test_readme_mini_batch_example_runs():
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn (jaxdnn[digits])")
    costs, curves = (run_example("load_digits()")[k] for k in ("costs", "curves"))
    assert costs.shape == (30,) and curves.shape == (30, 2)
    assert costs[-1] < costs[0] and curves[-1, 1] < curves[0, 1]


def test_readme_custom_activation_example_runs():
    namespace = run_example("check_activation")
    namespace["test_swish"]()
    assert namespace["SWISH"].name == "swish"


def test_readme_network_cost_example_runs():
    namespace = run_example("network_cost")
    assert namespace["per_example"]["W1"].shape == (400, 4, 2)
    assert namespace["grads"]["W1"].shape == (4, 2)


def test_readme_stream_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = run_example("fit_stream")
    costs, same = namespace["costs"], namespace["same_costs"]
    assert costs.shape == (5,) and costs[-1] < costs[0]
    np.testing.assert_allclose(costs, same, rtol=1e-12)
    for key, value in namespace["in_memory"].items():
        np.testing.assert_allclose(namespace["streamed"][key], value, rtol=1e-12, atol=1e-15)


def test_readme_many_models_example_runs():
    namespace = run_example("fit_many")
    costs, diverged, labels, models = (namespace[k] for k in ("costs", "diverged", "labels",
                                                               "models"))
    assert costs.shape == (28, 1000) and (diverged == -1).all()
    assert (costs[:, -1] < costs[:, 0]).all() and labels.shape == (28, 1, 400)
    assert [m["W1"].shape[0] for m in models[::4]] == [1, 2, 3, 4, 5, 20, 50]


def test_readme_verify_your_own_layer_example_runs():
    diagnosis = run_example("def norm_backward")["diagnosis"]
    assert "\nmissing-term: d0[" in diagnosis
    # diagnosed at the drawn input (a typical point), shrunk as well
    assert "a reduction along axis 0" in diagnosis
    assert "smallest failing input found" in diagnosis


def test_readme_early_stopping_example_runs():
    namespace = run_example("validation_fraction=0.2")
    result = namespace["result"]
    curve = np.asarray(result.validation_costs)
    assert curve[result.best_epoch] == curve.min() <= curve[-1]


def test_peers_page_persistent_cache_example_sets_jax_s_options():
    """The page's three settings are jax options by those names (restored at once: the block
    compiles nothing, so no entry is written anywhere)."""
    import jax

    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
             "jax_persistent_cache_min_entry_size_bytes")
    before = {name: getattr(jax.config, name) for name in names}
    try:
        run_example('"jax_compilation_cache_dir"')
        assert [getattr(jax.config, name) for name in names] == [
            "/path/to/a/cache/folder", 0, 0]
    finally:
        for name, value in before.items():
            jax.config.update(name, value)
