"""Data parallelism: the examples of X and Y sharded over a 1-D mesh of devices.

The parameters (and the optimiser's state) are replicated; X (n[0], m) and Y (n[L], m) are cut
by columns into one block per device. Under ``jax.jit`` with inputs placed that way XLA
partitions the training loop itself: every product that sums over examples (``dW = dZ A_prev^T
/ m``, ``db = sum(dZ) / m``, the cost) becomes a partial sum per device and an all-reduce, and
the per-example products (``W A``, ``W^T dZ``) stay local. The hand-written backward is
unchanged and its m is the global m (under jit the arrays have their global shape), so the
iterates are one device's up to the order of the sums.

Ragged m. A ``jax.Array`` is sharded in equal blocks, so X and Y are padded with zero columns to
``devices * ceil(m / devices)``; the compiled loop's first operation slices the padding off
(:func:`_unpadded`; the sliced arrays keep their column sharding with a shorter last block,
which XLA handles by masking), so no padded column reaches a sum, a cost or a dropout draw.

Many hosts. Every process runs the same program after ``jax.distributed.initialize``: the mesh
spans the global devices (:func:`data_mesh`), process p holds the global columns
:func:`local_columns` names (all of them when there is one process) and passes those as X and
Y; ``jax.make_array_from_process_local_data`` assembles the global arrays. One process is the
single-host case of the same code.
"""

from functools import partial
from typing import NamedTuple

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ..core import checks as check
from ..core import numeric
from ..errors import InputTypeError, OptionError, ShapeError

AXIS = "examples"
"""The name of the mesh axis that the example columns are sharded over."""


def data_mesh(devices=None):
    """A 1-D mesh (axis ``"examples"``) over the first ``devices`` of ``jax.devices()``: all of
    them by default, across every process after ``jax.distributed.initialize``.

    Raises:
      OptionError: more devices than JAX sees (with the XLA flag that makes CPU devices), or a
        part of the devices in a run of several processes.
    """
    available = jax.device_count()
    n = available if devices is None else numeric.count(devices, "devices")
    if n < 1:
        raise OptionError(f"devices must be at least 1; got {n}")
    if n > available:
        raise OptionError(
            f"devices={n} but JAX sees {available} {jax.default_backend()} device(s); on CPU, "
            f"start the process with XLA_FLAGS=--xla_force_host_platform_device_count={n}")
    if jax.process_count() > 1 and n != available:
        raise OptionError(f"devices={n}: a run of {jax.process_count()} processes shards over "
                          f"all {available} devices (devices=None)")
    return jax.make_mesh((n,), (AXIS,), devices=jax.devices()[:n], axis_types=(AxisType.Auto,))


def _as_mesh(mesh):
    """``mesh`` (a device count or a 1-D ``Mesh``) as a 1-D mesh whose axis lets XLA place the
    sliced, unevenly sharded arrays (``AxisType.Auto``)."""
    if isinstance(mesh, Mesh):
        if len(mesh.axis_names) != 1:
            raise OptionError(f"mesh must be 1-D (the example axis); got axes "
                              f"{dict(mesh.shape)}")
        ids = [device.id for device in mesh.devices.flat]
        if len(set(ids)) != len(ids):
            raise OptionError(f"mesh lists a device more than once (device ids {ids}): each "
                              f"device can hold one block of the examples")
        return Mesh(mesh.devices, (AXIS,), axis_types=(AxisType.Auto,))  # the name jaxdnn uses
    if isinstance(mesh, (bool, np.bool_)) or not isinstance(mesh, (int, np.integer)):
        raise InputTypeError(f"mesh must be a device count or a 1-D jax.sharding.Mesh "
                             f"(jaxdnn.data_mesh); got {mesh!r}")
    return data_mesh(mesh)


class Plan(NamedTuple):
    """Where a training run's examples go: the mesh and the global number of examples."""

    mesh: Mesh
    m: int


def plan(X, mesh):
    """None for ``mesh=None`` or a mesh of one device (the run is then one device's program);
    else the :class:`Plan` for this process's X.

    With several processes the global m is the sum of their columns, and each must hold the
    block :func:`local_columns` gives it (a ShapeError otherwise). ``mesh`` may be the plan
    itself, made for this X (:func:`~jaxdnn.fit` hands its own on, so
    that a run of several processes gathers m once).
    """
    if mesh is None:
        return None
    given = mesh if isinstance(mesh, Plan) else None
    mesh = given.mesh if given else _as_mesh(mesh)
    local = check.array(X, "X")[1]
    one = mesh.size == 1 and jax.process_count() == 1  # one device: its own program
    if given:
        columns = local_columns(given.m, mesh)
        if columns.stop - columns.start != local:
            raise ShapeError(f"the plan given as mesh= is for {given.m} examples, of which this "
                             f"process holds {columns.stop - columns.start}; X has {local}")
        return None if one else given
    if jax.process_count() == 1:
        return None if one else Plan(mesh, local)
    m = int(np.sum(multihost_utils.process_allgather(np.int64(local))))
    columns = local_columns(m, mesh)
    if columns.stop - columns.start != local:
        raise ShapeError(f"process {jax.process_index()} holds {local} columns of X but its "
                         f"share of the {m} examples is columns {columns.start}:{columns.stop} "
                         f"(jaxdnn.local_columns)")
    return Plan(mesh, m)


def local_columns(m, mesh):
    """The global example columns ``slice(start, stop)`` that this process holds when m examples
    are sharded over ``mesh`` (a device count or a 1-D mesh): ``slice(0, m)`` in a single
    process; in many, the blocks of its devices, ``ceil(m / devices)`` columns each."""
    mesh = _as_mesh(mesh)
    m = numeric.count(m, "m")
    per = -(-m // mesh.size)
    mine = [k for k, device in enumerate(mesh.devices.flat)
            if device.process_index == jax.process_index()]
    if not mine:
        raise OptionError(f"the mesh has no device of process {jax.process_index()}: every "
                          f"process of the run must have its devices in it")
    if mine != list(range(mine[0], mine[-1] + 1)):
        raise OptionError(f"the mesh interleaves the devices of process {jax.process_index()} "
                          f"with others': order its devices by process")
    return slice(min(mine[0] * per, m), min((mine[-1] + 1) * per, m))


def _sharded(A, plan):
    """This process's columns of A as the global (rows, padded m) array sharded by columns."""
    mesh, m = plan
    per = -(-m // mesh.size)
    mine = sum(device.process_index == jax.process_index() for device in mesh.devices.flat)
    A = np.asarray(A)
    local = np.pad(A, ((0, 0), (0, mine * per - A.shape[1])))  # zero columns, sliced off
    return jax.make_array_from_process_local_data(NamedSharding(mesh, P(None, AXIS)), local,
                                                  (A.shape[0], mesh.size * per))


def place(plan, data):
    """``data`` (a :class:`~jaxdnn.train.loop.Data`) on ``plan.mesh``: X and Y sharded by
    columns (padded to equal blocks), everything else replicated; done once per run."""
    replicated = jax.device_put(data._replace(X=None, Y=None), NamedSharding(plan.mesh, P()))
    return replicated._replace(X=_sharded(data.X, plan), Y=_sharded(data.Y, plan))


def run_on(plan, loop, data, carry, *args, **kwargs):
    """``loop(data, carry, *args, **kwargs)`` (:func:`jaxdnn.train.loop.loop`) on the placed
    ``data`` of ``plan`` (:func:`place`), the carry replicated."""
    carry = jax.device_put(carry, NamedSharding(plan.mesh, P()))
    args = jax.device_put(args, NamedSharding(plan.mesh, P()))
    return _unpadded(loop, plan.m, NamedSharding(plan.mesh, P(None, AXIS)), data, carry, *args,
                     **kwargs)


@partial(jax.jit, static_argnums=(0, 1, 2), static_argnames="program", donate_argnums=(4,))
def _unpadded(loop, m, examples, data, carry, *args, program):
    """The loop on the first m columns of the padded X and Y, still sharded by columns."""
    X, Y = (jax.lax.with_sharding_constraint(A[:, :m], examples) for A in (data.X, data.Y))
    with jax.sharding.use_abstract_mesh(examples.mesh.abstract_mesh):  # for shard_columns
        return loop(data._replace(X=X, Y=Y), carry, *args, program=program)


def shard_columns(A):
    """Inside a loop on a mesh (:func:`run_on`): A (rows, m_b), a mini-batch gathered from
    the sharded examples, sharded by columns too (else XLA may compute it whole on every
    device); elsewhere A itself."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or AXIS not in mesh.axis_names:
        return A
    return jax.lax.with_sharding_constraint(A, P(None, AXIS))
