"""The bad-input fuzzer: hypothesis hands malformed arguments to the public API.

Each example builds a small valid problem (random depth, widths, examples and seed) and, for one
public function, calls it once per (argument, fault) with that one argument broken. Each call
must raise a documented :class:`jaxdnn.JaxdnnError` (a ``ValueError``, ``TypeError``,
``KeyError``, ``FloatingPointError``, or ``RuntimeError`` for a function under check that
raised) whose one-line message names the argument: never an XLA
or numpy error from deep inside, never a result. Every fault is invalid whatever the problem's
sizes. The cases and calls are counted and printed at the end of the run; the last tests show
that the fuzzer fails when a check is taken out.
"""

import json
import os
import re
import tempfile

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from h5_storage import STORAGE
from hypothesis import given, settings
from report import record_fuzz_case
from strategies import fuzz_problems, make_problem

import jaxdnn
import jaxdnn.core.checks
import jaxdnn.core.limits
from jaxdnn import JaxdnnError

DOCUMENTED = (ValueError, TypeError, KeyError, FloatingPointError, RuntimeError)
# random problems per function; each is tried with every fault of every argument
EXAMPLES = {"dev": 3, "ci": 10}[os.environ.get("JAXDNN_HYPOTHESIS_PROFILE", "dev")]


# --- faults, by kind of argument: (label, make(value, problem) -> bad value) -------------------

def _set(value, problem, x):
    bad = np.array(value, dtype=np.float64)
    bad[tuple(problem.rng.randint(0, n) for n in bad.shape)] = x
    return bad


VALUE_FAULTS = ("NaN", "+inf", "-inf", "W NaN", "b inf", "dW NaN", "Z NaN", "b NaN",
                "bfloat16 NaN")
"""Faults only the functions where data enters refuse; the others compute on, as numpy does."""


def array_faults(rows=True, cols=True, floating=False, labels=False, probabilities=None,
                 values=True):
    """Faults of a 2-D array argument. ``rows``/``cols``: one row/column more breaks it (it must
    match another argument); ``floating``: integers are refused; ``labels``: values must be 0/1;
    ``probabilities``: "range" (in [0, 1], not 0 or 1) or "saturation" (not exactly 0 or 1);
    ``values``: non-finite values are refused (see VALUE_FAULTS)."""
    return [fault for fault in _array_faults(rows, cols, floating, labels, probabilities)
            if values or fault[0] not in VALUE_FAULTS]


def static_faults(faults):
    """``faults`` without those of VALUE_FAULTS."""
    return [fault for fault in faults if fault[0] not in VALUE_FAULTS]


def _array_faults(rows, cols, floating, labels, probabilities):
    faults = [
        ("1-D", lambda v, p: np.asarray(v).ravel()),
        ("3-D", lambda v, p: np.asarray(v)[None]),
        ("0-D", lambda v, p: np.float64(0.5)),
        ("no columns", lambda v, p: np.asarray(v)[:, :0]),
        ("NaN", lambda v, p: _set(v, p, np.nan)),
        ("+inf", lambda v, p: _set(v, p, np.inf)),
        ("-inf", lambda v, p: _set(v, p, -np.inf)),
        ("complex", lambda v, p: np.asarray(v).astype(np.complex128)),
        ("text", lambda v, p: np.asarray(v).astype(str)),
        ("object", lambda v, p: np.asarray(v).astype(object)),
        ("nested list", lambda v, p: np.asarray(v).tolist()),
        ("None", lambda v, p: None),
        ("a string", lambda v, p: "X.npy"),
        ("big-endian", lambda v, p: np.asarray(v, np.float64).astype(">f8")),
    ]
    if rows:
        faults.append(("one row more", lambda v, p: np.vstack([v, np.asarray(v)[:1]])))
    if cols:
        faults.append(("one column more", lambda v, p: np.hstack([v, np.asarray(v)[:, :1]])))
    if floating:
        faults.append(("integer dtype", lambda v, p: np.asarray(v).astype(np.int64)))
        faults.append(("boolean dtype", lambda v, p: np.asarray(v) > 0))
    if labels:
        faults += [("label 2", lambda v, p: _set(v, p, 2.0)),
                   ("label 0.5", lambda v, p: _set(v, p, 0.5)),
                   ("label -1", lambda v, p: _set(v, p, -1.0))]
    if probabilities:
        faults += [("saturated at 1", lambda v, p: _set(v, p, 1.0)),
                   ("saturated at 0", lambda v, p: _set(v, p, 0.0))]
    if probabilities == "range":
        faults += [("probability 1.5", lambda v, p: _set(v, p, 1.5)),
                   ("probability -0.5", lambda v, p: _set(v, p, -0.5))]
    return faults


def _layer(p):
    return p.rng.randint(1, p.L + 1)


def _without(d, key):
    return {k: v for k, v in d.items() if k != key}


def _replace(d, key, value):
    return {**d, key: value}


def _grow(a):
    return np.vstack([a, np.asarray(a)[:1]])


PARAMETER_FAULTS = [
    ("missing W", lambda v, p: _without(v, f"W{_layer(p)}")),
    ("missing b", lambda v, p: _without(v, f"b{_layer(p)}")),
    ("extra W0", lambda v, p: {**v, "W0": np.ones((1, 1))}),
    ("extra key", lambda v, p: {**v, "gamma": np.ones((1, 1))}),
    ("integer key", lambda v, p: {**v, 7: np.ones((1, 1))}),
    ("extra layer", lambda v, p: {**v, f"W{p.L + 1}": np.ones((1, 1))}),
    ("W one row more", lambda v, p: (lambda l: _replace(v, f"W{l}", _grow(v[f"W{l}"])))(
        _layer(p))),
    ("b one row more", lambda v, p: (lambda l: _replace(v, f"b{l}", _grow(v[f"b{l}"])))(
        _layer(p))),
    ("b as a vector", lambda v, p: (lambda l: _replace(v, f"b{l}", v[f"b{l}"].ravel()))(
        _layer(p))),
    ("W 1-D", lambda v, p: (lambda l: _replace(v, f"W{l}", v[f"W{l}"].ravel()))(_layer(p))),
    ("W integer", lambda v, p: (lambda l: _replace(v, f"W{l}", v[f"W{l}"].astype(int)))(
        _layer(p))),
    ("b boolean", lambda v, p: (lambda l: _replace(v, f"b{l}", v[f"b{l}"] > 0))(_layer(p))),
    ("W text", lambda v, p: (lambda l: _replace(v, f"W{l}", v[f"W{l}"].astype(str)))(
        _layer(p))),
    ("W NaN", lambda v, p: (lambda l: _replace(v, f"W{l}", _set(v[f"W{l}"], p, np.nan)))(
        _layer(p))),
    ("b inf", lambda v, p: (lambda l: _replace(v, f"b{l}", _set(v[f"b{l}"], p, np.inf)))(
        _layer(p))),
    ("W a list", lambda v, p: (lambda l: _replace(v, f"W{l}", v[f"W{l}"].tolist()))(_layer(p))),
    ("b None", lambda v, p: _replace(v, f"b{_layer(p)}", None)),
    ("W float32 among float64", lambda v, p: (lambda l: _replace(
        v, f"W{l}", v[f"W{l}"].astype(np.float32)))(_layer(p))),
    ("W big-endian", lambda v, p: (lambda l: _replace(
        v, f"W{l}", np.asarray(v[f"W{l}"]).astype(">f8")))(_layer(p))),
    ("b big-endian", lambda v, p: (lambda l: _replace(
        v, f"b{l}", np.asarray(v[f"b{l}"]).astype(">f8")))(_layer(p))),
    ("all big-endian", lambda v, p: {k: np.asarray(x).astype(">f8") for k, x in v.items()}),
    ("a list of arrays", lambda v, p: list(v.values())),
    ("None", lambda v, p: None),
    ("empty dict", lambda v, p: {}),
]

GRADS_FAULTS = [
    ("missing dW", lambda v, p: _without(v, f"dW{_layer(p)}")),
    ("missing db", lambda v, p: _without(v, f"db{_layer(p)}")),
    ("dW one row more", lambda v, p: (lambda l: _replace(v, f"dW{l}", _grow(v[f"dW{l}"])))(
        _layer(p))),
    ("db transposed", lambda v, p: (lambda l: _replace(v, f"db{l}", np.ones((1, 2))))(
        _layer(p))),
    ("dW NaN", lambda v, p: (lambda l: _replace(v, f"dW{l}", _set(v[f"dW{l}"], p, np.nan)))(
        _layer(p))),
    ("dW a list", lambda v, p: (lambda l: _replace(v, f"dW{l}", np.asarray(v[f"dW{l}"]).tolist()))(
        _layer(p))),
    ("db integer", lambda v, p: (lambda l: _replace(v, f"db{l}", np.ones(v[f"db{l}"].shape,
                                                                           int)))(_layer(p))),
    ("a list", lambda v, p: list(v.values())),
]

ACTIVATION_FAULTS = [
    ("unknown name", lambda v, p: "swish"),
    ("empty name", lambda v, p: ""),
    ("None", lambda v, p: None),
    ("a number", lambda v, p: 3),
    ("one name too many", lambda v, p: ("relu",) * p.L),
    ("unknown name in a tuple", lambda v, p: ("swish",) * (p.L - 1) if p.L > 1 else "swish"),
]

RATE_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("zero", 0.0), ("negative", -0.1), ("NaN", float("nan")), ("inf", float("inf")),
    ("text", "0.01"), ("None", None), ("a list", [0.01]), ("a bool", True), ("complex", 1j),
    ("an array", np.array([0.1, 0.2])), ("too large for a float", 10**400)]]
COUNT_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("negative", -1), ("a float", 1.5), ("text", "10"), ("a bool", True), ("None", None),
    ("NaN", float("nan")), ("a timedelta", np.timedelta64(2))]]
MOMENTUM_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("one", 1.0), ("negative", -0.1), ("NaN", float("nan")), ("text", "0.9"), ("None", None),
    ("too large for a float", 10**400)]]
ITERATION_FAULTS = [fault for fault in COUNT_FAULTS if fault[0] != "None"]  # None: the default
MINI_BATCH_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("zero", 0), ("negative", -2), ("a float", 1.0), ("text", "1"), ("a bool", True)]] + [
    ("more than m", lambda v, p: p.X.shape[1] + 1)]
MONITOR_FAULTS = [
    ("not pairs", lambda v, p: [p.X]), ("a triple", lambda v, p: [(p.X, p.Y, p.Y)]),
    ("one feature more", lambda v, p: [(np.vstack([p.X, p.X[:1]]), p.Y)]),
    ("X NaN", lambda v, p: [(np.full_like(p.X, np.nan), p.Y)]),
    ("Y label 2", lambda v, p: [(p.X, np.full_like(p.Y, 2))])]
ON_COST_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("a number", 5), ("text", "print")]]
LAMBD_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("negative", -0.1), ("NaN", float("nan")), ("inf", float("inf")), ("text", "0.1"),
    ("None", None), ("a bool", True), ("an array", np.array([0.1, 0.2]))]]
FLOOR_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("negative", -1e-6), ("NaN", float("nan")), ("inf", float("inf")), ("text", "1e-6"),
    ("None", None), ("a bool", True)]]
OUTPUT_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("unknown", "tanh"), ("None", None), ("a number", 3), ("a list", ["softmax"])]]
SOFTMAX_LABEL_FAULTS = [  # the problems' softmax heads have K = 3 classes
    ("class id 3", lambda v, p: _set(v, p, 3)),
    ("class id -1", lambda v, p: _set(v, p, -1)),
    ("class id 0.5", lambda v, p: _set(v, p, 0.5)),
    ("class id NaN", lambda v, p: _set(v, p, np.nan)),
    ("one more id", lambda v, p: np.hstack([v, v[:, :1]])),
    ("one-hot column of zeros", lambda v, p: np.eye(3)[:, v[0]] * (np.arange(v.size) > 0)),
    ("one-hot columns summing to 2",
     lambda v, p: np.eye(3)[:, v[0]] + np.eye(3)[:, (v[0] + 1) % 3]),
    ("one-hot of 4 classes", lambda v, p: np.eye(4)[:, v[0]]),
    ("one-hot of 2 classes", lambda v, p: np.eye(3)[:2, v[0]]),
    ("a list", lambda v, p: v.tolist()),
    ("text", lambda v, p: v.astype(str)),
]
DEVICES_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("zero", 0), ("negative", -1), ("more than JAX sees", 10**6), ("a float", 2.0),
    ("a bool", True), ("text", "2")]]
MESH_FAULTS = DEVICES_FAULTS + [
    ("a 2-D mesh", lambda v, p: jax.make_mesh((1, 1), ("a", "b"))),
    ("a device list", lambda v, p: jax.devices()),
    ("a device twice", lambda v, p: jax.sharding.Mesh(np.array([jax.devices()[0]] * 2),
                                                      ("examples",)))]
BEYOND_FLOAT32 = [("finite in float64, infinite in float32", lambda v, p: _set(v, p, 1e39))]
"""X the float32 training dtype cannot hold: refused before it is converted."""
GRAM_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("text", "yes"), ("one", 1), ("None", None)]]
OPTIMIZER_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("an unknown name", "sgd"), ("a number", 3), ("the factory", optax.adam)]]
LAYER_DIMS_FAULTS = [
    ("empty", lambda v, p: []),
    ("one size", lambda v, p: v[:1]),
    ("zero size", lambda v, p: [*v[:-1], 0, v[-1]]),
    ("negative size", lambda v, p: [*v[:-1], -3, v[-1]]),
    ("float size", lambda v, p: [*v[:-1], 2.5, v[-1]]),
    ("bool size", lambda v, p: [*v[:-1], True, v[-1]]),
    ("text size", lambda v, p: [*v[:-1], "4", v[-1]]),
    ("None", lambda v, p: None),
]
SCHEME_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("unknown", "xavier"), ("None", None), ("a number", 3), ("a list", ["he"])]]
DTYPE_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("integer", "int32"), ("unknown", "float7"), ("complex", "complex64"), ("bool", bool)]]
KEY_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("an int", 5), ("text", "key"), ("three words", jnp.zeros(3, jnp.uint32)),
    ("float array", jnp.zeros(2))]]
SEED_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("negative", -1), ("2**40", 2**40), ("text", "1"), ("a float", 1.5)]]
N_H_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("zero", 0), ("negative", -4), ("a float", 4.0), ("text", "4"), ("None", None)]]
DATASET_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("unknown", "mnist"), ("empty", ""), ("None", None), ("a list", ["planar"])]]
METADATA_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("not JSON", {"f": object()}), ("NaN", {"x": float("nan")}), ("a list", ["a"]),
    ("an array", {"a": np.ones(2)})]]
CACHES_FAULTS = [
    ("empty", lambda v, p: []),
    ("None", lambda v, p: None),
    ("a string", lambda v, p: "caches"),
    ("a None cache", lambda v, p: [None] * len(v)),
    ("a short cache", lambda v, p: [c[0] for c in v]),
]
LINEAR_CACHE_FAULTS = [
    ("None", lambda v, p: None),
    ("two entries", lambda v, p: v[:2]),
    ("A_prev one row more", lambda v, p: (_grow(v[0]), v[1], v[2])),
    ("W integer", lambda v, p: (v[0], np.asarray(v[1]).astype(int), v[2])),
    ("b NaN", lambda v, p: (v[0], v[1], _set(v[2], p, np.nan))),
]
ACTIVATION_CACHE_FAULTS = [
    ("None", lambda v, p: None),
    ("three entries", lambda v, p: (*v, v[1])),
    ("Z one row more", lambda v, p: (v[0], _grow(v[1]))),
    ("Z NaN", lambda v, p: (v[0], _set(v[1], p, np.nan))),
    ("linear cache broken", lambda v, p: (v[0][:2], v[1])),
]
STATE_FAULTS = [
    ("parameters", lambda v, p: v.parameters),
    ("None", lambda v, p: None),
    ("negative iteration", lambda v, p: v._replace(iteration=-1)),
    ("float iteration", lambda v, p: v._replace(iteration=1.5)),
    ("broken parameters", lambda v, p: v._replace(parameters=_without(v.parameters, "b1"))),
    ("a momentum trace for plain descent", lambda v, p: v._replace(
        opt_state=jaxdnn.init_train_state(v.parameters, momentum=0.9).opt_state)),
    ("an Adam state for plain descent", lambda v, p: v._replace(
        opt_state=jaxdnn.init_train_state(v.parameters, optimizer=optax.adam(0.1)).opt_state)),
]
COSTS_FAULTS = [
    ("one cost too many", lambda v, p: np.zeros(len(v) + 1)),
    ("text", lambda v, p: np.asarray(v).astype(str)),
    ("a list", lambda v, p: list(v)),
]

STACK_FAULTS = [  # on a stack of two models
    ("the parameters dict", lambda v, p: v.parameters),
    ("None", lambda v, p: None),
    ("a leaf for one model", lambda v, p: v._replace(
        parameters={**v.parameters, "W1": v.parameters["W1"][:1]})),
    ("a leaf without its model axis", lambda v, p: v._replace(
        parameters={**v.parameters, "b1": v.parameters["b1"][0]})),
    ("dims of three models", lambda v, p: v._replace(dims=v.dims + v.dims[:1])),
    ("dims wider than the leaves", lambda v, p: v._replace(
        dims=(v.dims[0], (v.dims[1][0] + 1, *v.dims[1][1:])))),
    ("dims a list", lambda v, p: v._replace(dims=[list(d) for d in v.dims])),
    ("missing b1", lambda v, p: v._replace(parameters=_without(v.parameters, "b1"))),
    ("W NaN", lambda v, p: v._replace(parameters={**v.parameters, "W1": _set(
        v.parameters["W1"], p, np.nan)})),
]
STACK_NAMES = r"stack|\b[Wb]\d+\b|parameters|models"
MODELS_FAULTS = [
    ("empty", lambda v, p: []), ("None", lambda v, p: None), ("one dict", lambda v, p: v[0]),
    ("a deeper model", lambda v, p: [v[0], {**v[0], f"W{p.L + 1}": np.ones((1, 1)),
                                            f"b{p.L + 1}": np.zeros((1, 1))}]),
    ("one input more", lambda v, p: [v[0], _two_layers(p._replace(X=_grow(p.X)))]),
    ("float32 among float64", lambda v, p: [v[0], {k: np.asarray(x, np.float32)
                                                   for k, x in v[1].items()}]),
] + [(f"models[1]: {label}", lambda v, p, make=make: [v[0], make(v[1], p)])
     for label, make in static_faults(PARAMETER_FAULTS)
     if label not in ("W float32 among float64",)]
TRAINING_RATE_FAULTS = [fault for fault in RATE_FAULTS if fault[0] != "None"]
"""A training option's faults: None there is the default rate (the configuration's)."""
SCHEDULE_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("unknown", "linear"), ("None", None), ("a number", 3), ("a list", ["cosine"])]]
STEP_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("zero", 0), ("negative", -1), ("a float", 1.5), ("text", "10"), ("a bool", True),
    ("past int32", 2**31)]]
FRACTION_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("zero", 0.0), ("one", 1.0), ("negative", -0.1), ("NaN", float("nan")), ("text", "0.2"),
    ("a bool", True), ("a list", [0.2])]]
DELTA_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("negative", -0.1), ("NaN", float("nan")), ("inf", float("inf")), ("text", "0"),
    ("a bool", True)]]
VALIDATION_FAULTS = [
    ("not a pair", lambda v, p: p.X),
    ("three arrays", lambda v, p: (p.X, p.Y, p.Y)),
    ("features of another network", lambda v, p: (np.ones((p.X.shape[0] + 1, 2)), p.Y[:, :2])),
    ("labels not 0 or 1", lambda v, p: (p.X, np.full(p.Y.shape, 2.0))),
    ("NaN inputs", lambda v, p: (np.full(p.X.shape, np.nan), p.Y)),
]
PER_MODEL_RATE_FAULTS = [fault for fault in TRAINING_RATE_FAULTS if fault[0] != "an array"] + [
    ("three for two models", lambda v, p: [0.1, 0.2, 0.3]),
    ("2-D", lambda v, p: [[0.1, 0.2]]), ("one bad of two", lambda v, p: [0.1, -0.1])]


def _raises_on_call(n):
    """A forward (swish) that raises on its n-th call: a fresh one per fault."""
    calls = []

    def forward(Z):
        calls.append(1)
        if len(calls) == n:
            raise RuntimeError(f"call {n} fails")
        return Z * jax.nn.sigmoid(Z), Z
    return forward


def _shaped_for(shape):
    """A forward whose A has ``shape`` whatever Z's."""
    return lambda Z: (jnp.zeros(shape, Z.dtype) + jnp.sum(Z), Z)


USER_FORWARD_FAULTS = [(label, lambda v, p, make=make: make()) for label, make in [
    ("calls numpy on Z", lambda: lambda Z: (np.tanh(Z), Z)),
    ("float() of Z", lambda: lambda Z: (Z * float(Z[0, 0]), Z)),
    ("raises on its second call", lambda: _raises_on_call(2)),
    ("raises on its fifth call", lambda: _raises_on_call(5)),
    ("NaN for finite Z", lambda: lambda Z: (jnp.log(Z), Z)),
    ("inf for finite Z", lambda: lambda Z: (Z / 0, Z)),
    ("the 2 x 3 probe's shape only", lambda: _shaped_for((2, 3))),
    ("transposed", lambda: lambda Z: (Z.T, Z)),
    ("float64 for float32", lambda: lambda Z: (Z * np.float64(2), Z)),
    ("float16", lambda: lambda Z: (Z.astype(jnp.float16), Z)),
    ("a Python number", lambda: lambda Z: (1.0, Z)),
]]
USER_BACKWARD_FAULTS = [(label, lambda v, p, make=make: make()) for label, make in [
    ("calls numpy on dA", lambda: lambda dA, Z: np.asarray(dA) * Z),
    ("NaN", lambda: lambda dA, Z: dA * jnp.log(Z)),
    ("the 2 x 3 probe's shape only", lambda: lambda dA, Z: jnp.zeros((2, 3), Z.dtype)),
    ("float64 for float32", lambda: lambda dA, Z: dA * np.float64(2)),
]]
HAND_BUILT_FAULTS = [
    (f"by hand: forward {label}", lambda v, p, make=make: jaxdnn.Activation(
        make(v, p), lambda dA, Z: dA)) for label, make in USER_FORWARD_FAULTS] + [
    (f"by hand: backward {label}", lambda v, p, make=make: jaxdnn.Activation(
        lambda Z: (Z, Z), make(v, p))) for label, make in USER_BACKWARD_FAULTS] + [
    ("by hand: a built-in name", lambda v, p: jaxdnn.Activation(lambda Z: (Z, Z),
                                                                lambda dA, Z: dA, "relu")),
    ("by hand: not functions", lambda v, p: jaxdnn.Activation("relu", None)),
]


def _bytes_file(content):
    folder = tempfile.mkdtemp(prefix="jaxdnn-fuzz-")
    path = os.path.join(folder, "model.npz")
    with open(path, "wb") as f:
        f.write(content)
    return path


def _npz_file(**arrays):
    path = _bytes_file(b"")
    np.savez(path, **arrays)
    return path


PATH_FAULTS = [
    ("missing", lambda v, p: "/nonexistent/model.npz"),
    ("a folder", lambda v, p: tempfile.mkdtemp(prefix="jaxdnn-fuzz-")),
    ("empty file", lambda v, p: _bytes_file(b"")),
    ("random bytes", lambda v, p: _bytes_file(p.rng.bytes(200))),
    ("PNG header", lambda v, p: _bytes_file(b"\x89PNG\r\n\x1a\n" + p.rng.bytes(64))),
    ("foreign npz", lambda v, p: _npz_file(weights=np.ones(3))),
    ("npy", lambda v, p: (lambda path: (np.save(path, np.ones(3)), path + ".npy")[1])(
        _bytes_file(b""))),
]


def _model_file(p, edit, checkpoint=False):
    """The problem's parameters saved as a model file (or a checkpoint at iteration 3), its
    metadata then replaced by ``edit(meta)``: a dict, or the JSON text itself."""
    path = os.path.join(tempfile.mkdtemp(prefix="jaxdnn-fuzz-"), "m.npz")
    if checkpoint:
        jaxdnn.save_checkpoint(path, _train_state(p)._replace(iteration=3), np.ones(3))
    else:
        jaxdnn.save_model(path, p.parameters)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    new = edit(json.loads(str(arrays["__metadata__"])))
    arrays["__metadata__"] = np.array(new if isinstance(new, str) else json.dumps(new))
    np.savez(path, **arrays)
    return path


def _raw_entry(key, text):
    """An edit setting the metadata's ``key`` to the raw JSON ``text``."""
    return lambda meta: json.dumps({k: v for k, v in meta.items() if k != key})[:-1] \
        + f', "{key}": {text}}}'


def _meta_fault(edit):
    return lambda v, p: lambda meta: edit(meta, p)


METADATA_FIELD_FAULTS = [(label, _meta_fault(edit)) for label, edit in [
    ("a 5000-digit integer", lambda m, p: _raw_entry("note", "7" * 5000)(m)),
    ("an integer past int64", lambda m, p: _raw_entry("note", str(-(2**64)))(m)),
    ("NaN", lambda m, p: _raw_entry("note", "NaN")(m)),
    ("Infinity", lambda m, p: _raw_entry("note", "Infinity")(m)),
    ("1e999", lambda m, p: _raw_entry("note", "1e999")(m)),
    ("format version of 5000 digits", lambda m, p: _raw_entry("format_version", "1" * 5000)(m)),
    ("format version text", lambda m, p: {**m, "format_version": "1"}),
    ("dtype another", lambda m, p: {**m, "dtype": "float32"}),
    ("dtype missing", lambda m, p: _without(m, "dtype")),
    ("dtype a list", lambda m, p: {**m, "dtype": ["float64"]}),
    ("layer sizes one wider", lambda m, p: {**m, "layer_dims": [m["layer_dims"][0] + 1,
                                                                 *m["layer_dims"][1:]]}),
    ("layer sizes one layer more", lambda m, p: {**m, "layer_dims": m["layer_dims"] + [1]}),
    ("layer sizes of 30 digits", lambda m, p: _raw_entry("layer_dims", "[" + "9" * 30 + "]")(m)),
    ("layer sizes as floats", lambda m, p: {**m, "layer_dims": [float(n)
                                                                for n in m["layer_dims"]]}),
    ("layer sizes as text", lambda m, p: {**m, "layer_dims": str(m["layer_dims"])}),
    ("layer sizes missing", lambda m, p: _without(m, "layer_dims")),
    ("not an object", lambda m, p: json.dumps(list(m))),
]]
CHECKPOINT_FIELD_FAULTS = METADATA_FIELD_FAULTS + [(label, _meta_fault(edit)) for label, edit in [
    ("iteration of 5000 digits", lambda m, p: _raw_entry("iteration", "3" * 5000)(m)),
    ("iteration past MAX_COSTS", lambda m, p: {**m, "iteration": 2**40}),
    ("iteration negative", lambda m, p: {**m, "iteration": -3}),
    ("iteration a float", lambda m, p: {**m, "iteration": 3.0}),
    ("iteration text", lambda m, p: {**m, "iteration": "3"}),
    ("iteration a bool", lambda m, p: {**m, "iteration": True}),
    ("iteration one more than the costs", lambda m, p: {**m, "iteration": 4}),
    ("optimiser arrays missing", lambda m, p: _without(m, "opt_state_leaves")),
    ("optimiser arrays negative", lambda m, p: {**m, "opt_state_leaves": -1}),
    ("optimiser arrays of 5000 digits", lambda m, p: _raw_entry("opt_state_leaves",
                                                                "1" * 5000)(m)),
]]
METADATA_NAMES = r"m\.npz: .*(metadata|format version|layer sizes|dtype|costs)"


def _h5_file(contents, name="examples.h5"):
    """An h5 file holding ``contents`` (data set name -> array, or a :func:`_stored` writer)."""
    path = os.path.join(tempfile.mkdtemp(prefix="jaxdnn-fuzz-"), name)
    with h5py.File(path, "w") as f:
        for key, value in contents.items():
            if callable(value):
                value(f, key)
            else:
                f[key] = value
    return path


def _stored(kind, value):
    """A writer of ``value`` stored the hostile way ``kind`` (``h5_storage``), pointing into a
    folder of its own. A FIFO is left out: a regression would hang the fuzzer, not fail it
    (``test_data`` tries one in a child process)."""
    return lambda f, key: STORAGE[kind](f, key, value, tempfile.mkdtemp(prefix="jaxdnn-fuzz-"))


STORAGE_KINDS = [kind for kind in STORAGE if "FIFO" not in kind]


def _h5_contents(p):
    """The problem's examples, twice over (m >= 2, so a batch can be smaller than m), in the
    layout H5Examples reads: x (m, n[0]), y (m, n[L])."""
    return {"x": np.hstack([p.X, p.X]).T, "y": np.hstack([p.Y, p.Y]).T}


def _h5_examples(p):
    return jaxdnn.H5Examples(_h5_file(_h5_contents(p)), "x", "y")


def _content_fault(key, make):
    return lambda v, p: {**v, key: make(v[key], p)}


H5_CONTENT_FAULTS = [
    ("x 1-D", _content_fault("x", lambda v, p: v[:, 0])),
    ("x no rows", _content_fault("x", lambda v, p: v[:0])),
    ("x int16", _content_fault("x", lambda v, p: v.astype(np.int16))),
    ("x complex", _content_fault("x", lambda v, p: v.astype(np.complex128))),
    ("x text", _content_fault("x", lambda v, p: v.astype("S8"))),
    ("y one label more", _content_fault("y", lambda v, p: np.vstack([v, v[:1]]))),
    ("y 3-D", _content_fault("y", lambda v, p: v[:, None])),
    ("y text", _content_fault("y", lambda v, p: v.astype("S8"))),
    ("y NaN", _content_fault("y", lambda v, p: np.where(np.arange(len(v))[:, None] == 0,
                                                         np.nan, v))),
    ("no y", lambda v, p: {"x": v["x"]}),
] + [(f"{key} {kind}", _content_fault(key, lambda v, p, kind=kind: _stored(kind, v)))
     for key in "xy" for kind in STORAGE_KINDS]


def _cat_folder(p, train_x):
    """A data folder of the cat files' layout: ``train_x`` (of :func:`_images`' m), test images
    of :func:`_images`; labels alternate 0, 1."""
    folder = tempfile.mkdtemp(prefix="jaxdnn-fuzz-")
    for split, x in (("train", train_x), ("test", _images(p))):
        contents = {f"{split}_set_x": x, f"{split}_set_y": np.arange(p.X.shape[1] + 2) % 2,
                    "list_classes": np.array([b"non-cat", b"cat"])}
        os.replace(_h5_file(contents, "split.h5"),
                   os.path.join(folder, f"{split}_catvnoncat.h5"))
    return folder


def _images(p, shape=None):
    """m = 2 + the problem's examples, of 4 x 4 RGB pixels (or ``shape``) drawn by its rng."""
    return p.rng.randint(0, 256, shape or (p.X.shape[1] + 2, 4, 4, 3)).astype(np.uint8)


CAT_FAULTS = [(f"train_set_x {kind}", lambda v, p, kind=kind: _stored(kind, v))
              for kind in STORAGE_KINDS] + [
    ("not square", lambda v, p: _images(p, (len(v), 4, 5, 3))),
    ("greyscale", lambda v, p: _images(p, (len(v), 4, 4, 1))),
    ("RGBA", lambda v, p: _images(p, (len(v), 4, 4, 4))),
]
H5_NAME_FAULTS = [(label, lambda v, p, x=x: x) for label, x in [
    ("missing", "nope"), ("None", None), ("a number", 3), ("a list", ["x"])]]
H5_LABEL_FAULTS = [
    ("label 2", lambda v, p: _h5_with(p, y=np.full((2 * p.X.shape[1], p.Y.shape[0]), 2))),
    ("label 0.5", lambda v, p: _h5_with(p, y=np.full((2 * p.X.shape[1], p.Y.shape[0]), 0.5))),
    ("one label column more", lambda v, p: _h5_with(p, y=np.zeros((2 * p.X.shape[1],
                                                                  p.Y.shape[0] + 1)))),
    ("one feature more", lambda v, p: _h5_with(p, x=np.ones((2 * p.X.shape[1],
                                                              p.X.shape[0] + 1)))),
    ("a path", lambda v, p: v.path), ("None", lambda v, p: None),
]


def _h5_with(p, **replace):
    return jaxdnn.H5Examples(_h5_file({**_h5_contents(p), **replace}), "x", "y")


# --- the public API: name -> (call, arguments of a valid call, {argument: (faults, names)}) ----

def fuzz_target(call, arguments, **slots):
    return call, arguments, slots


PARAMS = (PARAMETER_FAULTS, r"\b[Wb]\d+\b|parameters")
STATIC_PARAMS = (static_faults(PARAMETER_FAULTS), PARAMS[1])
HIDDEN = (ACTIVATION_FAULTS, r"activation")


def _linear_cache(p):
    return p.caches[0][0]


def _softmax_head(p):
    """The problem's network with its output layer replaced by a softmax head of 3 classes."""
    n_prev = p.parameters[f"W{p.L}"].shape[1]
    return {**p.parameters, f"W{p.L}": p.rng.randn(3, n_prev) * 0.5, f"b{p.L}": np.zeros((3, 1))}


def _two_layers(p):
    """A one-hidden-layer network (the planar assignment's) on the problem's inputs."""
    return {"W1": p.rng.randn(3, p.X.shape[0]), "b1": np.zeros((3, 1)),
            "W2": p.rng.randn(1, 3), "b2": np.zeros((1, 1))}


def _stack(p):
    """Two models of the problem's network, the second one unit wider in its first layer when
    it has a hidden layer (so the stack pads)."""
    wider = dict(p.parameters)
    if p.L > 1:
        wider["W1"], wider["b1"] = _grow(wider["W1"]), _grow(wider["b1"])
        wider["W2"] = np.hstack([wider["W2"], wider["W2"][:, :1]])
    return jaxdnn.stack_models([p.parameters, wider])


def _train_state(p):
    return jaxdnn.init_train_state(p.parameters)


TARGETS = {
    "linear_forward": fuzz_target(
        lambda a: jaxdnn.linear_forward(a["A"], a["W"], a["b"]),
        lambda p: {"A": p.X, "W": p.parameters["W1"], "b": p.parameters["b1"]},
        A=(array_faults(cols=False, values=False), r"\bA\b"),
        W=(array_faults(floating=True, values=False), r"\bW\b"),
        b=(array_faults(floating=True, values=False), r"\bb\b")),
    "linear_activation_forward": fuzz_target(
        lambda a: jaxdnn.linear_activation_forward(a["A_prev"], a["W"], a["b"], a["activation"]),
        lambda p: {"A_prev": p.X, "W": p.parameters["W1"], "b": p.parameters["b1"],
                   "activation": "tanh"},
        A_prev=(array_faults(cols=False, values=False), r"\bA_prev\b"),
        W=(array_faults(floating=True, values=False), r"\bW\b"),
        activation=(ACTIVATION_FAULTS[:4], "activation")),
    "linear_backward": fuzz_target(
        lambda a: jaxdnn.linear_backward(a["dZ"], a["cache"]),
        lambda p: {"dZ": np.ones(p.caches[0][1].shape), "cache": _linear_cache(p)},
        dZ=(array_faults(values=False), r"\bdZ\b"),
        cache=(static_faults(LINEAR_CACHE_FAULTS), r"cache|A_prev|\bW\b|\bb\b")),
    "linear_activation_backward": fuzz_target(
        lambda a: jaxdnn.linear_activation_backward(a["dA"], a["cache"], a["activation"]),
        lambda p: {"dA": np.ones(p.caches[0][1].shape), "cache": p.caches[0],
                   "activation": "relu"},
        dA=(array_faults(floating=True, values=False), r"\bdA\b"),
        cache=(static_faults(ACTIVATION_CACHE_FAULTS), r"cache|\bZ\b|A_prev|\bb\b"),
        activation=(ACTIVATION_FAULTS[:4], "activation")),
    "L_model_forward": fuzz_target(
        lambda a: jaxdnn.L_model_forward(a["X"], a["parameters"], a["hidden_activation"]),
        lambda p: {"X": p.X, "parameters": p.parameters, "hidden_activation": "relu"},
        X=(array_faults(cols=False, values=False), r"\bX\b"), parameters=STATIC_PARAMS,
        hidden_activation=HIDDEN),
    "compute_cost": fuzz_target(
        lambda a: jaxdnn.compute_cost(a["AL"], a["Y"]),
        lambda p: {"AL": p.AL, "Y": p.Y},
        AL=(array_faults(probabilities="range"), r"\bAL\b"),
        Y=(array_faults(labels=True), r"\bY\b")),
    "compute_cost_from_logits": fuzz_target(
        lambda a: jaxdnn.compute_cost_from_logits(a["ZL"], a["Y"]),
        lambda p: {"ZL": p.caches[-1][1], "Y": p.Y},
        ZL=(array_faults(), r"\bZL\b"), Y=(array_faults(labels=True), r"\bY\b")),
    "L_model_backward": fuzz_target(
        lambda a: jaxdnn.L_model_backward(a["AL"], a["Y"], a["caches"], a["hidden_activation"],
                                          dA_from=a["dA_from"]),
        lambda p: {"AL": p.AL, "Y": p.Y, "caches": p.caches, "hidden_activation": "relu",
                   "dA_from": 1},
        dA_from=([(label, lambda v, p, x=x: x) for label, x in [
            ("two", 2), ("negative", -1), ("a bool", True), ("text", "0"), ("None", None)]],
            "dA_from"),
        AL=(array_faults(probabilities="saturation"), r"\bAL\b"),
        Y=(array_faults(labels=True), r"\bY\b"),
        caches=(CACHES_FAULTS, r"cache"), hidden_activation=HIDDEN),
    "update_parameters": fuzz_target(
        lambda a: jaxdnn.update_parameters(a["parameters"], a["grads"], a["learning_rate"]),
        lambda p: {"parameters": p.parameters, "grads": p.grads, "learning_rate": 0.1},
        parameters=STATIC_PARAMS, grads=(static_faults(GRADS_FAULTS), r"\bd[Wb]\d+\b|grads"),
        learning_rate=(RATE_FAULTS, "learning_rate")),
    "cost_and_grads": fuzz_target(
        lambda a: jaxdnn.cost_and_grads(a["X"], a["Y"], a["parameters"], a["hidden_activation"]),
        lambda p: {"X": p.X, "Y": p.Y, "parameters": p.parameters, "hidden_activation": "relu"},
        X=(array_faults(cols=False), r"\bX\b"), Y=(array_faults(labels=True), r"\bY\b"),
        parameters=PARAMS, hidden_activation=HIDDEN),
    "fit(output=softmax)": fuzz_target(
        lambda a: jaxdnn.fit(**a),
        lambda p: {"X": p.X, "Y": p.rng.randint(0, 3, size=(1, p.X.shape[1])),
                   "parameters": _softmax_head(p), "output": "softmax", "num_iterations": 2},
        Y=(SOFTMAX_LABEL_FAULTS, r"\bY\b"),
        parameters=([("K = 1", lambda v, p: {**v, f"W{p.L}": v[f"W{p.L}"][:1],
                                             f"b{p.L}": v[f"b{p.L}"][:1]})], "parameters"),
        output=(OUTPUT_FAULTS, "output")),
    "compute_cost(output=softmax)": fuzz_target(
        lambda a: jaxdnn.compute_cost(a["AL"], a["Y"], output="softmax"),
        lambda p: {"AL": np.full((3, p.X.shape[1]), 1 / 3),
                   "Y": p.rng.randint(0, 3, size=(1, p.X.shape[1]))},
        # AL with one row more is a valid 4-class problem; 1 is a softmax's certainty
        AL=([fault for fault in array_faults(rows=False, probabilities="range")
             if fault[0] != "saturated at 1"], r"\bAL\b"),
        Y=(SOFTMAX_LABEL_FAULTS, r"\bY\b")),
    "fit": fuzz_target(
        lambda a: jaxdnn.fit(**a),
        lambda p: {"X": p.X, "Y": p.Y, "parameters": p.parameters, "hidden_activation": "relu",
                   "learning_rate": 0.1, "num_iterations": 2, "momentum": 0.0,
                   "optimizer": None, "gram": "auto"},
        X=(array_faults(), r"\bX\b"), Y=(array_faults(labels=True), r"\bY\b"),
        parameters=PARAMS, hidden_activation=HIDDEN,
        learning_rate=(TRAINING_RATE_FAULTS, "learning_rate"),
        num_iterations=(ITERATION_FAULTS, "num_iterations"),
        schedule=(SCHEDULE_FAULTS, "schedule"), decay_steps=(STEP_FAULTS, "decay_steps"),
        warmup_steps=(COUNT_FAULTS, "warmup_steps"),
        validation_fraction=(FRACTION_FAULTS, "validation_fraction"),
        patience=(STEP_FAULTS, "patience"), min_delta=(DELTA_FAULTS, "min_delta"),
        validation_data=(VALIDATION_FAULTS, "validation_data"),
        momentum=(MOMENTUM_FAULTS, "momentum"), optimizer=(OPTIMIZER_FAULTS, "optimizer"),
        gram=(GRAM_FAULTS, "gram"), on_cost=(ON_COST_FAULTS, "on_cost"),
        output=(OUTPUT_FAULTS, "output"), lambd=(LAMBD_FAULTS, "lambd"),
        mesh=(MESH_FAULTS, r"mesh|devices")),
    "data_mesh": fuzz_target(
        lambda a: jaxdnn.data_mesh(a["devices"]), lambda p: {"devices": 1},
        devices=(DEVICES_FAULTS, "devices")),
    "local_columns": fuzz_target(
        lambda a: jaxdnn.local_columns(a["m"], a["mesh"]),
        lambda p: {"m": p.X.shape[1], "mesh": 1},
        m=(static_faults(COUNT_FAULTS), r"\bm\b"), mesh=(MESH_FAULTS, r"mesh|devices")),
    "fit(mini-batches)": fuzz_target(
        lambda a: jaxdnn.fit(**a),
        lambda p: {"X": p.X, "Y": p.Y, "parameters": p.parameters, "mini_batch_size": 1,
                   "num_epochs": 1, "key": jax.random.PRNGKey(0), "monitor": [(p.X, p.Y)]},
        mini_batch_size=(MINI_BATCH_FAULTS, "mini_batch_size"),
        num_epochs=(ITERATION_FAULTS, "num_epochs"), monitor=(MONITOR_FAULTS, r"monitor")),
    "fit(keep_prob)": fuzz_target(
        lambda a: jaxdnn.fit(**a),
        lambda p: {"X": p.X, "Y": p.Y[:1], "parameters": _two_layers(p), "keep_prob": 0.8,
                   "key": jax.random.PRNGKey(0), "num_iterations": 2},
        keep_prob=([(label, lambda v, p, x=x: x) for label, x in [
            ("zero", 0.0), ("above 1", 1.5), ("negative", -0.2), ("NaN", float("nan")),
            ("text", "0.8"), ("None", None), ("two for one hidden layer", (0.5, 0.5)),
            ("a bool", True)]], "keep_prob"),
        key=([(label, lambda v, p, x=x: x) for label, x in [
            ("None", None), ("an int", 5), ("text", "key"), ("float array", jnp.zeros(2))]],
             r"\bkey\b")),
    "stack_models": fuzz_target(
        lambda a: jaxdnn.stack_models(a["models"]),
        lambda p: {"models": [p.parameters, dict(p.parameters)]},
        models=(MODELS_FAULTS, STACK_NAMES)),
    "unstack_models": fuzz_target(
        lambda a: jaxdnn.unstack_models(a["stack"]),
        lambda p: {"stack": _stack(p)}, stack=(static_faults(STACK_FAULTS), STACK_NAMES)),
    "fit (float32)": fuzz_target(
        lambda a: jaxdnn.fit(**a),
        lambda p: {"X": p.X, "Y": p.Y, "parameters": {k: np.asarray(v, np.float32)
                                                     for k, v in p.parameters.items()},
                   "num_iterations": 2},
        X=(array_faults() + BEYOND_FLOAT32, r"\bX\b"), mesh=(MESH_FAULTS, r"mesh|devices")),
    "fit_many": fuzz_target(
        lambda a: jaxdnn.fit_many(**a),
        lambda p: {"X": p.X, "Y": p.Y, "stack": _stack(p), "hidden_activation": "relu",
                   "learning_rate": [0.1, 0.2], "num_iterations": 2, "momentum": 0.0,
                   "lambd": 0.0},
        X=(array_faults(), r"\bX\b"), Y=(array_faults(labels=True), r"\bY\b"),
        stack=(STACK_FAULTS, STACK_NAMES), hidden_activation=HIDDEN,
        learning_rate=(PER_MODEL_RATE_FAULTS, "learning_rate"),
        num_iterations=([fault for fault in COUNT_FAULTS if fault[0] != "None"],  # the default
                        "num_iterations"),
        momentum=(MOMENTUM_FAULTS + [("one of two is 1", lambda v, p: [0.5, 1.0])], "momentum"),
        lambd=([fault for fault in LAMBD_FAULTS if fault[0] != "an array"], "lambd"),
        output=(OUTPUT_FAULTS, "output"), optimizer=(OPTIMIZER_FAULTS, "optimizer"),
        on_cost=(ON_COST_FAULTS, "on_cost"),
        print_cost=([("True: no one cost", lambda v, p: True), ("a string", lambda v, p: "yes"),
                     ("a number", lambda v, p: 1)], "print_cost")),
    "fit_many(keep_prob)": fuzz_target(
        lambda a: jaxdnn.fit_many(**a),
        lambda p: {"X": p.X, "Y": p.Y[:1], "stack": jaxdnn.stack_models([_two_layers(p)] * 2),
                   "keep_prob": [0.8, 1.0], "key": jax.random.PRNGKey(0), "num_iterations": 2},
        keep_prob=([(label, lambda v, p, x=x: x) for label, x in [
            ("zero", 0.0), ("above 1", 1.5), ("NaN", float("nan")), ("text", "0.8"),
            ("None", None), ("three for two models", (0.5, 0.5, 0.5)), ("a bool", True),
            ("one of two zero", [0.5, 0.0])]], "keep_prob"),
        key=([(label, lambda v, p, x=x: x) for label, x in [
            ("None", None), ("an int", 5), ("text", "key"), ("float array", jnp.zeros(2)),
            ("three keys for two models", jax.random.split(jax.random.PRNGKey(0), 3))]],
             r"\bkey\b")),
    "predict_labels_many": fuzz_target(
        lambda a: jaxdnn.predict_labels_many(a["X"], a["stack"], a["hidden_activation"]),
        lambda p: {"X": p.X, "stack": _stack(p), "hidden_activation": "relu"},
        X=(array_faults(cols=False), r"\bX\b"), stack=(STACK_FAULTS, STACK_NAMES),
        hidden_activation=HIDDEN),
    "compute_cost_with_regularization": fuzz_target(
        lambda a: jaxdnn.compute_cost_with_regularization(a["AL"], a["Y"], a["parameters"],
                                                          a["lambd"]),
        lambda p: {"AL": p.AL, "Y": p.Y, "parameters": p.parameters, "lambd": 0.1},
        AL=(array_faults(probabilities="range"), r"\bAL\b"),
        Y=(array_faults(labels=True), r"\bY\b"), parameters=STATIC_PARAMS,
        lambd=(LAMBD_FAULTS, "lambd")),
    "train_steps": fuzz_target(
        lambda a: jaxdnn.train_steps(**a),
        lambda p: {"X": p.X, "Y": p.Y, "state": _train_state(p), "num_iterations": 2},
        X=(array_faults(), r"\bX\b"), Y=(array_faults(labels=True), r"\bY\b"),
        state=(STATE_FAULTS, r"state|\bb1\b"),
        num_iterations=(COUNT_FAULTS, "num_iterations"), mesh=(MESH_FAULTS, r"mesh|devices"),
        compiled_length=(ITERATION_FAULTS + [("shorter than num_iterations", lambda v, p: 1)],
                         "compiled_length")),
    "init_train_state": fuzz_target(
        lambda a: jaxdnn.init_train_state(a["parameters"], momentum=a["momentum"],
                                          optimizer=a["optimizer"]),
        lambda p: {"parameters": p.parameters, "momentum": 0.0, "optimizer": None},
        parameters=PARAMS, momentum=(MOMENTUM_FAULTS, "momentum"),
        optimizer=(OPTIMIZER_FAULTS, "optimizer")),
    "save_checkpoint": fuzz_target(
        lambda a: jaxdnn.save_checkpoint(a["path"], a["state"], a["costs"]),
        lambda p: {"path": os.path.join(tempfile.mkdtemp(prefix="jaxdnn-fuzz-"), "c.npz"),
                   "state": _train_state(p)._replace(iteration=3), "costs": np.ones(3)},
        state=(STATE_FAULTS[:4], "state"), costs=(COSTS_FAULTS, "costs")),
    "load_checkpoint": fuzz_target(
        lambda a: jaxdnn.load_checkpoint(a["path"] or _model_file(a["problem"], a["metadata"],
                                                                  checkpoint=True), None),
        lambda p: {"path": None, "metadata": lambda meta: meta, "problem": p},
        path=(PATH_FAULTS, r"model|\.npz|\.npy|jaxdnn"),
        metadata=(CHECKPOINT_FIELD_FAULTS, METADATA_NAMES)),
    "L_layer_model": fuzz_target(
        lambda a: jaxdnn.L_layer_model(**a),
        lambda p: {"X": p.X, "Y": p.Y, "layers_dims": [p.X.shape[0], 3, p.Y.shape[0]],
                   "num_iterations": 2, "learning_rate": 0.1, "init": "he", "seed": 0},
        X=(array_faults(), r"\bX\b"), Y=(array_faults(labels=True), r"\bY\b"),
        layers_dims=(LAYER_DIMS_FAULTS, "layer_dims"),
        num_iterations=(COUNT_FAULTS, "num_iterations"),
        learning_rate=(TRAINING_RATE_FAULTS, "learning_rate"), init=(SCHEME_FAULTS, "scheme"),
        seed=(SEED_FAULTS[:1] + SEED_FAULTS[2:], "seed")),
    "nn_model": fuzz_target(
        lambda a: jaxdnn.nn_model(**a),
        lambda p: {"X": p.X, "Y": p.Y, "n_h": 3, "num_iterations": 2},
        X=(array_faults(rows=False), r"\bX\b"),
        Y=(array_faults(rows=False, labels=True), r"\bY\b"),
        n_h=(N_H_FAULTS, "n_h"), num_iterations=(COUNT_FAULTS, "num_iterations")),
    "predict_proba": fuzz_target(
        lambda a: jaxdnn.predict_proba(a["X"], a["parameters"], a["hidden_activation"]),
        lambda p: {"X": p.X, "parameters": p.parameters, "hidden_activation": "relu"},
        X=(array_faults(cols=False), r"\bX\b"), parameters=PARAMS, hidden_activation=HIDDEN),
    "predict_labels": fuzz_target(
        lambda a: jaxdnn.predict_labels(a["X"], a["parameters"]),
        lambda p: {"X": p.X, "parameters": p.parameters},
        X=(array_faults(cols=False), r"\bX\b"), parameters=PARAMS),
    "predict": fuzz_target(
        lambda a: jaxdnn.predict(a["X"], a["y"], a["parameters"]),
        lambda p: {"X": p.X, "y": p.Y, "parameters": p.parameters},
        X=(array_faults(), r"\bX\b"), y=(array_faults(labels=True), r"\by\b"),
        parameters=PARAMS),
    "accuracy": fuzz_target(
        lambda a: jaxdnn.accuracy(a["p"], a["y"]),
        lambda p: {"p": p.Y[:, ::-1].copy(), "y": p.Y},
        p=(array_faults(labels=True), r"\bp\b"), y=(array_faults(labels=True), r"\by\b")),
    "initialize_parameters_deep": fuzz_target(
        lambda a: jaxdnn.initialize_parameters_deep(**a),
        lambda p: {"layer_dims": [p.X.shape[0], 3, 1], "key": jax.random.PRNGKey(0),
                   "scheme": "he", "dtype": "float64"},
        layer_dims=(LAYER_DIMS_FAULTS, "layer_dims"), key=(KEY_FAULTS, r"\bkey\b"),
        scheme=(SCHEME_FAULTS, "scheme"), dtype=(DTYPE_FAULTS, "dtype")),
    "initialize_parameters_deep(numpy_seed)": fuzz_target(
        lambda a: jaxdnn.initialize_parameters_deep(**a),
        lambda p: {"layer_dims": [p.X.shape[0], 3, 1], "numpy_seed": 1},
        numpy_seed=(SEED_FAULTS, "numpy_seed")),
    "autodiff_errors": fuzz_target(
        lambda a: jaxdnn.autodiff_errors(a["X"], a["Y"], a["parameters"], floor=a["floor"]),
        lambda p: {"X": p.X, "Y": p.Y, "parameters": p.parameters, "floor": 1e-6},
        X=(array_faults(), r"\bX\b"), Y=(array_faults(labels=True), r"\bY\b"),
        parameters=PARAMS, floor=(FLOOR_FAULTS, "floor")),
    "transpose_errors": fuzz_target(
        lambda a: jaxdnn.transpose_errors(a["X"], a["Y"], a["parameters"],
                                          tangents=a["tangents"], floor=a["floor"]),
        lambda p: {"X": p.X, "Y": p.Y, "parameters": p.parameters, "tangents": 2,
                   "floor": 0.0},
        X=(array_faults(), r"\bX\b"), Y=(array_faults(labels=True), r"\bY\b"),
        parameters=PARAMS, tangents=(ITERATION_FAULTS, "tangents"),
        floor=(FLOOR_FAULTS, "floor")),
    "network_cost": fuzz_target(
        lambda a: jaxdnn.network_cost(a["X"], a["Y"], a["parameters"], a["hidden_activation"],
                                      lambd=a["lambd"]),
        lambda p: {"X": p.X, "Y": p.Y, "parameters": p.parameters, "hidden_activation": "relu",
                   "lambd": 0.0},
        X=(array_faults(), r"\bX\b"), Y=(array_faults(labels=True), r"\bY\b"),
        parameters=PARAMS, hidden_activation=HIDDEN, lambd=(LAMBD_FAULTS, "lambd")),
    "random_mini_batches": fuzz_target(
        lambda a: jaxdnn.random_mini_batches(a["X"], a["Y"], a["mini_batch_size"], a["key"]),
        lambda p: {"X": p.X, "Y": p.Y, "mini_batch_size": 1, "key": 0},
        X=(array_faults(rows=False, values=False), r"\bX\b"),
        mini_batch_size=(MINI_BATCH_FAULTS, "mini_batch_size"),
        key=([("negative", lambda v, p: -1), ("text", lambda v, p: "0"),
              ("a float", lambda v, p: 0.5)], "key")),
    "gradient_check": fuzz_target(
        lambda a: jaxdnn.gradient_check(a["parameters"], a["X"], a["Y"]),
        lambda p: {"X": p.X, "Y": p.Y, "parameters": p.parameters},
        X=(array_faults(), r"\bX\b"), Y=(array_faults(labels=True), r"\bY\b"),
        parameters=PARAMS),
    "H5Examples": fuzz_target(
        lambda a: jaxdnn.H5Examples(a["path"] or _h5_file(a["contents"]), a["x"], a["y"]),
        lambda p: {"path": None, "contents": _h5_contents(p), "x": "x", "y": "y"},
        path=(PATH_FAULTS, r"HDF5|data file|regular file"),
        contents=(H5_CONTENT_FAULTS, r"'[xy]' in|data set '[xy]'"),
        x=(H5_NAME_FAULTS, r"\bx\b|'nope'"), y=(H5_NAME_FAULTS, r"\by\b|'nope'")),
    "load_data": fuzz_target(
        lambda a: jaxdnn.load_data(_cat_folder(a["problem"], a["train_set_x"])),
        lambda p: {"train_set_x": _images(p), "problem": p},
        train_set_x=(CAT_FAULTS, r"'train_set_x'")),
    "fit_stream": fuzz_target(
        lambda a: jaxdnn.fit_stream(**a),
        lambda p: {"examples": _h5_examples(p), "parameters": p.parameters,
                   "mini_batch_size": 1, "num_epochs": 1, "key": jax.random.PRNGKey(0),
                   "learning_rate": 0.1, "momentum": 0.0, "optimizer": None, "lambd": 0.0,
                   "on_cost": None, "output": "sigmoid", "chunk_bytes": 2**20},
        examples=(H5_LABEL_FAULTS, r"examples|'[xy]' in|W1"),
        parameters=PARAMS, hidden_activation=HIDDEN,
        mini_batch_size=([fault for fault in MINI_BATCH_FAULTS if fault[0] != "more than m"]
                         + [("m", lambda v, p: 2 * p.X.shape[1]), ("None", lambda v, p: None)],
                         "mini_batch_size"),
        num_epochs=(COUNT_FAULTS, "num_epochs"), key=(KEY_FAULTS, "key"),
        learning_rate=(TRAINING_RATE_FAULTS, "learning_rate"),
        momentum=(MOMENTUM_FAULTS, "momentum"),
        optimizer=(OPTIMIZER_FAULTS, "optimizer"), lambd=(LAMBD_FAULTS, "lambd"),
        on_cost=(ON_COST_FAULTS, "on_cost"), output=(OUTPUT_FAULTS, "output"),
        chunk_bytes=([fault for fault in COUNT_FAULTS if fault[0] != "None"]
                     + [("zero", lambda v, p: 0)], "chunk_bytes")),
    "save_model": fuzz_target(
        lambda a: jaxdnn.save_model(a["path"], a["parameters"], a["metadata"]),
        lambda p: {"path": os.path.join(tempfile.mkdtemp(prefix="jaxdnn-fuzz-"), "m.npz"),
                   "parameters": p.parameters, "metadata": {"note": "fuzz"}},
        parameters=PARAMS, metadata=(METADATA_FAULTS, "metadata")),
    "load_model": fuzz_target(
        lambda a: jaxdnn.load_model(a["path"] or _model_file(a["problem"], a["metadata"])),
        lambda p: {"path": None, "metadata": lambda meta: meta, "problem": p},
        path=(PATH_FAULTS, r"model|\.npz|\.npy|jaxdnn"),
        metadata=(METADATA_FIELD_FAULTS, METADATA_NAMES)),
    "load_dataset": fuzz_target(
        lambda a: jaxdnn.load_dataset(a["name"], a["seed"]),
        lambda p: {"name": "moons", "seed": 3},
        name=(DATASET_FAULTS, "data set"), seed=(SEED_FAULTS, "seed")),
    "flatten_images": fuzz_target(
        lambda a: jaxdnn.flatten_images(a["x_orig"]),
        lambda p: {"x_orig": np.zeros((2, 4, 4, 3), np.uint8)},
        x_orig=([(label, make) for label, make in array_faults(rows=False, cols=False)
                 if label in ("1-D", "0-D", "NaN", "complex", "text", "nested list", "None")],
                "x_orig")),
    "logistic.propagate": fuzz_target(
        lambda a: jaxdnn.logistic.propagate(a["w"], a["b"], a["X"], a["Y"]),
        lambda p: {"w": p.parameters["W1"][:1].T.copy(), "b": 0.5, "X": p.X, "Y": p.Y[:1]},
        w=(array_faults(floating=True, cols=False), r"\bw\b"),
        b=(RATE_FAULTS[2:], r"\bb\b"), X=(array_faults(), r"\bX\b"),
        Y=(array_faults(labels=True, rows=False), r"\bY\b")),
    "planar.forward_propagation": fuzz_target(
        lambda a: jaxdnn.planar.forward_propagation(a["X"], a["parameters"]),
        lambda p: {"X": p.X, "parameters": _two_layers(p)},
        X=(array_faults(cols=False, values=False), r"\bX\b"),
        parameters=([(label, lambda v, p, make=make: make(v, p._replace(parameters=v)))
                     for label, make in STATIC_PARAMS[0]], STATIC_PARAMS[1])),
    "planar.backward_propagation": fuzz_target(
        lambda a: jaxdnn.planar.backward_propagation(a["parameters"], a["cache"], a["X"],
                                                     a["Y"]),
        lambda p: {"parameters": _two_layers(p), "X": p.X, "Y": p.Y[:1],
                   "cache": jaxdnn.planar.forward_propagation(p.X, _two_layers(p))[1]},
        Y=(array_faults(labels=True), r"\bY\b"),
        cache=([("None", lambda v, p: None), ("no A1", lambda v, p: _without(v, "A1")),
                ("A2 one row more", lambda v, p: {**v, "A2": _grow(v["A2"])})], "cache")),
    "basics.softmax": fuzz_target(
        lambda a: jaxdnn.basics.softmax(a["x"]), lambda p: {"x": p.X},
        x=([(label, make) for label, make in array_faults(values=False)
            if label not in ("0-D", "1-D", "no columns", "one row more", "one column more",
                             "integer dtype", "boolean dtype")], r"\bx\b")),
    "accuracy(num_classes)": fuzz_target(
        lambda a: jaxdnn.accuracy(a["p"], a["y"], a["num_classes"]),
        lambda p: {"p": np.zeros((1, 3)), "y": np.ones((1, 3)), "num_classes": 2},
        num_classes=(COUNT_FAULTS, "num_classes"),
        y=([("class 3 of 2", lambda v, p: v * 3)], r"\by\b")),
    "get_output": fuzz_target(
        lambda a: jaxdnn.get_output(a["output"]), lambda p: {"output": "softmax"},
        output=(OUTPUT_FAULTS, "output")),
    "get_activation": fuzz_target(
        lambda a: jaxdnn.get_activation(a["activation"]), lambda p: {"activation": "relu"},
        activation=(ACTIVATION_FAULTS[:4] + HAND_BUILT_FAULTS, "activation")),
    "epoch_costs": fuzz_target(
        lambda a: jaxdnn.epoch_costs(a["costs"], a["m"], a["mini_batch_size"]),
        lambda p: {"costs": np.linspace(1, 0.5, 2 * p.X.shape[1]), "m": p.X.shape[1],
                   "mini_batch_size": 1},
        costs=([("2-D", lambda v, p: v[None]), ("text", lambda v, p: v.astype(str)),
                ("a list", lambda v, p: list(v)), ("None", lambda v, p: None)], "costs"),
        m=([(label, make) for label, make in COUNT_FAULTS if label != "NaN"]
           + [("zero", lambda v, p: 0)], r"\bm\b"),
        mini_batch_size=(MINI_BATCH_FAULTS, "mini_batch_size")),
    "custom_activation": fuzz_target(
        lambda a: jaxdnn.custom_activation(a["name"], a["forward"], a["backward"]),
        lambda p: {"name": "swish", "forward": lambda Z: (Z * jax.nn.sigmoid(Z), Z),
                   "backward": lambda dA, Z: dA},
        name=([(label, lambda v, p, x=x: x) for label, x in [
            ("built-in", "relu"), ("not an identifier", "my act"), ("empty", ""),
            ("None", None), ("a number", 3)]], "name"),
        forward=([(label, lambda v, p, x=x: x) for label, x in [
            ("not a function", 3), ("returns A only", lambda Z: Z),
            ("raises", lambda Z: 1 / 0), ("returns a triple", lambda Z: (Z, Z, Z))]]
            + USER_FORWARD_FAULTS, "forward|contract"),
        backward=([(label, lambda v, p, x=x: x) for label, x in [
            ("not a function", "dA"), ("wrong arity", lambda dA: dA),
            ("wrong shape", lambda dA, Z: dA[:1])]] + USER_BACKWARD_FAULTS,
            "backward|contract")),
    "check_layer": fuzz_target(
        lambda a: jaxdnn.testing.check_layer(a["forward"], a["backward"], jnp.zeros((3, 4)),
                                             draws=1, shrink=False),
        lambda p: {"forward": lambda x: (jnp.tanh(x), x),
                   "backward": lambda d, x: d * (1 - jnp.tanh(x) ** 2)},
        forward=([(label, lambda v, p, x=x: x) for label, x in [
            ("not a function", 3), ("returns the output only", lambda x: jnp.tanh(x)),
            ("raises", lambda x: 1 / 0), ("returns a triple", lambda x: (x, x, x)),
            ("a matmul of the wrong shapes", lambda x: (x @ x, x))]], "forward"),
        backward=([(label, lambda v, p, x=x: x) for label, x in [
            ("not a function", "dA"), ("wrong arity", lambda d: d),
            ("a matmul of the wrong shapes", lambda d, x: d @ x)]], "backward")),
    "leaky_relu_with": fuzz_target(
        lambda a: jaxdnn.leaky_relu_with(a["slope"]), lambda p: {"slope": 0.1},
        slope=([(label, make) for label, make in RATE_FAULTS
                if label not in ("zero", "negative")], "slope")),
}

for _name in jaxdnn.ACTIVATIONS:  # the checked public faces, jaxdnn.relu, jaxdnn.relu_backward
    _forward, _backward = getattr(jaxdnn, _name), getattr(jaxdnn, f"{_name}_backward")
    TARGETS[f"{_name} forward"] = fuzz_target(
        lambda a, f=_forward: f(a["Z"]), lambda p: {"Z": np.asarray(p.caches[0][1])},
        Z=([(label, make) for label, make in array_faults(rows=False, cols=False, floating=True,
                                                          values=False)
            if label not in ("1-D", "3-D", "0-D", "no columns")], r"\bZ\b"))
    TARGETS[f"{_name} backward"] = fuzz_target(
        lambda a, f=_backward: f(a["dA"], a["cache"]),
        lambda p: {"dA": np.ones(p.caches[0][1].shape), "cache": np.asarray(p.caches[0][1])},
        dA=([(label, make) for label, make in array_faults(floating=True, values=False)
             if label != "no columns"], r"\bdA\b"),
        cache=([(label, make) for label, make in array_faults(floating=True, values=False)
                if label != "no columns"], r"\bdA\b|\bZ\b"))

CASES = [(target, slot, label) for target, (_, _, slots) in TARGETS.items()
         for slot, (faults, _) in slots.items() for label, _ in faults]


def try_every_fault(target, problem, record=True):
    """Call ``target`` once per (argument, fault); each must be refused as documented."""
    call, arguments, slots = TARGETS[target]
    for slot, (faults, names) in slots.items():
        for label, make in faults:
            case = (target, slot, label)
            bad = arguments(problem)
            bad[slot] = make(bad.get(slot), problem)
            try:
                call(bad)
            except JaxdnnError as error:
                assert isinstance(error, DOCUMENTED), f"{case}: {type(error).__mro__}"
                message = str(error)
                assert message and "\n" not in message, case
                assert re.search(names, message), f"{case}: the message does not name it: {error}"
            except Exception as error:
                raise AssertionError(
                    f"{case}: undocumented {type(error).__name__}: {error}") from error
            else:
                raise AssertionError(f"{case}: accepted")
            if record:
                record_fuzz_case(case)


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=EXAMPLES)
@given(problem=fuzz_problems())
def test_malformed_input_gets_a_documented_error_naming_the_argument(target, problem):
    """Every fault of every argument of ``target``, on a random valid problem."""
    try_every_fault(target, problem)


def test_the_catalogue_is_large_and_has_no_duplicates():
    assert len(CASES) == len(set(CASES))
    assert len(TARGETS) >= 39 and len(CASES) >= 1000, (len(TARGETS), len(CASES))


@pytest.mark.parametrize("check, target, case", [
    ("finite", "cost_and_grads", r"\('cost_and_grads', 'X', 'NaN'\): accepted"),
    ("labels", "compute_cost", r"\('compute_cost', 'Y', '(NaN|label 2)'\): accepted"),
    # complex X silently loses its imaginary part: the wrong answer the dtype check prevents
    ("dtype", "L_model_forward", r"\('L_model_forward', 'X', 'complex'\): accepted"),
])
@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_the_fuzzer_fails_when_a_check_is_taken_out(monkeypatch, check, target, case):
    """Fault injection for the fuzzer itself: with one check disabled it reports the case."""
    monkeypatch.setattr(jaxdnn.core.checks, check, lambda *args, **kwargs: None)
    with pytest.raises(AssertionError, match=case):
        try_every_fault(target, make_problem([3, 2, 1], 4, seed=0), record=False)


# --- the command line: one bad option value at a time ---------------------------------------

def _garbage_model():
    return _bytes_file(b"not a model at all")


CLI_FAULTS = {
    "train": {
        "--layers": ["0", "4,0", "a", "", "4,,-1", "1.5", "20;7", "1e10", "1e20", "10000000000",
                     "100000000000000000000"],
        "--learning-rate": ["0", "-1", "nan", "inf", "x", ""],
        "--iterations": ["-1", "1.5", "x", "", "3000000000", "1e10"],
        "--seed": ["-1", "x", "1.5", str(2**40)],
        "--dataset": ["mnist", ""],
        "--hidden-activation": ["swish", "", "nomodule:swish", "json:dumps", "json:nothing_there",
                                "a:b:c", ":x", ".relative:x", "..:x"],
        "--init": ["xavier"],
        "--dtype": ["float16", "", "x64"],
        "--optimizer": ["sgd"],
        "--output": ["tanh", ""],
        "--l2": ["-1", "nan", "inf", "x"],
        "--keep-prob": ["0", "1.5", "-1", "x", ""],
        "--checkpoint-every": ["-1", "x", "3000000000"],
        "--mini-batch-size": ["0", "-1", "x", "1.5", "100000"],
        "--devices": ["0", "-1", "x", "1.5", "100000"],
        "--resume": ["/nonexistent", "<garbage folder>", ""],
        "--data-dir": [""],
        "--frobnicate": ["1"],
    },
    "evaluate": {"--params": ["/nonexistent/model.npz", "<garbage>", "<folder>", "<fifo>"],
                 "--dataset": ["mnist"]},
    "predict": {"--params": ["/nonexistent/model.npz", "<garbage>", "<folder>", "<fifo>"]},
    "sweep": {"--hidden-sizes": ["0", "a", ""],
              "--iterations": ["-1", "x", "1e10", "10000000000"],
              "--seeds": ["0", "-3", "x", "10000000000", "20000"],
              "--learning-rates": ["0", "0.1,-1", "x", "inf"], "--out": ["", "<file>"]},
    "compare": {"--seeds": ["0", "-3", "x"], "--hidden-activation": ["swish", "relu,swish", ""],
                "--learning-rates": ["0", "0.1,-1", "x", "inf"], "--leaky-slope": ["0", "x"],
                "--iterations": ["0", "-1", "3000000000"], "--dataset": ["mnist"],
                "--out": ["", "<file>"]},
    "check": {"--layers": ["0", "a", "100000000", "2000,2000"],
              "--examples": ["0", "x", "1000000000"], "--draws": ["0", "1000000000"],
              "--features": ["100000000000000000000"],
              "--dtype": ["float16"], "--output": ["tanh"], "--hidden-activation": ["swish"],
              "--activation": ["nomodule", "json:dumps", "os:nothing_there", ":x", ".relative:x",
                               "antigravity_nowhere.x:y"]},
}
CLI_CASES = [(command, option, value) for command, options in CLI_FAULTS.items()
             for option, values in options.items() for value in values]


def _cli_value(value):
    if value == "<garbage>":
        return _garbage_model()
    if value == "<folder>":
        return tempfile.mkdtemp(prefix="jaxdnn-fuzz-")
    if value == "<fifo>":  # reading it would wait forever
        path = os.path.join(tempfile.mkdtemp(prefix="jaxdnn-fuzz-"), "model.npz")
        os.mkfifo(path)
        return path
    if value == "<file>":  # in the place of a folder
        return _garbage_model()
    if value == "<garbage folder>":
        path = _garbage_model()
        os.replace(path, os.path.join(os.path.dirname(path), "checkpoint.npz"))
        return os.path.dirname(path)
    return value


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_bad_option_is_one_line_and_exit_2(case, capsys):
    """One line on stderr that names the option or the file, exit code 2, nothing trained."""
    from jaxdnn.app.cli import main

    command, option, value = case
    value = _cli_value(value)
    argv = [command, f"{option}={value}"]
    if command == "predict":
        argv.append(_garbage_model())
    if command == "train":
        argv += ["--out", tempfile.mkdtemp(prefix="jaxdnn-fuzz-") + "/out"]
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    assert code == 2, (case, out, err)
    assert len(err.strip().splitlines()) == 1, (case, err)
    names = [option.lstrip("-").replace("-", "[-_ ]"), "unrecognized"]
    names += [re.escape(value)] if value else []
    assert re.search("|".join(names), err), (case, err)
    assert "Cost after" not in out, case
    record_fuzz_case(("jaxdnn " + command, option, case[2]))
