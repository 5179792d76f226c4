"""How well the study's detectors find what a synthetic page is known to hold, and what OCR still reads after
every detected box is anonymized.

Rules against the drawn ground truth of ``anonjax.data.synthetic.Page``:

- ``text_lines``: a drawn line (its ink box) is found when the union of the detected text boxes covers at
  least ``LINE_COVER`` (half) of its area. DB boxes split and merge lines freely, so coverage rather than
  a one-to-one match; half, so a line with most of its ink outside every box counts as missed. Drawn lines
  without a letter or digit (rules drawn as a row of dashes) hold nothing to find and are left out.
- ``faces``, ``codes``: a drawn box is found when a detection of its kind has IoU >= 0.5 with it, one
  detection per drawn box. Drawn code boxes include the quiet zone around a code, detections do not.
- ``words_after``: drawn words (``readable_text.words``: length >= 3) that OCR still reads at the drawn line's
  place (an OCR line overlapping it by half of the smaller box) after every detected box, of every kind, is
  anonymized. Drawn words OCR misreads even on the original (spacing such as "co py") count as not read,
  so ``words_before``, the same count on the original page, is its ceiling (asked for with ``baseline``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from anonjax.privacy.anonymize_all import anonymize_all
from anonjax.privacy.box_overlap import covered_fraction, matches
from anonjax.privacy.ocr import Ocr, OcrLine
from anonjax.privacy.outcome import Measured, Missing, Outcome, Ratio, attempt, first_missing
from anonjax.privacy.readable_text import same_place, words_still_read

if TYPE_CHECKING:
    from anonjax.data.synthetic import Page

LINE_COVER = 0.5
MATCH_IOU = 0.5
KINDS = ("text", "faces", "codes")
RATIOS = ("text_lines", "faces", "codes")  # the ratio of each kind

Detector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def lines_found(drawn: Sequence[Sequence[int]], detected: np.ndarray, height: int, width: int) -> Ratio:
    """Drawn text boxes covered by the detected boxes over at least ``LINE_COVER`` of their area."""
    covered = covered_fraction(drawn, detected, height, width) >= LINE_COVER
    return Ratio(int(covered.sum()), len(covered))


def boxes_found(drawn: Sequence[Sequence[int]], detected: np.ndarray) -> Ratio:
    """Drawn boxes matched one-to-one by a detection at IoU >= ``MATCH_IOU``."""
    found = matches(drawn, detected, MATCH_IOU)
    return Ratio(int(found.sum()), len(found))


def _boxes(detector: Detector, image: np.ndarray) -> np.ndarray:
    return np.asarray(detector(image)[0]).reshape(-1, 4)


def drawn_words_read(texts: Sequence[str], boxes: Sequence[Sequence[int]], read: Sequence[OcrLine]) -> Ratio:
    """Words of the drawn lines ``texts`` (drawn in ``boxes``) that the OCR lines ``read`` hold at their place."""
    total = Ratio(0, 0)
    for text, there in zip(texts, same_place(boxes, read), strict=True):
        total += words_still_read(text, there)
    return total


class GroundTruthRecall:
    """Detector recall and words still read after anonymizing every detection, on one synthetic page.

    ``detectors`` maps "text", "faces" and "codes" to callables giving ``(boxes, scores)`` (default: the
    study's ``TextDetector``, ``FaceDetector`` and ``CodeDetector`` with their default settings, created on
    first use); ``ocr`` reads text (default ``Ocr``); ``method`` and ``params`` anonymize the detections.
    """

    def __init__(self, detectors: Mapping[str, Detector] | None = None,
                 ocr: Callable[[np.ndarray], Sequence[OcrLine]] | None = None, method: str = "mask", **params):
        self._detectors = dict(detectors) if detectors is not None else None
        self._ocr = ocr
        self.method, self.params = method, params

    def __call__(self, page: Page, read_words: bool = True, baseline: bool = False) -> dict[str, Outcome]:
        """``text_lines``, ``faces`` and ``codes`` of a synthetic page, with ``read_words`` ``words_after``
        too (anonymizing and OCR, the slow part), and with ``baseline`` ``words_before``."""
        image = page.image
        height, width = image.shape[:2]
        detectors = self._load_detectors()
        found = {kind: attempt(f"{kind} detector", _boxes, detectors[kind], image) for kind in KINDS}
        lines = [box for line, box in zip(page.texts, page.text_boxes, strict=True) if any(map(str.isalnum, line))]
        drawn = {"text": lines, "faces": page.face_boxes, "codes": page.code_boxes}
        out: dict[str, Outcome] = {}
        for kind, name in zip(KINDS, RATIOS, strict=True):
            if isinstance(found[kind], Missing):
                out[name] = found[kind]
            elif kind == "text":
                out[name] = Measured({name: lines_found(drawn[kind], found[kind], height, width)})
            else:
                out[name] = Measured({name: boxes_found(drawn[kind], found[kind])})
        if read_words:
            out["words_after"] = self._words(page, self._anonymized(image, found))
        if baseline:
            out["words_before"] = self._words(page, image)
        return out

    def _anonymized(self, image: np.ndarray, found: Mapping[str, np.ndarray | Missing]) -> np.ndarray | Missing:
        """``image`` with every detected box anonymized; missing when a detector failed on it."""
        missing = first_missing(*found.values())
        if missing is not None:
            return missing
        return anonymize_all(image, np.concatenate([found[k] for k in KINDS]), self.method, **self.params)

    def _words(self, page: Page, image: np.ndarray | Missing) -> Outcome:
        read = image if isinstance(image, Missing) else attempt("OCR", self._read, image)
        if isinstance(read, Missing):
            return read
        return Measured({"words": drawn_words_read(page.texts, page.text_boxes, read)})

    def _read(self, image: np.ndarray) -> list[OcrLine]:
        if self._ocr is None:
            self._ocr = Ocr()
        return list(self._ocr(image))

    def _load_detectors(self) -> dict[str, Detector]:
        if self._detectors is None:
            from anonjax.anonymize.codes import CodeDetector
            from anonjax.anonymize.faces import FaceDetector
            from anonjax.anonymize.text import TextDetector

            self._detectors = {"text": TextDetector(), "faces": FaceDetector(), "codes": CodeDetector()}
        return self._detectors
