"""The anonymize study with its data and its work directory on an object store: the folder is listed, the split list
and the images are read through epath, every output lands in the bucket, and boxes and files equal a local run's.
A run killed between writing its outputs and committing them is redone."""

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from anonymize.anon_test_images import paste, qr_code
from object_store import serve_buckets
from PIL import Image

from anonjax.anonymize.box_shards import load_box_table
from anonjax.data.identity import file_stamp
from anonjax.main import load_config, run
from configs import data as presets

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "ml_collections_configs" / "anonymize.py"


def study(root: str | Path):
    """The anonymize stage alone on a folder of 4 pages (QR codes on two), materialized at one degree."""
    config = load_config(CONFIG)
    config.data = presets.folder(str(root), split_ratios=(1.0, 0.0, 0.0))
    a = config.anonymize
    a.splits, a.detectors, a.methods, a.degrees = ("train",), ("codes",), ("mask",), (1.0,)
    a.keep_empty, a.materialize, a.stats_images, a.workers = True, True, 1, 1
    return config


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cases")
    (root / "letters" / "scanned").mkdir(parents=True)
    (root / "splits").mkdir()
    names = ["letters/0.png", "letters/1.png", "letters/scanned/2.png", "letters/scanned/3.png"]
    for i, name in enumerate(names):
        page = np.full((160, 200, 3), 255, np.uint8)
        if i % 2 == 0:
            paste(page, qr_code(f"case {i}", module=3), 20 + 10 * i, 20)
        Image.fromarray(page).save(root / name)
    (root / "splits" / "train.txt").write_text("".join(f"{name}\n" for name in names))
    return root


@pytest.fixture(scope="module")
def local_run(cases, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("local")
    run(study(cases), workdir)
    return workdir / "anonymize"


@pytest.fixture
def buckets(cases, tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a URL collapsed into a local folder would appear here, as gs:/...
    monkeypatch.setenv("ANONJAX_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "buckets"
    shutil.copytree(cases, folder / "data" / "cases")
    serve_buckets(folder)
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _names(stage_dir: Path) -> list[str]:
    """The files of a stage folder, the box cache's folder (named by the data's fingerprint) as ``<cache>``,
    without the memory-mapped box tables (beside the shards on a local disk, in ``$ANONJAX_CACHE`` for a
    bucket's)."""
    names = (p.relative_to(stage_dir).parts for p in stage_dir.rglob("*")
             if p.is_file() and not p.parent.name.startswith("table_"))
    return sorted("/".join("<cache>" if parts[:1] == ("boxes",) and i == 2 else part for i, part in enumerate(parts))
                  for parts in names)


def assert_same_outputs(stored: Path, local: Path) -> None:
    """The same boxes (ids, boxes, kinds, pixel digests) and byte-identical anonymized pairs."""
    (bucket_cache,), (local_cache,) = (list((d / "boxes" / "train").iterdir()) for d in (stored, local))
    ours, theirs = (load_box_table(d, keep_empty=True) for d in (bucket_cache, local_cache))
    assert ours.ids == theirs.ids and ours.digests == theirs.digests
    for name in ("offsets", "flat_boxes", "flat_kinds", "sizes"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
    assert len(ours.flat_boxes) == 2  # one QR code on each of two pages
    assert _files(stored / "pairs") == _files(local / "pairs")


def test_the_anonymize_study_on_a_bucket_equals_a_local_run(local_run, buckets, tmp_path):
    run(study("gs://data/cases"), "gs://study/run")
    stored = buckets / "study" / "run" / "anonymize"
    assert (stored / "DONE.json").is_file()
    assert_same_outputs(stored, local_run)
    assert len(json.loads((stored / "pairs" / "pairs_train.json").read_text())["ids"]) == 4
    # Every output is in the bucket (a path made local, e.g. pathlib's /gs/..., would be missing here).
    assert _names(stored) == _names(local_run)
    assert not (tmp_path / "gs:").exists() and not Path("/gs/study/run").exists()
    mapped = tmp_path / "cache" / "objects" / "gs" / "study" / "run" / "anonymize" / "boxes" / "train"
    assert [p.name for p in mapped.glob("*/table_*/table.json")], "the bucket's box table is not on a local disk"


def test_a_run_killed_before_its_commit_is_redone(local_run, buckets, caplog):
    kill = textwrap.dedent(f"""
        import os, signal, sys
        sys.path[:0] = [{str(ROOT / 'tests')!r}, {str(ROOT)!r}]
        from object_store import serve_buckets
        serve_buckets({str(buckets)!r})
        import anonjax.stages.anonymize as anonymize
        from test_object_store_anonymize import study
        from anonjax.main import run

        def commit(stage_dir, fp, **info):  # killed after the outputs are written, before their marker
            os.kill(os.getpid(), signal.SIGKILL)
        anonymize.mark_complete = commit
        run(study("gs://data/cases"), "gs://study/run")
    """)
    killed = subprocess.run([sys.executable, "-c", kill], capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    stored = buckets / "study" / "run" / "anonymize"
    assert (stored / "pairs" / "pairs_train.json").is_file() and not (stored / "DONE.json").exists()

    (buckets / "study" / "run" / ".lock").unlink()  # the killed run's lock object stays until deleted
    caplog.set_level("INFO")
    assert run(study("gs://data/cases"), "gs://study/run") != "up to date"
    assert (stored / "DONE.json").is_file()
    assert_same_outputs(stored, local_run)


def test_an_object_rewritten_at_its_size_gets_a_new_stamp(buckets):
    """The stamp decides which cached detections are checked again: replacing an object by another of the same
    size must change it, as the rewrite of a local file changes its modification time."""
    page = buckets / "data" / "cases" / "letters" / "0.png"
    before = file_stamp("gs://data/cases/letters/0.png")
    page.write_bytes(bytes(reversed(page.read_bytes())))
    assert file_stamp("gs://data/cases/letters/0.png") != before
    assert before.startswith(f"{page.stat().st_size}:")
