"""Fingerprints of the config parts a stage depends on, and the marker that says a stage is done.

A stage writes ``<stage_dir>/DONE.json`` last, holding the fingerprint of what it was run with;
it is complete for a config exactly when that file exists and the fingerprints agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from anonjax.files import save_json

DONE = "DONE.json"


def _plain(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def fingerprint(*parts: Any) -> str:
    """A short stable hash of config parts (ConfigDicts, mappings, scalars)."""
    text = json.dumps([_plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def recorded_fingerprint(marker: str | Path) -> str | None:
    """The fingerprint a marker file records; None when it is missing, unreadable or malformed."""
    try:
        content = json.loads(Path(marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: not UTF-8 or not JSON
        return None
    return content.get("fingerprint") if isinstance(content, dict) else None


def is_complete(stage_dir: str | Path, fp: str) -> bool:
    """Whether ``stage_dir`` holds finished outputs made with fingerprint ``fp`` (a damaged marker: no)."""
    return recorded_fingerprint(Path(stage_dir) / DONE) == fp


def mark_complete(stage_dir: str | Path, fp: str, **info: Any) -> None:
    """Record that ``stage_dir`` is finished for fingerprint ``fp`` (write this last)."""
    save_json(Path(stage_dir) / DONE, {"fingerprint": fp, **info})
