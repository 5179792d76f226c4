"""A measure that cannot be taken is reported as missing, with its reason, and never pooled as 0."""

import json
import sys

import numpy as np
import pytest

from anonjax.analysis.intervals import wilson_interval
from anonjax.data.image_io import read_image
from anonjax.privacy.aggregate import aggregate
from anonjax.privacy.ocr import NOT_INSTALLED, Ocr, OcrLine
from anonjax.privacy.outcome import Measured, Missing, Ratio, attempt, outcome_from_json, outcome_json
from anonjax.privacy.probe import MEASURES, PrivacyProbe

IMAGE = np.full((40, 60, 3), 255, np.uint8)


def read_a_name(image):
    return [OcrLine("Anna Miller", (5, 5, 50, 15), 0.9)]


def no_codes(image):
    return []


def exploding_detector(image):
    raise RuntimeError("MTCNN exploded")


def one_face(image):
    return np.array([[10, 10, 30, 30]], np.int32), np.ones(1, np.float32)


def test_ratio_checks_its_counts():
    assert Ratio(2, 4).fraction == 0.5 and Ratio(0, 0).fraction is None
    assert Ratio(1, 2) + Ratio(0.5, 3) == Ratio(1.5, 5)
    for hits, total in ((3, 2), (-1, 2), (0, -1)):
        with pytest.raises(ValueError, match="ratio"):
            Ratio(hits, total)


def test_aggregate_pools_counts_and_keeps_missing_apart():
    outcomes = [Measured({"faces": Ratio(3, 4)}), Measured({"faces": Ratio(0, 0)}), Measured({"faces": Ratio(1, 2)}),
                Missing("face detector failed: RuntimeError: x"), Missing("image unreadable"),
                Missing("face detector failed: RuntimeError: x")]
    result = aggregate(outcomes, "faces")
    assert result.pooled == Ratio(4, 6) and result.fraction == pytest.approx(4 / 6)
    assert result.interval == pytest.approx(wilson_interval(4, 6))
    assert (result.images, result.measured, result.empty, result.missing) == (6, 3, 1, 3)
    assert result.reasons == (("face detector failed: RuntimeError: x", 2), ("image unreadable", 1))
    nothing = aggregate([Missing("OCR unavailable")], "words")
    assert nothing.fraction is None and nothing.interval is None and nothing.pooled == Ratio(0, 0)


def test_a_detector_that_raises_gives_missing_with_its_reason():
    probe = PrivacyProbe(ocr=read_a_name, face_detector=exploding_detector, code_reader=no_codes)
    seen = probe.observe(IMAGE)
    assert seen.faces == Missing("face detector failed: RuntimeError: MTCNN exploded")
    measures = probe.measure(seen, seen, np.zeros((0, 4), np.int32), IMAGE.shape)
    assert set(measures) == set(MEASURES)
    assert measures["faces"] == seen.faces
    assert measures["text"].ratios["words"] == Ratio(2, 2)  # the other measures are still taken
    working = PrivacyProbe(ocr=read_a_name, face_detector=one_face, code_reader=no_codes)
    found = working.observe(IMAGE)
    faces = [measures["faces"], working.measure(found, found, np.zeros((0, 4)), IMAGE.shape)["faces"]]
    result = aggregate(faces, "faces")
    assert (result.fraction, result.missing, result.measured) == (1.0, 1, 1)  # not 1 of 2 images = 0.5
    assert result.reasons == (("face detector failed: RuntimeError: MTCNN exploded", 1),)


def test_ocr_not_installed_gives_missing_not_zero(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import fails, as on Python >= 3.12
    probe = PrivacyProbe(ocr=Ocr(), face_detector=one_face, code_reader=no_codes)
    seen = probe.observe(IMAGE)
    assert seen.text == Missing(f"OCR unavailable: {NOT_INSTALLED}")
    measures = probe.measure(seen, seen, np.zeros((0, 4)), IMAGE.shape)
    assert measures["text"] == seen.text and measures["mrz"] == seen.text
    assert measures["faces"] == Measured({"faces": Ratio(1, 1)})
    words = aggregate([measures["text"]], "words")
    assert words.fraction is None and words.missing == 1 and words.reasons[0][0].startswith("OCR unavailable")


def test_an_image_that_cannot_be_read_makes_every_measure_missing(tmp_path):
    broken = tmp_path / "scan.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    image = attempt("reading the image", read_image, broken)
    assert isinstance(image, Missing) and image.reason.startswith("reading the image failed: ")
    probe = PrivacyProbe(ocr=read_a_name, face_detector=one_face, code_reader=no_codes)
    seen = probe.observe(image)
    assert seen.text == seen.faces == seen.codes == image
    assert all(outcome == image for outcome in probe.measure(seen, seen, np.zeros((0, 4)), (40, 60)).values())


def test_an_outcome_sent_between_processes_comes_back_exactly():
    similarity = np.float64(2) / 3 + 0.1  # a sum of per-line scores: a float that must not be rounded on its way
    outcomes = [Measured({"words": Ratio(np.int64(3), 7), "similarity": Ratio(similarity, 3)}),
                Measured({"faces": Ratio(0, 0)}), Missing("OCR unavailable: not installed")]
    back = [outcome_from_json(json.loads(json.dumps(outcome_json(o)))) for o in outcomes]
    assert back == outcomes
    assert type(back[0].ratios["words"].hits) is int and back[0].ratios["similarity"].hits == similarity
