"""The witnesses compute at full matmul precision (``jaxdnn.verify.gradcheck.full_precision``), so
TF32 on GPUs and bfloat16 passes on TPUs cannot fail the float32 bounds of a correct backward.
On CPU the default precision already is full, so what is checked is the setting itself: every
dot in the programs the witnesses compile carries ``precision = [HIGHEST, HIGHEST]``, and the
config reads "highest" wherever they run the forward."""

import contextlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from jaxdnn import testing
from jaxdnn.core import kernels
from jaxdnn.verify import audit, gradcheck


def _problem(dtype):
    rng = np.random.RandomState(0)
    X = jnp.asarray(rng.randn(4, 6), dtype)
    Y = jnp.asarray(rng.rand(1, 6) > 0.5, dtype)
    params = jaxdnn.initialize_parameters_deep([4, 3, 1], jax.random.PRNGKey(0), dtype=dtype)
    return X, Y, params


WITNESSES = {
    "autodiff_errors": lambda: jaxdnn.autodiff_errors(*_problem("float32"), "tanh"),
    "transpose_errors": lambda: jaxdnn.transpose_errors(*_problem("float32"), "tanh"),
    "autodiff_gradients": lambda: jaxdnn.autodiff_gradients(*_problem("float32"), "tanh"),
    "finite_difference_gradients": lambda: jaxdnn.finite_difference_gradients(
        *(lambda X, Y, p: (p, X, Y))(*_problem("float64")), "tanh"),
    "gradient_check": lambda: jaxdnn.gradient_check(
        *(lambda X, Y, p: (p, X, Y))(*_problem("float64")), "tanh"),
    "testing.witness_errors": lambda: testing.witness_errors(
        testing.Case(*_problem("float32"), ("tanh",))),
    "jaxdnn check (audit.run)": lambda: list(audit.run([3], 4, 1, "sigmoid", "float32", 6, 1,
                                                       ["tanh"])),
}
JITTED = {"autodiff_errors", "transpose_errors", "finite_difference_gradients", "gradient_check",
          "testing.witness_errors", "jaxdnn check (audit.run)"}


@pytest.fixture
def recorded(monkeypatch):
    """The StableHLO of every jax.jit the witnesses call, and the matmul precision in effect
    whenever they run the network forward."""
    programs, precisions = [], []
    real_jit = jax.jit

    def jit(fun, *args, **kwargs):
        jitted = real_jit(fun, *args, **kwargs)

        def call(*a, **k):
            programs.append(jitted.lower(*a, **k).as_text())
            return jitted(*a, **k)
        return call

    def observing(function):
        def observed(*args, **kwargs):
            precisions.append(jax.config.jax_default_matmul_precision)
            return function(*args, **kwargs)
        return observed

    monkeypatch.setattr(jax, "jit", jit)
    monkeypatch.setattr(kernels, "forward", observing(kernels.forward))
    monkeypatch.setattr(gradcheck, "_cost_of", observing(gradcheck._cost_of))
    audit._program.cache_clear()  # compiled before: it would not be lowered again
    yield programs, precisions
    audit._program.cache_clear()


def below_full_precision(programs, precisions):
    """What was not computed at full precision: dots without HIGHEST, forwards without it."""
    dots = [line for text in programs for line in text.splitlines() if "dot_general" in line]
    return ([line.strip()[:120] for line in dots
             if not re.search(r"precision = \[HIGHEST, HIGHEST\]", line)]
            + [f"forward at {p!r}" for p in precisions if p != "highest"])


@pytest.mark.parametrize("name", WITNESSES)
def test_every_witness_computes_at_full_precision(recorded, name):
    programs, precisions = recorded
    WITNESSES[name]()
    assert precisions, "no forward observed"
    if name in JITTED:
        assert any("dot_general" in text for text in programs), "no compiled dot observed"
    assert below_full_precision(programs, precisions) == []


def test_the_check_sees_a_witness_at_default_precision(recorded, monkeypatch):
    """Fault injection: with the context made a no-op, the same check reports DEFAULT dots."""
    monkeypatch.setattr(gradcheck, "full_precision", contextlib.nullcontext)
    WITNESSES["autodiff_errors"]()
    found = below_full_precision(*recorded)
    assert any("DEFAULT" in issue for issue in found)
    assert any(issue == "forward at None" for issue in found)


def test_training_keeps_the_default_precision():
    """Only verification pays for full precision: fit's program has default-precision dots."""
    X, Y, params = _problem("float32")
    from jaxdnn.train import loop

    program = loop.Program(loop.PLAIN, jaxdnn.core.network.layer_activations("tanh", 2), 2)
    text = loop.run.lower(loop.Data(X, Y), loop.Carry(params, None, {}), jnp.int32(0),
                          jnp.int32(2), loop.Hyper(jnp.full(2, 0.1, jnp.float32),
                                                   jnp.float32(0.0)), program=program).as_text()
    assert "precision = [DEFAULT, DEFAULT]" in text and "HIGHEST" not in text
