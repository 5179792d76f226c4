"""Orbax checkpoints of a training run: the whole train state plus the data-iterator state (JSON)."""

from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp

from anonjax import hosts
from anonjax.paths import as_path, is_local


class Checkpoints:
    """Numbered checkpoints in ``directory``; the newest ``keep`` are kept."""

    def __init__(self, directory: str | os.PathLike, *, keep: int = 2):
        self.directory = as_path(directory)  # a URL stays a URL (``absolute()`` would make gs://b/x a local gs:/b/x)
        if is_local(self.directory):
            self.directory = self.directory.absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True),
            item_names=("state", "data"),
        )

    def latest_step(self) -> int | None:
        """Step of the newest complete checkpoint, None if there is none: as the main process sees it, in every
        process, so that all resume from one step."""
        return hosts.main_decides(self.stored_latest_step)

    def stored_latest_step(self) -> int | None:
        """Step of the newest complete checkpoint as this process's view of the directory shows it."""
        return self._manager.latest_step()

    def save(self, step: int, state: dict, data_state: dict) -> None:
        """Save asynchronously; a checkpoint becomes visible only once complete."""
        self._manager.save(
            step, args=ocp.args.Composite(state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state))
        )

    def restore(self, step: int, like: dict) -> tuple[dict, dict]:
        """State (placed with the shardings of ``like``, arrays or ShapeDtypeStructs) and data state."""
        abstract = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None)), like
        )
        out = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), data=ocp.args.JsonRestore())
        )
        return out["state"], out["data"]

    def wait(self) -> None:
        """Block until pending saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.close()
