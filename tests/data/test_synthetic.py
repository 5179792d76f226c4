"""The synthetic document set: deterministic, balanced, real text and a real face on identity pages."""


import numpy as np
import pytest

from anonjax.data import DatasetError, open_split
from anonjax.data.synthetic import CLASS_NAMES, render_page
from anonjax.data.synthetic.mrz import check_digit, td1, td3
from configs import data as presets


@pytest.fixture(scope="module")
def id_pages():
    """Identity pages of both kinds (card and passport) from a few seeds."""
    return [render_page("id_card", (5, 0, i)) for i in range(6)]


def test_same_seed_same_pixels_other_seed_other_pixels():
    cfg = presets.synthetic(train=12, val=2, test=2, seed=1)
    a, b = open_split(cfg, "train"), open_split(cfg, "train")
    assert a.ids == b.ids
    for i in (0, 5, 11):
        np.testing.assert_array_equal(a.dataset[i]["image"], b.dataset[i]["image"])
    cfg.seed = 2
    c = open_split(cfg, "train")
    assert not np.array_equal(a.dataset[0]["image"], c.dataset[0]["image"])
    assert not np.array_equal(render_page("letter", (1, 0, 0)).image, render_page("letter", (1, 0, 1)).image)


def test_classes_are_balanced_and_labels_match_ids():
    assert len(CLASS_NAMES) >= 9 and "id_card" in CLASS_NAMES
    assert {"letter", "form", "invoice", "scientific_publication", "news_article", "presentation", "resume",
            "memo"} <= set(CLASS_NAMES)
    split = open_split(presets.synthetic(train=3 * len(CLASS_NAMES) + 2, val=4, test=4), "train")
    counts = np.bincount(split.labels, minlength=len(CLASS_NAMES))
    assert counts.max() - counts.min() <= 1 and counts.sum() == len(split)
    for id_, label in zip(split.ids, split.labels, strict=True):
        assert id_.split("/")[1] == split.class_names[label]
    with pytest.raises(DatasetError, match="split 'test' of data source 'synthetic' has no usable image"):
        open_split(presets.synthetic(train=4, val=3, test=0), "test")


def test_every_class_draws_a_page_with_text_inside_it():
    for i, kind in enumerate(CLASS_NAMES):
        page = render_page(kind, (0, 0, i), 384, 512)
        assert page.image.shape == (512, 384, 3) and page.image.dtype == np.uint8
        assert len(page.text_boxes) >= 5, kind
        for x0, y0, x1, y1 in page.text_boxes:
            assert 0 <= x0 < x1 <= 384 and 0 <= y0 < y1 <= 512
            ink = page.image[y0:y1, x0:x1].min()
            assert ink < 120, (kind, (x0, y0, x1, y1))


def test_class_subset_and_page_size():
    cfg = presets.synthetic(train=4, val=1, test=1)
    cfg.classes = ("memo", "id_card")
    cfg.page_width, cfg.page_height = 256, 320
    split = open_split(cfg, "train")
    assert split.class_names == ["memo", "id_card"] and sorted(split.labels) == [0, 0, 1, 1]
    assert split.dataset[0]["image"].shape == (320, 256, 3)


def test_mrz_check_digits_match_the_icao_specimen():
    # ICAO Doc 9303 specimen values: document L898902C3 -> 6, birth 740812 -> 2, expiry 120415 -> 9.
    assert check_digit("L898902C3") == "6" and check_digit("740812") == "2" and check_digit("120415") == "9"
    card = td1("D23145890", "UTO", "Eriksson", "Anna Maria", "740812", "F", "120415", "UTO")
    assert [len(line) for line in card] == [30, 30, 30]
    assert card[0].startswith("I<UTOD231458907") and card[2].startswith("ERIKSSON<<ANNA<MARIA")
    passport = td3("L898902C3", "UTO", "Eriksson", "Anna Maria", "740812", "F", "120415", "UTO")
    assert [len(line) for line in passport] == [44, 44]
    assert passport[0].startswith("P<UTOERIKSSON<<ANNA<MARIA<")
    assert passport[1][:28] == "L898902C36UTO7408122F1204159"


def test_id_card_holds_a_face_and_mrz_text(id_pages):
    kinds = set()
    for page in id_pages:
        assert len(page.face_boxes) == 1 and page.mrz_lines
        x0, y0, x1, y1 = page.face_boxes[0]
        assert x1 - x0 >= 30 and y1 - y0 >= 30
        assert page.image[y0:y1, x0:x1].std() > 20  # a photograph, not a blank area
        kinds.add(len(page.mrz_lines[0]))
        if len(page.mrz_lines) == 3:  # TD1: document number and its check digit in line 1
            number, digit = page.mrz_lines[0][5:14], page.mrz_lines[0][14]
        else:  # TD3: in line 2
            number, digit = page.mrz_lines[1][0:9], page.mrz_lines[1][9]
        assert check_digit(number) == digit
        for line in page.mrz_lines:
            x0, y0, x1, y1 = page.text_boxes[page.texts.index(line)]
            assert x1 - x0 > 200 and page.image[y0:y1, x0:x1].min() < 80  # drawn across the card, in ink
        for line in page.mrz_lines:
            assert set(line) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
    assert kinds == {30, 44}  # both an identity card and a passport page among six seeds


def test_real_face_detector_finds_the_card_photo(id_pages):
    pytest.importorskip("onnxruntime")
    from anonjax.anonymize import FaceDetector

    page = id_pages[0]
    found, _ = FaceDetector(min_score=0.9)(page.image)
    fx0, fy0, fx1, fy1 = page.face_boxes[0]
    assert any(x0 < fx1 and fx0 < x1 and y0 < fy1 and fy0 < y1 for x0, y0, x1, y1 in found.tolist())


def _found(detections, box) -> bool:
    """Whether the centre of a drawn text box lies inside one of the detector's quadrilaterals' bounds."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for quad in detections:
        q = np.asarray(quad)
        if q[:, 0].min() <= cx <= q[:, 0].max() and q[:, 1].min() <= cy <= q[:, 1].max():
            return True
    return False


def test_real_text_detector_finds_the_drawn_lines(id_pages):
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    detector = rapidocr.RapidOCR().text_detector  # PP-OCRv3 detection (DB), BGR input
    for page in (render_page("memo", (0, 0, 3)), id_pages[0]):
        detections, _ = detector(page.image[:, :, ::-1].copy())
        found = [_found(detections, box) for box in page.text_boxes]
        assert np.mean(found) >= 0.9, f"{sum(found)} of {len(found)} drawn lines detected"
    card = id_pages[0]
    for line in card.mrz_lines:
        assert _found(detections, card.text_boxes[card.texts.index(line)])
