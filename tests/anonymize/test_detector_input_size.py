"""``data.max_pixels`` bounds what the detectors are given, not only the file: a thin strip is detected at a
capped scale, and an image that cannot fit is left out with its reason."""

import cv2
import numpy as np
import pytest
from anon_test_images import rendered_page

from anonjax.anonymize import FaceDetector, TextDetector, detect_split, load_box_table
from anonjax.data.image_io import DEFAULT_MAX_PIXELS


@pytest.fixture
def resizes(monkeypatch):
    """The (width, height) of every cv2.resize; the image is shrunk to 32 x 32 instead, so that a test of a
    size that would exhaust memory costs nothing."""
    sizes, resize = [], cv2.resize

    def small(image, size, *args, **kwargs):
        sizes.append(tuple(size))
        return resize(image, (32, 32))

    monkeypatch.setattr(cv2, "resize", small)
    return sizes


def test_a_thin_strip_gives_the_text_model_at_most_max_pixels(resizes):
    TextDetector()(np.full((16, 4000, 3), 255, np.uint8))  # PaddleOCR's rule: 184,000 x 736
    (width, height), = resizes
    assert 0.9 * DEFAULT_MAX_PIXELS < width * height <= DEFAULT_MAX_PIXELS  # about the largest scale that fits
    assert width % 32 == height % 32 == 0 and abs(width / height / 250 - 1) < 0.1


def test_text_on_a_strip_is_found_at_the_capped_scale():
    page, (ink,) = rendered_page(lines=("Customer: Erika Mustermann",), size=(1200, 60))
    detector = TextDetector(max_pixels=1_000_000)  # PaddleOCR's rule would give 14,720 x 736
    assert np.prod(detector._input_size(*page.shape[:2])) <= 1_000_000
    boxes, _ = detector(page)
    assert any(b[0] <= ink[0] and b[1] <= ink[1] and b[2] >= ink[2] and b[3] >= ink[3] for b in boxes.tolist())


def test_an_image_that_cannot_fit_is_left_out_with_its_reason(tmp_path):
    images = {"strip.png": np.full((50, 100, 3), 255, np.uint8), "large.png": np.full((100, 200, 3), 255, np.uint8)}
    ids = list(images)
    detect_split(ids, lambda i: images[ids[i]], ("text",), {}, tmp_path, max_pixels=10_000)
    table = load_box_table(tmp_path, keep_empty=True)
    assert table.ids == ["strip.png"]
    assert list(table.failed) == ["large.png"]
    assert "200x100 image would hold more than data.max_pixels = 10000 pixels" in table.failed["large.png"]


def test_mtcnn_pyramid_over_max_pixels_is_an_error(resizes):
    image = np.full((2200, 2200, 3), 128, np.uint8)
    with pytest.raises(ValueError, match=r"2200x2200 image at min_face_size = 4 would hold more than "
                                         r"data.max_pixels = 40000000 pixels"):
        FaceDetector(min_face_size=4)(image)  # its first level: 6,600 x 6,600
    assert resizes == []
    FaceDetector()(image)  # at the default min_face_size, the first level is 0.36 times the image
    assert max(w * h for w, h in resizes) <= DEFAULT_MAX_PIXELS

