"""The device mesh and every sharding rule of anonjax, in one place.

Two mesh axes: ``data`` splits batches (and, for retrieval, the database rows) and ``fsdp``
splits parameters and optimizer state. No other module names an axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA = "data"
FSDP = "fsdp"
BATCH_AXES = (DATA, FSDP)  # a batch is split over every device of the mesh


def make_mesh(fsdp: int = 1, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A ``(data, fsdp)`` mesh over ``devices`` (all devices by default), laid out by ``jax.make_mesh`` along the
    physical topology (on a TPU, neighbours in the interconnect are neighbours in the mesh).

    ``fsdp`` devices share one copy of the parameters; the rest replicate it. The axes are ``Auto``: shardings
    are the rules below and what XLA propagates from them.
    """
    devices = list(jax.devices() if devices is None else devices)
    if fsdp < 1 or len(devices) % fsdp:
        raise ValueError(f"fsdp={fsdp} must be >= 1 and divide the number of devices ({len(devices)})")
    return jax.make_mesh((len(devices) // fsdp, fsdp), (DATA, FSDP), (AxisType.Auto, AxisType.Auto),
                         devices=devices)


def process_rows(mesh: Mesh, n_rows: int) -> tuple[int, ...]:
    """The rows of a batch-sharded array of ``n_rows`` that this process's devices hold, in increasing order:
    the part of a global batch this host supplies, in the order ``jax.make_array_from_process_local_data``
    places it (on the usual meshes one contiguous slice, the ``h``-th of ``n`` for process ``h``)."""
    index = batch_sharding(mesh).addressable_devices_indices_map((n_rows,)).values()
    return tuple(sorted({row for rows, in index for row in range(*rows.indices(n_rows))}))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The leading axis split over all devices; the rest whole."""
    return NamedSharding(mesh, P(BATCH_AXES))


def micro_batches_sharding(mesh: Mesh) -> NamedSharding:
    """Micro-batches stacked as [n_micro, rows, ...]: each micro-batch's rows split over all devices, so that every
    device works on every micro-step."""
    return NamedSharding(mesh, P(None, BATCH_AXES))


def batch_spec() -> P:
    """PartitionSpec of a batch-sharded array, for ``shard_map`` in/out specs."""
    return P(BATCH_AXES)


def columns_spec() -> P:
    """The second axis split over all devices: per-device results laid side by side in device order."""
    return P(None, BATCH_AXES)


def mesh_size(mesh: Mesh) -> int:
    """Number of devices in the mesh."""
    return int(np.prod(list(mesh.shape.values())))


def param_sharding(mesh: Mesh, array: jax.Array | np.ndarray) -> NamedSharding:
    """FSDP rule: split the largest axis divisible by the ``fsdp`` size; replicate small arrays."""
    n = mesh.shape[FSDP]
    shape = np.shape(array)
    if n == 1 or np.prod(shape, dtype=np.int64) < 2**14:
        return replicated(mesh)
    axes = sorted(range(len(shape)), key=lambda a: -shape[a])
    for axis in axes:
        if shape[axis] % n == 0:
            spec = [None] * len(shape)
            spec[axis] = FSDP
            return NamedSharding(mesh, P(*spec))
    return replicated(mesh)


def params_sharding(mesh: Mesh, params):
    """The FSDP rule applied to every leaf of a parameter tree."""
    return jax.tree_util.tree_map(lambda x: param_sharding(mesh, x), params)


def pad_to_multiple(x: np.ndarray | jax.Array, multiple: int, axis: int = 0):
    """Pad ``axis`` with zeros up to a multiple; returns (padded, original length)."""
    n = x.shape[axis]
    extra = (-n) % multiple
    if extra == 0:
        return x, n
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, extra)
    xp = np if isinstance(x, np.ndarray) else jax.numpy
    return xp.pad(x, pad), n
