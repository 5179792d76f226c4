"""Real detections: MTCNN on photographs, PP-OCRv3 on rendered pages, OpenCV on drawn codes (no mocks)."""

import cv2
import numpy as np
import pytest
from anon_test_images import (
    ASTRONAUT_FACE,
    HOPPER_FACE,
    LINES,
    astronaut,
    ean13,
    hopper,
    iou,
    paste,
    qr_code,
    rendered_page,
)

from anonjax.anonymize import KINDS, Detectors, TextDetector, apply, detect_codes, detect_faces, detect_text

pytest.importorskip("onnxruntime")
pytest.importorskip("rapidocr_onnxruntime")  # ships the PP-OCRv3 detection model (Python < 3.12)

PP_OCRV3_DET_SHA256 = "3439588c030faea393a54515f51e983d8e155b19a2e8aba7891934c1cf0de526"


@pytest.fixture(scope="module")
def page():
    return rendered_page()


@pytest.fixture(scope="module")
def page_boxes(page):
    return detect_text(page[0])


@pytest.mark.parametrize(("image", "face"), [(astronaut, ASTRONAUT_FACE), (hopper, HOPPER_FACE)])
def test_mtcnn_finds_the_face_of_a_photograph(image, face):
    boxes, scores = detect_faces(image())
    assert boxes.dtype == np.int32 and boxes.shape == (1, 4)
    assert scores[0] > 0.99
    assert iou(boxes[0], face) > 0.7


def test_mtcnn_finds_no_face_on_a_cat_or_a_page(page):
    import skimage.data

    assert len(detect_faces(skimage.data.chelsea())[0]) == 0
    assert len(detect_faces(page[0])[0]) == 0


def test_pp_ocrv3_finds_every_rendered_line(page, page_boxes):
    boxes, scores = page_boxes
    assert len(boxes) == len(LINES)
    assert (scores > 0.5).all()
    for ink in page[1]:
        best = max(boxes, key=lambda b: iou(b, ink))
        assert iou(best, ink) > 0.6
        assert best[0] <= ink[0] and best[1] <= ink[1] and best[2] >= ink[2] and best[3] >= ink[3], (best, ink)


def test_pp_ocrv3_matches_rapidocr_own_pipeline(page, page_boxes):
    rapid = pytest.importorskip("rapidocr_onnxruntime.ch_ppocr_v3_det.text_detect")
    import rapidocr_onnxruntime
    from rapidocr_onnxruntime.utils import read_yaml

    settings = read_yaml(f"{rapidocr_onnxruntime.__path__[0]}/config.yaml")["Det"]
    settings["model_path"] = str(TextDetector().model_path)
    polygons, _ = rapid.TextDetector(settings)(cv2.cvtColor(page[0], cv2.COLOR_RGB2BGR))
    reference = np.array(sorted([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max() + 1, p[:, 1].max() + 1]
                                 for p in polygons], key=lambda b: b[1]))
    ours = TextDetector(margin=0.0)(page[0])[0]
    ours = ours[np.argsort(ours[:, 1])]
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= 2


def test_no_text_on_a_blank_page():
    assert len(detect_text(np.full((200, 300, 3), 255, np.uint8))[0]) == 0


def test_text_model_is_recorded_with_its_hash():
    info = TextDetector().describe()
    assert info["models"][0]["file"] == "ch_PP-OCRv3_det_infer.onnx"
    assert info["models"][0]["sha256"] == PP_OCRV3_DET_SHA256


def test_a_missing_text_model_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"det\.onnx"):
        TextDetector(model_path=tmp_path / "det.onnx")


def test_qr_code_and_barcode_are_found():
    canvas = np.full((300, 500, 3), 255, np.uint8)
    barcode = paste(canvas, ean13("400638133393", module=2, height=60), 20, 20)
    qr = paste(canvas, qr_code("P<D<<MUSTERMANN<<ERIKA"), 340, 120)
    canvas = cv2.GaussianBlur(canvas, (3, 3), 0)  # as printed and scanned; OpenCV misses ideal bars
    boxes, scores = detect_codes(canvas)
    assert len(boxes) == 2 and (scores == 1).all()
    for drawn in (barcode, qr):
        found = max(boxes, key=lambda b: iou(b, drawn))
        assert iou(found, drawn) > 0.4  # drawn boxes include the quiet zones, detections do not
    assert len(detect_codes(np.full((100, 100, 3), 255, np.uint8))[0]) == 0


def test_detectors_tag_boxes_by_kind():
    card, _ = rendered_page(("IDENTITY CARD", "MUSTERMANN ERIKA"), size=(640, 420), font_size=22)
    card[150:150 + 200, 380:380 + 200] = cv2.resize(astronaut()[40:220, 140:320], (200, 200))
    paste(card, qr_code("P<D<<MUSTERMANN"), 30, 180)
    found = Detectors(("codes", "faces", "text"))(card)
    assert set(found.kinds.tolist()) == {KINDS.index(k) for k in KINDS}
    assert list(found.kinds) == sorted(found.kinds)  # faces, then text, then codes
    with pytest.raises(ValueError, match="detectors must be"):
        Detectors(("faces", "plates"))


def test_default_pixelation_and_blur_leave_text_unreadable(page, page_boxes):
    """PP-OCRv3 recognition reads every line box of the page, but nothing of it after the default
    anonymization; with a fine pixelation grid it still reads the words, so this check can fail."""
    ocr_module = pytest.importorskip("rapidocr_onnxruntime")
    recognize = ocr_module.RapidOCR().text_recognizer
    words = ("Invoice", "Mustermann", "Stuttgart", "amount")
    image, boxes = page[0], page_boxes[0]
    everything = np.ones((1, len(boxes)), bool)

    def read(*images):
        crops = [np.ascontiguousarray(p[y0:y1, x0:x1, ::-1]) for p in images for x0, y0, x1, y1 in boxes]
        texts = [text.lower() for text, _ in recognize(crops)[0]]
        return [" ".join(texts[i:i + len(boxes)]) for i in range(0, len(texts), len(boxes))]

    def anonymized(method, **params):
        return np.asarray(apply(image[None], boxes[None], everything, method, **params))[0]

    original, fine_grid = read(image, anonymized("pixel", cells=16))
    assert all(w.lower() in original for w in words)
    assert sum(w.lower() in fine_grid for w in words) >= 3
    for method, text in zip(("pixel", "blur", "mask"), read(*(anonymized(m) for m in ("pixel", "blur", "mask"))),
                            strict=True):
        assert not any(w.lower() in text for w in words), (method, text)
