"""Boxes are only ever applied to the pixels they were detected on, and a damaged cache is recomputed."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from anon_test_images import rendered_page
from PIL import Image

from anonjax.anonymize.box_cache import cache_dir, load_box_table
from anonjax.anonymize.materialize import file_name
from anonjax.main import load_config, run
from anonjax.plan import study_plan
from configs import data as presets

pytest.importorskip("rapidocr_onnxruntime")

CONFIG = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "anonymize.py"
NAME = ["Anna Miller", "born 12.03.1984"]


def study(root: Path):
    config = load_config(CONFIG)
    config.data = presets.folder(str(root), split_ratios=(1.0, 0.0, 0.0))
    a = config.anonymize
    a.splits, a.detectors, a.methods, a.degrees = ("train",), ("text",), ("mask",), (1.0,)
    a.stats_images, a.workers = 1, 1
    return config


def cached_boxes(config, workdir, split: str):
    """The box table the anonymize stage cached for ``split`` with the config's detector set."""
    plan = study_plan(config)
    return load_box_table(cache_dir(workdir, config.data, split, plan.detectors, plan.detector_settings))


def page(top: bool) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 480 x 240 page with the name lines at its top or 100 px lower; the ink box of the first line."""
    image, boxes = rendered_page(NAME, size=(480, 240))
    x0, y0, x1, y1 = boxes[0]
    return (image, boxes[0]) if top else (np.roll(image, 100, axis=0), (x0, y0 + 100, x1, y1 + 100))


@pytest.fixture
def cases(tmp_path):
    root = tmp_path / "cases"
    (root / "letters").mkdir(parents=True)
    Image.fromarray(page(top=True)[0]).save(root / "letters" / "a.png")
    return root


def _masked(workdir: Path) -> np.ndarray:
    return np.array(Image.open(workdir / "anonymize" / "pairs" / "mask_100" / "train" / file_name("letters/a.png")))


def test_a_replaced_image_is_detected_again_before_it_is_anonymized(cases, tmp_path):
    workdir = tmp_path / "work"
    config = study(cases)
    run(config, workdir)
    moved, (x0, y0, x1, y1) = page(top=False)  # same name and size, the text lower down
    Image.fromarray(moved).save(cases / "letters" / "a.png")
    config.anonymize.materialize = True
    run(config, workdir)
    assert (_masked(workdir)[y0:y1, x0:x1] == 0).all()  # the new name line is masked, not left readable
    assert cached_boxes(config, workdir, "train").changed(0, moved) is None


def test_changed_files_are_never_up_to_date(cases, tmp_path):
    """Same config, a replaced file: the stage runs again and detects that file again."""
    from anonjax.stages import anonymize

    workdir = tmp_path / "work"
    config = study(cases)
    run(config, workdir)
    assert anonymize.run(config, workdir) == "up to date"
    moved, _ = page(top=False)
    Image.fromarray(moved).save(cases / "letters" / "a.png")
    assert anonymize.run(config, workdir) != "up to date"
    assert cached_boxes(config, workdir, "train").changed(0, moved) is None


def test_an_added_or_removed_unreadable_file_is_never_up_to_date(cases, tmp_path):
    """Files left out are part of the split: the report must count the ones there are now."""
    from anonjax.stages import anonymize

    workdir = tmp_path / "work"
    config = study(cases)
    run(config, workdir)
    report = workdir / "anonymize" / "report.json"
    (cases / "letters" / "b.png").write_bytes(b"not an image")
    assert anonymize.run(config, workdir) != "up to date"
    train = json.loads(report.read_text())["splits"]["train"]
    assert train["images_unreadable"] == 1 and train["skipped"][0]["file"].endswith("b.png")
    (cases / "letters" / "b.png").unlink()
    assert anonymize.run(config, workdir) != "up to date"
    assert json.loads(report.read_text())["splits"]["train"]["images_unreadable"] == 0

def test_a_replaced_image_with_the_old_stamp_is_left_out(cases, tmp_path):
    """Same size and modification time: the stamp cannot tell, the pixel digest does."""
    path = cases / "letters" / "a.tif"  # uncompressed: the replacement has the same byte count
    (cases / "letters" / "a.png").rename(path.with_suffix(".png.bak"))
    Image.fromarray(page(top=True)[0]).save(path)
    workdir = tmp_path / "work"
    config = study(cases)
    run(config, workdir)
    before = path.stat()
    Image.fromarray(page(top=False)[0]).save(path)
    assert path.stat().st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    config.anonymize.materialize = True
    run(config, workdir)
    pairs = json.loads((workdir / "anonymize" / "pairs" / "pairs_train.json").read_text())
    assert pairs["ids"] == [] and "changed after its detection" in pairs["excluded"]["letters/a.tif"]
    assert not list((workdir / "anonymize" / "pairs").rglob("*.png"))


@pytest.mark.parametrize("damage", ["zero-byte shard", "truncated shard", "DONE.json []", "DONE.json not UTF-8",
                                    "cache removed"])
def test_a_damaged_cache_under_a_done_marker_is_recomputed(cases, tmp_path, damage):
    workdir = tmp_path / "work"
    config = study(cases)
    run(config, workdir)
    stage = workdir / "anonymize"
    shard = next((stage / "boxes" / "train").rglob("shard_*.npz"))
    boxes = cached_boxes(config, workdir, "train").padded().boxes
    if damage == "zero-byte shard":
        shard.write_bytes(b"")
    elif damage == "truncated shard":
        shard.write_bytes(shard.read_bytes()[:100])
    elif damage == "DONE.json []":
        (stage / "DONE.json").write_text("[]")
    elif damage == "DONE.json not UTF-8":
        (stage / "DONE.json").write_bytes(b"\xff\xfe{")
    else:
        shutil.rmtree(shard.parent)
    run(config, workdir)
    np.testing.assert_array_equal(cached_boxes(config, workdir, "train").padded().boxes, boxes)
    assert json.loads((stage / "DONE.json").read_text())["fingerprint"]


def test_the_report_lists_every_file_left_out(cases, tmp_path):
    (cases / "letters" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (cases / "letters" / "blank.png").write_bytes(b"")
    workdir = tmp_path / "work"
    run(study(cases), workdir)
    report = json.loads((workdir / "anonymize" / "report.json").read_text())
    skipped = report["splits"]["train"]["skipped"]
    assert sorted(Path(e["file"]).name for e in skipped) == ["blank.png", "broken.png"]
    assert {e["reason"] for e in skipped} >= {"empty file"}
    text = (workdir / "anonymize" / "report.md").read_text()
    assert "Left out (2):" in text and "blank\\.png: empty file" in text  # the name escaped as Markdown text
