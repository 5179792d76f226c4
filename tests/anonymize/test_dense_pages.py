"""A page with more text regions than the detector's cap is never half anonymized."""

import numpy as np
import pytest
from anon_test_images import dense_page

from anonjax.anonymize import TextDetector, apply, detect_split, load_box_table

pytest.importorskip("onnxruntime")
pytest.importorskip("rapidocr_onnxruntime")


def test_regions_are_filtered_before_the_cap():
    """500 specks too small to be text, then one text region at the top: a cap of 10 keeps the region."""
    prob = np.zeros((400, 400), np.float32)
    for k in range(500):
        y, x = 200 + 8 * (k // 40), 4 + 9 * (k % 40)
        prob[y : y + 2, x : x + 2] = 0.9
    prob[20:40, 30:200] = 0.9
    detector = TextDetector(max_candidates=10)
    boxes, scores = detector._boxes(prob, 400, 400)
    assert len(boxes) == 1 and boxes[0][1] < 20 and boxes[0][3] > 40 and scores[0] > 0.85


def test_a_page_denser_than_the_cap_fails_closed(tmp_path):
    page, _ = dense_page()  # 1,224 words and a name line: more regions than the default cap of 1,000
    with pytest.raises(ValueError, match="1225 text regions, more than max_candidates = 1000"):
        TextDetector()(page)
    detect_split(["dense.png"], lambda i: page, ("text",), {"text": {}}, tmp_path)
    table = load_box_table(tmp_path, keep_empty=True)
    assert table.ids == [] and "more than max_candidates" in table.failed["dense.png"]


def test_under_a_higher_cap_the_name_line_is_masked(tmp_path):
    page, (x0, y0, x1, y1) = dense_page()
    detect_split(["dense.png"], lambda i: page, ("text",), {"text": {"max_candidates": 2000}}, tmp_path)
    table = load_box_table(tmp_path)
    assert table.counts[0] == 1225
    masked = np.asarray(apply(page[None], table.padded().boxes, table.padded().valid, "mask", fill=(0, 0, 0)))[0]
    assert (masked[y0:y1, x0:x1] == 0).all()
