"""The processes of a run: joining a multi-host run, which process this is, and waiting for all of them.

Every process runs every stage on the same work directory (a shared file system). Each reads the inputs its
devices need; files shared by all (embeddings, results, markers, checkpoints' JSON) are written by the main
process alone, and the others wait at a :func:`barrier` before they read them; whether such a file exists is
decided by the main process for all (:func:`main_value`). With one process every function here is a no-op or
trivially true, so single-host code paths are the multi-host ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from anonjax import config_checks as cc
from anonjax import errors

T = TypeVar("T")

_alone = False  # True while the main process runs an :func:`on_main` block, which the others do not enter


def initialize(config: ml_collections.ConfigDict) -> None:
    """Join the run with ``jax.distributed.initialize`` when ``config.train.distributed`` (once, before any
    computation; a config without a ``train`` block runs in one process).

    ``train.coordinator_address``, ``train.num_processes`` and ``train.process_id`` are passed as given; an empty
    or -1 value is left to JAX's detection of the cluster (Cloud TPU, SLURM, Open MPI, Kubernetes), so one command
    runs on a pod, a SLURM cluster and on localhost."""
    train = config.get("train")
    if train is None or not train.get("distributed", False) or jax.distributed.is_initialized():
        return
    jax.distributed.initialize(
        coordinator_address=train.coordinator_address or None,
        num_processes=None if train.num_processes == -1 else train.num_processes,
        process_id=None if train.process_id == -1 else train.process_id,
    )


def check_cluster(config: ml_collections.ConfigDict) -> None:
    """``train.distributed`` a bool; ``train.coordinator_address`` "" or "host:port"; ``train.num_processes``
    -1 or positive; ``train.process_id`` -1 or below ``train.num_processes``."""
    cc.check_bool(config, "train.distributed")
    address = cc.get(config, "train.coordinator_address")
    if not isinstance(address, str) or (address and not address.rpartition(":")[2].isdigit()):
        raise cc.ConfigError("train.coordinator_address", f'must be "host:port" or "" (detected), got {address!r}')
    n, index = cc.get(config, "train.num_processes"), cc.get(config, "train.process_id")
    if isinstance(n, bool) or not isinstance(n, int) or not (n == -1 or n >= 1):
        raise cc.ConfigError("train.num_processes", f"must be a positive integer or -1 (detected), got {n!r}")
    if isinstance(index, bool) or not isinstance(index, int) or index < -1 or 0 < n <= index:
        raise cc.ConfigError("train.process_id", f"must be -1 (detected) or an integer in [0, train.num_processes)"
                             f", got {index!r}")


def index() -> int:
    """This process's index, 0 .. count() - 1."""
    return jax.process_index()


def count() -> int:
    """Number of processes in the run."""
    return jax.process_count()


def is_main() -> bool:
    """Whether this process writes the files every process shares."""
    return jax.process_index() == 0


def share(n: int) -> range:
    """The items of ``0 .. n-1`` this process handles when work is split over processes: every ``count()``-th."""
    return range(index(), n, count())


def main_value(value: T) -> T:
    """The main process's ``value`` (a bool, number, string, None, or a list or dict of them: what JSON holds), in
    every process. A decision taken on files (is this model trained? from which step does it resume? which files
    does a split hold?) is taken by the main process and followed by all, however far apart their views of the
    files are: hosts that decided apart would wait for each other at different barriers and hang. Inside an
    :func:`on_main` block the main process is the only one there, and ``value`` is returned as it is."""
    if count() == 1 or _alone:
        return value
    data = np.frombuffer(json.dumps(value).encode(), np.uint8)
    size = int(multihost_utils.broadcast_one_to_all(np.int32(data.size)))
    sent = np.zeros(size, np.uint8)
    sent[:min(size, data.size)] = data[:size]
    return json.loads(np.asarray(multihost_utils.broadcast_one_to_all(sent)).tobytes())


def main_decides(decide: Callable[..., T], *args: Any) -> T:
    """``decide(*args)``, run by the main process alone (the others read no file for it), and its result in every
    process (:func:`main_value`). A ``DatasetError`` it raises (bad data, a missing input) is raised in every
    process, with the main process's message, so that none waits for the others at a later barrier."""
    if count() == 1 or _alone:
        return decide(*args)
    outcome, raised = None, None
    if is_main():
        try:
            outcome = {"value": decide(*args)}
        except errors.DatasetError as e:
            outcome, raised = {"error": type(e).__name__, "message": str(e)}, e
    outcome = main_value(outcome)
    if raised is not None:
        raise raised
    if "error" in outcome:
        raise getattr(errors, outcome["error"], errors.DatasetError)(outcome["message"])
    return outcome["value"]


def barrier(name: str) -> None:
    """Wait until every process has reached the barrier ``name`` (files written before it are visible after)."""
    if count() > 1:
        multihost_utils.sync_global_devices(name)


def on_main(name: str, write: Callable[..., object], *args, **kwargs) -> None:
    """``write(*args, **kwargs)`` on the main process only, then every process waits at the barrier ``name``:
    after it, what ``write`` wrote is there for all. An error in ``write`` is raised on the main process (the
    others then stop at the barrier's timeout, as with any failed process of a multi-host run). Decisions taken
    inside ``write`` (:func:`main_value`) are the main process's own: no other process is there to follow them."""
    global _alone
    if is_main():
        _alone = True
        try:
            write(*args, **kwargs)
        finally:
            _alone = False
    barrier(name)


def gathered(value: T) -> list[T]:
    """Every process's ``value`` (what JSON holds), in process order, in every process: the pieces of work
    split over the processes (:func:`share`) brought together."""
    if count() == 1:
        return [value]
    data = np.frombuffer(json.dumps(value).encode(), np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.int32(data.size))).reshape(-1)
    sent = np.zeros(int(sizes.max()), np.uint8)
    sent[:data.size] = data
    rows = np.asarray(multihost_utils.process_allgather(sent)).reshape(len(sizes), -1)
    return [json.loads(row[:int(n)].tobytes()) for row, n in zip(rows, sizes, strict=True)]
