"""The anonymize stage in a run of several processes, each played in turn here: every process detects its
own shards, only the main one writes the shared outputs, and those equal a single process's."""

from pathlib import Path

import pytest

from anonjax import hosts
from anonjax.data import DatasetError
from anonjax.main import load_config
from anonjax.stages import anonymize as stage

CONFIG = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "anonymize.py"
SHARED = ("report.json", "report.md", "example_sheet.png", "DONE.json", "pairs")


def small_config():
    config = load_config(CONFIG)
    config.data.sizes = {"train": 4, "val": 1, "test": 1}
    config.data.classes = ("id_card",)
    a = config.anonymize
    a.splits, a.detectors, a.methods, a.degrees = ("train",), ("codes",), ("mask",), (1.0,)
    a.stats_images, a.shard_size, a.workers, a.keep_empty, a.materialize = 1, 1, 1, True, True
    stage.validate(config)
    return config


SENT: list = []  # what the main process broadcast (``hosts.main_value``), in order
RECEIVED = iter(SENT)  # what the other processes have taken of it


def as_process(monkeypatch, index: int, count: int) -> list[str]:
    """Make this process ``index`` of ``count``, receiving what process 0 broadcast before; returns the barriers it
    passes."""
    barriers: list[str] = []
    monkeypatch.setattr(hosts, "index", lambda: index)
    monkeypatch.setattr(hosts, "count", lambda: count)
    monkeypatch.setattr(hosts, "is_main", lambda: index == 0)
    monkeypatch.setattr(hosts, "barrier", barriers.append)
    monkeypatch.setattr(hosts, "main_value", lambda value: SENT.append(value) or value if index == 0
                        else next(RECEIVED))
    return barriers


def files(stage_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(stage_dir)): p.read_bytes() for p in sorted(stage_dir.rglob("*")) if p.is_file()}


def test_processes_detect_their_shards_and_the_main_one_writes(tmp_path, monkeypatch):
    config = small_config()
    alone = tmp_path / "alone"
    stage.run(config, alone)
    assert all((alone / "anonymize" / name).exists() for name in SHARED)
    work = tmp_path / "work"
    with monkeypatch.context() as patch:
        as_process(patch, 0, 2)
        with pytest.raises(DatasetError, match=r"2 of 4 detection shards are missing \(shard_000001\.npz, "
                                               r"shard_000003\.npz\)"):
            stage.run(config, work)  # process 1 has not detected yet
    with monkeypatch.context() as patch:
        barriers = as_process(patch, 1, 2)
        summary = stage.run(config, work)
    assert barriers == ["anonymize: checked", "anonymize: detected", "anonymize: written"]
    assert not [name for name in SHARED if (work / "anonymize" / name).exists()]  # only its shards
    with monkeypatch.context() as patch:
        as_process(patch, 0, 2)
        assert stage.run(config, work) == summary
    assert files(work / "anonymize") == files(alone / "anonymize")
