"""The record a training run starts with (``RUN.json``): its fingerprint and training settings, so that a run
resumes only the checkpoints of the config that made them."""

from __future__ import annotations

import json
from pathlib import Path

from anonjax import hosts
from anonjax.errors import DatasetError
from anonjax.files import save_json
from anonjax.fingerprint import changed_keys, recorded_fingerprint


def claim(record: Path, fp: str, settings: dict) -> None:
    """Write ``record`` for a new run; refuse to resume one started with another config, naming the keys that
    changed. The main process reads the record and decides for all."""
    if not hosts.main_decides(_resumes, record, fp, settings):
        hosts.on_main(f"claim {record.parent}", save_json, record, {"fingerprint": fp, "train": settings})


def _resumes(record: Path, fp: str, settings: dict) -> bool:
    """Whether ``record`` holds a run of fingerprint ``fp`` (False: there is no record); a ``DatasetError`` when it
    holds a run of another config."""
    if not record.exists():
        return False
    previous = recorded_fingerprint(record)
    if previous == fp:
        return True
    if previous is None:
        started = f"a config that its damaged {record.name} no longer names"
    else:
        recorded = json.loads(record.read_text(encoding="utf-8")).get("train")
        changed = changed_keys(recorded, settings, "config.train.") if isinstance(recorded, dict) else []
        if changed:
            started = f"another config ({', '.join(changed)} changed)"
        elif recorded is not None:
            started = "other data, detections or anonymization settings"
        else:
            started = f"another training config (fingerprint {previous}, now {fp})"
    raise DatasetError(f"{record.parent} holds a run started with {started}; delete that directory to train it "
                       "again with this config, or restore the config to resume it")
