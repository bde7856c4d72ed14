"""network_cost: jax.grad through a custom_vjp runs the hand-written backward."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import CHAIN_RTOL, SAME_MATH_RTOL

import jaxdnn
from jaxdnn import compute_cost_from_logits, network_cost, relative_error
from jaxdnn.core import kernels
from jaxdnn.testing import problems


def autodiff_cost(X, Y, parameters, hidden, output, lambd):
    """The same cost, plain jnp: jax differentiates it on its own."""
    A, layers = X, jaxdnn.core.layout.to_layers(parameters)
    for l, (W, b) in enumerate(layers):
        Z = W @ A + b
        A = (jaxdnn.get_activation(hidden[l]).forward(Z)[0] if l < len(layers) - 1 else None)
    penalty = lambd / (2 * X.shape[1]) * sum(jnp.sum(W * W) for W, _ in layers)
    return compute_cost_from_logits(Z, Y, output=output) + penalty


@given(case=problems("float64", max_depth=4, max_width=8, max_examples=16,
                     outputs=("sigmoid", "softmax"), bias=("random",)),
       lambd=st.sampled_from([0.0, 0.7]))
def test_grad_of_network_cost_is_autodiff_of_the_cost(case, lambd):
    def both(X, Y, p):  # one compiled program: eagerly each new shape compiles every op
        bridge = jax.grad(lambda X, Y, p: network_cost(X, Y, p, case.hidden_activation,
                                                       output=case.output, lambd=lambd),
                          argnums=(0, 1, 2))(X, Y, p)
        return bridge, jax.grad(autodiff_cost, argnums=(0, 1, 2))(
            X, Y, p, case.hidden_activation, case.output, lambd)

    bridge, reference = jax.jit(both)(case.X, case.Y, case.parameters)
    bound = CHAIN_RTOL[np.dtype("float64")]
    for name, a, b in (("dX", bridge[0], reference[0]), ("dY", bridge[1], reference[1])):
        assert relative_error(a, b) <= bound, name
    for key in case.parameters:
        assert relative_error(bridge[2][key], reference[2][key]) <= bound, key


def _problem():
    rng = np.random.RandomState(0)
    X, Y = rng.randn(4, 12), (rng.rand(1, 12) > 0.5).astype(float)
    params = jaxdnn.initialize_parameters_deep([4, 5, 3, 1], jax.random.PRNGKey(0),
                                               scheme="he", dtype="float64")
    return X, Y, params


def test_the_bridge_runs_the_hand_written_backward(monkeypatch):
    """Not jax's own derivative: a broken hand chain shows through jax.grad of network_cost."""
    X, Y, params = _problem()
    honest = jax.grad(network_cost, argnums=2)(X, Y, params)
    real = kernels.backward
    monkeypatch.setattr(kernels, "backward", lambda *a: (
        [(2 * dW, db) for dW, db in real(*a)[0]], real(*a)[1]))
    doubled = jax.grad(network_cost, argnums=2)(X, Y, params)
    np.testing.assert_allclose(doubled["W1"], 2 * honest["W1"], rtol=1e-12)


def test_jit_and_per_example_gradients_with_vmap():
    X, Y, params = _problem()
    grad = jax.jit(jax.grad(network_cost, argnums=2))
    whole = grad(X, Y, params)
    per_example = jax.vmap(lambda x, y: jax.grad(network_cost, argnums=2)(
        x[:, None], y[:, None], params), in_axes=(1, 1))(X, Y)
    assert per_example["W1"].shape == (12, *params["W1"].shape)
    for key in params:  # the mean of the per-example gradients is the batch gradient
        np.testing.assert_allclose(per_example[key].mean(axis=0), whole[key], rtol=SAME_MATH_RTOL,
                                   atol=1e-15)
        single = grad(X[:, 3:4], Y[:, 3:4], params)
        np.testing.assert_allclose(per_example[key][3], single[key], rtol=SAME_MATH_RTOL,
                                   atol=1e-15)


def test_optax_through_the_bridge_trains_like_fit():
    X, Y, params = _problem()
    adam = optax.adam(0.01)
    expected, _ = jaxdnn.fit(X, Y, params, optimizer=adam, num_iterations=20)
    state, p = adam.init(params), params
    for _ in range(20):
        with jax.numpy_dtype_promotion("standard"):  # optax mixes int and float
            updates, state = adam.update(jax.grad(network_cost, argnums=2)(X, Y, p), state, p)
        p = optax.apply_updates(p, updates)
    for key in params:
        np.testing.assert_allclose(p[key], expected[key], rtol=1e-10, atol=1e-14)


@settings(max_examples=4)  # each network compiles twice over
@given(case=problems("float64", max_depth=3, max_width=6, max_examples=8,
                     outputs=("sigmoid", "softmax")), seed=st.integers(0, 2**31 - 1))
def test_second_order_forward_over_the_hand_written_backward(case, seed):
    """Hessian-vector products: jax.jvp through jax.grad of network_cost differentiates the
    hand-written backward itself (forward over reverse, through the custom_vjp); they match
    jax.jvp of jax.grad of the plain cost, leaf by leaf."""
    rng = np.random.RandomState(seed)
    v = {k: jnp.asarray(rng.standard_normal(a.shape), a.dtype) for k, a in case.parameters.items()}

    def hvps(p, v):  # one compiled program: eagerly each new shape compiles every op
        hand = jax.jvp(jax.grad(lambda p: network_cost(case.X, case.Y, p, case.hidden_activation,
                                                       output=case.output)), (p,), (v,))[1]
        reference = jax.jvp(jax.grad(lambda p: autodiff_cost(
            case.X, case.Y, p, case.hidden_activation, case.output, 0.0)), (p,), (v,))[1]
        return hand, reference

    hand, reference = jax.jit(hvps)(case.parameters, v)
    for key in case.parameters:
        a, b = np.asarray(hand[key]), np.asarray(reference[key])
        scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-6)  # a leaf of true 0: rounding
        assert np.linalg.norm(a - b) / scale <= 1e-9, key
