"""Gradient accumulation: the global batch as micro-batches of whole groups, and the largest micro-batch that fits.

``train.micro_batch`` is the number of global-batch images per micro-step: 0 (the whole batch), a positive
divisor of ``train.batch_size`` that is a multiple of ``train.group_size``, or "auto" (the largest such size
whose compiled step fits the devices, :func:`largest_fitting`). Micro-batching is exact: the teacher's targets
and batch statistics span the whole batch (``meta_arch.teacher_targets``), and every group draws its masks
and drop path from its position in the global batch, so only the order of the gradient's sums changes.

A micro-batch takes rows from every device's share of the batch (``spread``), so that all devices work on
every micro-step and no row moves between devices.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections

from anonjax import config_checks as cc

AUTO = "auto"
FIT_FRACTION = 0.9  # of a device's memory: the share "auto" lets a step use (allocator slack, fragmentation)


def setting(train: ml_collections.ConfigDict) -> int | str:
    """``train.micro_batch`` as an int or "auto" (a command line may give a number as text)."""
    micro = train.get("micro_batch", 0)
    return int(micro) if isinstance(micro, str) and micro.isdigit() else micro


def check(train: ml_collections.ConfigDict) -> None:
    """Raise ``ConfigError`` unless ``train.micro_batch`` is 0, "auto" or a size that splits the batch in whole
    groups."""
    micro, batch, group = setting(train), train.batch_size, train.group_size
    if micro == AUTO or micro == 0:
        return
    if isinstance(micro, bool) or not isinstance(micro, int) or micro < 0:
        raise cc.ConfigError("train.micro_batch", f'must be 0 (the whole batch), "auto" or a positive number of '
                             f"images, got {micro!r}")
    if batch % micro:
        raise cc.ConfigError("train.micro_batch", f"{micro} must divide train.batch_size={batch}")
    if micro < batch and (not group or micro % group):
        raise cc.ConfigError("train.micro_batch", f"{micro} must be a multiple of train.group_size={group} (KoLeo, "
                             "drop path and iBOT masks are per group, so a micro-batch holds whole groups; set "
                             "train.group_size > 0 to accumulate)")


def candidates(batch: int, group_size: int) -> list[int]:
    """Micro-batch sizes for a batch, largest first: the whole batch, then divisors made of whole groups."""
    if not group_size:
        return [batch]
    return [m for m in range(batch, 0, -1) if batch % m == 0 and m % group_size == 0]


def largest_fitting(batch: int, group_size: int, fits: Callable[[int], bool]) -> int:
    """The largest candidate micro-batch for which ``fits`` (e.g. a compile and its memory analysis) holds;
    raises ``ValueError`` when none does."""
    for micro in candidates(batch, group_size):
        if fits(micro):
            return micro
    raise ValueError(f"no micro-batch of a global batch of {batch} in groups of {group_size} fits the devices: "
                     "use more devices, train.fsdp, train.remat or a smaller model")


def compiled_fits(compile_step: Callable[[], jax.stages.Compiled], memory: int,
                  peak: Callable[[jax.stages.Compiled], int]) -> bool:
    """Whether a step compiles within ``FIT_FRACTION`` of ``memory`` bytes per device (its ``peak``); a TPU compiler
    refuses a program beyond the chip's memory (RESOURCE_EXHAUSTED), which counts as not fitting."""
    try:
        compiled = compile_step()
    except jax.errors.JaxRuntimeError as e:
        if "RESOURCE_EXHAUSTED" in str(e):
            return False
        raise
    return peak(compiled) <= FIT_FRACTION * memory


def spread(batch: int, micro: int, group_size: int, shards: int) -> int:
    """How many equal parts of the batch's rows a micro-batch takes a run from: the most, up to one per device
    (``shards``), whose runs are whole groups, so that as many devices as the groups allow work on every
    micro-step."""
    if micro == batch:
        return 1
    group = max(group_size, 1)
    return max(s for s in range(1, shards + 1)
               if shards % s == 0 and batch % s == 0 and micro % s == 0 and (micro // s) % group == 0)


def split(tree, n_micro: int, spread_: int):
    """Arrays [B, ...] as [n_micro, B / n_micro, ...]: micro-batch ``m`` is the ``m``-th run of each of
    ``spread_`` equal parts of the rows, in order."""
    def one(x):
        parts = x.reshape(spread_, n_micro, -1, *x.shape[1:])
        return jnp.swapaxes(parts, 0, 1).reshape(n_micro, -1, *x.shape[1:])

    return jax.tree.map(one, tree)


def group_ids(n_groups: int, n_micro: int, spread_: int) -> jax.Array:
    """[n_micro, groups per micro-batch]: the global positions of each micro-batch's groups (``split`` of the
    groups' rows)."""
    return split(jnp.arange(n_groups), n_micro, spread_)


def groups_span_devices(micro: int, group_size: int, devices: int) -> bool:
    """Whether a group of ``group_size`` images (0: the whole micro-batch) is split over several of ``devices``
    when each micro-step of ``micro`` images is: then the drop path computes its subsets on every row
    (``vit._residual``'s ``dense``), since each device would otherwise compute a group's whole subset."""
    return (group_size or micro) > micro // devices
