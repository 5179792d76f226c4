"""Text that a contrast stretch makes readable is detected and masked, however dark or faint it is in the file:
10-, 12- and 16-bit data in 16-bit PNGs and a low-contrast 8-bit page, with the real detectors and OCR."""

import numpy as np
import pytest
from anon_test_images import rendered_page
from PIL import Image

from anonjax.anonymize import Detectors, apply
from anonjax.data import read_image
from anonjax.privacy.ocr import Ocr
from anonjax.privacy.probe import PrivacyProbe

pytest.importorskip("onnxruntime")
pytest.importorskip("rapidocr_onnxruntime")

PERSONAL = ("anna", "miller", "12.03.1955")


def _ink() -> np.ndarray:
    """A record with a name and a date of birth: 0 on the background, 1 on full ink (anti-aliased between)."""
    page, _ = rendered_page(("Patient: ANNA MILLER", "Born 12.03.1955"), size=(360, 140), font_size=18)
    return 1.0 - page[..., 0] / 255.0


def _file(tmp_path, background: int, text: int, dtype, outlier: int | None = None):
    """The record drawn in two values of ``dtype`` and saved as PNG; ``outlier``: one pixel of that value."""
    values = np.rint(background + (text - background) * _ink()).astype(dtype)
    if outlier is not None:
        values[0, 0] = outlier
    path = tmp_path / f"record_{background}_{text}.png"
    Image.fromarray(values).save(path)
    return path


def _stretched(image: np.ndarray) -> np.ndarray:
    """What a viewer makes of an image: its 1st to 99.9th percentile stretched over 0..255."""
    low, high = np.percentile(image, [1, 99.9])
    return np.rint(np.clip((image - low) / max(high - low, 1), 0, 1) * 255).astype(np.uint8)


def _read(image: np.ndarray) -> str:
    return " ".join(line.text for line in Ocr()(image)).casefold()


@pytest.fixture(scope="module")
def detectors():
    return Detectors(("faces", "text"))


@pytest.mark.parametrize(("background", "text", "dtype", "outlier"), [
    (700, 1023, np.uint16, None),  # 10-bit data in a 16-bit file
    (3000, 4095, np.uint16, 65535),  # 12-bit data with one saturated pixel
    (30000, 31000, np.uint16, None),  # 16-bit data of low contrast
    (250, 245, np.uint8, None),  # a faint 8-bit page
], ids=["10-bit", "12-bit", "16-bit", "8-bit faint"])
def test_no_personal_word_survives_mask_at_100(tmp_path, detectors, background, text, dtype, outlier):
    image = read_image(_file(tmp_path, background, text, dtype, outlier))
    assert all(w in _read(_stretched(image)) for w in PERSONAL)  # the words are there for a viewer to read
    found = detectors(image)
    masked = np.asarray(apply(image[None], found.boxes[None], np.ones((1, len(found.boxes)), bool), "mask"))[0]
    for view in (masked, _stretched(masked)):
        read = _read(view)
        assert not any(w in read for w in PERSONAL), read


def test_a_faint_surviving_word_counts_as_read():
    """An 'anonymized' page that still holds a faint name: the privacy measure counts its words as read."""
    faint = np.repeat(np.rint(250 - 5 * _ink()).astype(np.uint8)[..., None], 3, axis=2)
    probe = PrivacyProbe()
    seen = probe.observe(faint)
    ratio = probe.measure(seen, seen, np.zeros((0, 4), np.int32), faint.shape)["text"].ratios["words"]
    assert ratio.total > 0 and ratio.hits == ratio.total
