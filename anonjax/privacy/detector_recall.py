"""How well the study's detectors find what a synthetic page is known to hold, and what OCR still reads of
its drawn words: the rows of ``results/privacy_recall.csv``.

Rules against the drawn ground truth of ``anonjax.data.synthetic.Page``:

- ``text_lines``: a drawn line (its ink box) is found when the union of the detected text boxes covers at
  least ``LINE_COVER`` (half) of its area. DB boxes split and merge lines freely, so coverage rather than
  a one-to-one match; half, so a line with most of its ink outside every box counts as missed. Drawn lines
  without a letter or digit (rules drawn as a row of dashes) hold nothing to find and are left out.
- ``faces``, ``codes``: a drawn box is found when a detection of its kind has IoU >= 0.5 with it, one
  detection per drawn box. Drawn code boxes include the quiet zone around a code, detections do not.
- ``words``: drawn words (``readable_text.words``: length >= 3) that OCR reads at the drawn line's place (an
  OCR line overlapping it by half of the smaller box). The privacy stage counts them on the original page
  (``words_before``) and after every detected box, of every kind, is anonymized (``words_after``). Drawn
  words OCR misreads even on the original (spacing such as "co py") count as not read, so ``words_before``
  is the ceiling of ``words_after``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from anonjax.anonymize.detection import KINDS
from anonjax.privacy.box_overlap import covered_fraction, matches
from anonjax.privacy.ocr import OcrLine
from anonjax.privacy.outcome import Measured, Missing, Outcome, Ratio
from anonjax.privacy.readable_text import same_place, words_still_read

if TYPE_CHECKING:
    from anonjax.data.synthetic import Page

LINE_COVER = 0.5
MATCH_IOU = 0.5
RATIOS = {"text": "text_lines", "faces": "faces", "codes": "codes"}  # the ratio of each detector kind


def lines_found(drawn: Sequence[Sequence[int]], detected: np.ndarray, height: int, width: int) -> Ratio:
    """Drawn text boxes covered by the detected boxes over at least ``LINE_COVER`` of their area."""
    covered = covered_fraction(drawn, detected, height, width) >= LINE_COVER
    return Ratio(int(covered.sum()), len(covered))


def boxes_found(drawn: Sequence[Sequence[int]], detected: np.ndarray) -> Ratio:
    """Drawn boxes matched one-to-one by a detection at IoU >= ``MATCH_IOU``."""
    found = matches(drawn, detected, MATCH_IOU)
    return Ratio(int(found.sum()), len(found))


def drawn_words_read(texts: Sequence[str], boxes: Sequence[Sequence[int]], read: Sequence[OcrLine]) -> Ratio:
    """Words of the drawn lines ``texts`` (drawn in ``boxes``) that the OCR lines ``read`` hold at their place."""
    total = Ratio(0, 0)
    for text, there in zip(texts, same_place(boxes, read), strict=True):
        total += words_still_read(text, there)
    return total


def detectors_found(page: Page, boxes: np.ndarray, kinds: np.ndarray, detectors: Collection[str]) -> dict[str, Outcome]:
    """``text_lines``, ``faces`` and ``codes`` of ``page`` whose detections are ``boxes`` [n, 4] with their
    ``kinds`` [n] (indices into ``anonjax.anonymize.detection.KINDS``); missing for a kind not in
    ``detectors`` (the detectors that ran)."""
    height, width = page.image.shape[:2]
    lines = [box for text, box in zip(page.texts, page.text_boxes, strict=True) if any(map(str.isalnum, text))]
    drawn = {"text": lines, "faces": page.face_boxes, "codes": page.code_boxes}
    out: dict[str, Outcome] = {}
    for kind, name in RATIOS.items():
        found = np.asarray(boxes).reshape(-1, 4)[np.asarray(kinds) == KINDS.index(kind)]
        if kind not in detectors:
            out[name] = Missing(f"the study does not run the {kind} detector")
        elif kind == "text":
            out[name] = Measured({name: lines_found(drawn[kind], found, height, width)})
        else:
            out[name] = Measured({name: boxes_found(drawn[kind], found)})
    return out


def words_read(page: Page, read: Sequence[OcrLine] | Missing) -> Outcome:
    """``drawn_words_read`` of ``page`` as an outcome (ratio ``words``): missing when the OCR is."""
    if isinstance(read, Missing):
        return read
    return Measured({"words": drawn_words_read(page.texts, page.text_boxes, read)})
