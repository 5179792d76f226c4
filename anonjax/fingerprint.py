"""Fingerprints of the config parts a stage depends on, and the marker that says a stage is done.

A stage writes ``<stage_dir>/DONE.json`` last, holding the fingerprint of what it was run with;
it is complete for a config exactly when that file exists and the fingerprints agree. This is a stage's commit
on an object store too, where files are uploaded one by one: a run killed before its marker is redone. A fingerprint
covers only what changes results: the operational keys of a config block (:data:`OPERATIONAL`) are left
out, so changing them never forces a rerun.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from anonjax.files import save_json
from anonjax.paths import as_path

DONE = "DONE.json"

OPERATIONAL: dict[str, tuple[str, ...]] = {
    "train": ("fsdp", "distributed", "coordinator_address", "num_processes", "process_id", "log_every",
              "checkpoint_every", "keep_checkpoints", "cache_mb", "workers", "remat", "micro_batch"),
    "anonymize": ("workers", "shard_size", "privacy_images"),
    "embed": ("batch_size", "cache_mb"),
}
"""Keys of a config block that decide how a stage runs, not what it computes (results equal up to the order
of floating-point reductions):

- ``train.fsdp``: how parameters and optimizer state are split over the devices (a run resumes on another
  split, restoring into the new shardings); ``train.distributed``, ``coordinator_address``, ``num_processes``,
  ``process_id``: how the processes find each other (the global batch does not depend on the layout,
  ``anonjax.ssl.pipeline``);
- ``train.log_every``: the training log's interval (its rows average over it; the model is the same);
  ``train.checkpoint_every``, ``train.keep_checkpoints``: when states are saved and how many are kept;
- ``train.cache_mb``: what is held in memory (fitted images; anonymized twins, the pixels otherwise computed
  at every step); ``train.workers``: processes reading the batches (each is a pure function of the step);
  ``train.remat``: activations recomputed in the backward pass instead of stored; ``train.micro_batch``: the
  batch's images per step of exact gradient accumulation (``anonjax.ssl.micro_batch``);
- ``anonymize.workers``: detection processes; ``anonymize.shard_size``: images per cache shard, the unit of
  resuming (the box table joins the shards in image order); ``anonymize.privacy_images``: the sample of the
  privacy stage, which no other stage reads (the privacy stage's own fingerprint covers it);
- ``embed.batch_size``: images per call (an image's embedding does not depend on its batch);
  ``embed.cache_mb``: fitted images held in memory.

Not operational: ``train.batch_size`` (the global batch is part of the recipe), ``train.compute_dtype`` and
``embed.dtype`` (the arithmetic itself)."""


def _plain(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def results_settings(block: str, settings: Any) -> dict:
    """``settings`` (the config block ``config.<block>``) as a plain dict without its operational keys: what
    a fingerprint covers."""
    plain = _plain(settings)
    return {k: v for k, v in plain.items() if k not in OPERATIONAL.get(block, ())}


def changed_keys(before: Mapping, after: Mapping, prefix: str = "") -> list[str]:
    """Dotted names (under ``prefix``) of the settings that differ between two plain dicts."""
    changed = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changed += changed_keys(old, new, f"{prefix}{key}.")
        elif old != new:
            changed.append(f"{prefix}{key}")
    return changed


def fingerprint(*parts: Any) -> str:
    """A short stable hash of config parts (ConfigDicts, mappings, scalars)."""
    text = json.dumps([_plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def recorded_fingerprint(marker: str | os.PathLike) -> str | None:
    """The fingerprint a marker file records; None when it is missing, unreadable or malformed."""
    try:
        content = json.loads(as_path(marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: not UTF-8 or not JSON
        return None
    return content.get("fingerprint") if isinstance(content, dict) else None


def is_complete(stage_dir: str | os.PathLike, fp: str) -> bool:
    """Whether ``stage_dir`` holds finished outputs made with fingerprint ``fp`` (a damaged marker: no)."""
    return recorded_fingerprint(as_path(stage_dir) / DONE) == fp


def mark_complete(stage_dir: str | os.PathLike, fp: str, **info: Any) -> None:
    """Record that ``stage_dir`` is finished for fingerprint ``fp`` (write this last)."""
    save_json(as_path(stage_dir) / DONE, {"fingerprint": fp, **info})
