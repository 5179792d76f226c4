"""The attacker's models run on an image (OCR, face detector, code decoders) and every measure of what an
anonymized image still gives away, compared with its original.

Measures run on the whole anonymized image, so they catch a method that fails inside its boxes and personal
data the detectors missed alike. Every model reads the image with its levels equalized
(``anonjax.anonymize.contrast``), as the detectors do: a dark or faint word that a contrast stretch makes
readable counts as read. The models are created on first use, or passed in (any callables with the
same results), so the original's observation can be computed once and compared with many anonymized twins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from anonjax.anonymize.contrast import equalize_levels
from anonjax.privacy.decodable_codes import CodeReader, code_survival
from anonjax.privacy.ocr import Ocr, OcrLine
from anonjax.privacy.outcome import Missing, Outcome, attempt
from anonjax.privacy.readable_mrz import mrz_recovery, mrz_reference
from anonjax.privacy.readable_text import text_readability
from anonjax.privacy.surviving_faces import face_survival

MEASURES = ("text", "faces", "codes", "mrz")


@dataclasses.dataclass(frozen=True)
class Observation:
    """What the models saw in one image; each part is ``Missing`` where its model failed on the image."""

    text: list[OcrLine] | Missing
    faces: np.ndarray | Missing
    codes: list[str] | Missing


class PrivacyProbe:
    """Observes images and measures what an anonymized image still reveals of its original.

    ``ocr`` maps an RGB image to ``OcrLine``s (default ``Ocr``), ``face_detector`` to ``(boxes, scores)``
    (default the study's ``FaceDetector``), ``code_reader`` to payload strings (default ``CodeReader``).
    """

    def __init__(self, ocr: Callable[[np.ndarray], Sequence[OcrLine]] | None = None,
                 face_detector: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
                 code_reader: Callable[[np.ndarray], Sequence[str]] | None = None):
        self._ocr, self._faces, self._codes = ocr, face_detector, code_reader

    def observe(self, image: np.ndarray | Missing) -> Observation:
        """Run every model on ``image`` with its levels equalized; a ``Missing`` image (one that could not be
        read) makes all missing."""
        if isinstance(image, Missing):
            return Observation(image, image, image)
        image = equalize_levels(image)
        return Observation(text=attempt("OCR", self._read_text, image),
                           faces=attempt("face detector", self._find_faces, image),
                           codes=attempt("code decoder", self._decode, image))

    def measure(self, original: Observation, anonymized: Observation, boxes: np.ndarray, shape: tuple[int, ...],
                mrz_lines: Sequence[str] | None = None, face_boxes: np.ndarray | None = None) -> dict[str, Outcome]:
        """Every measure (``MEASURES``) of an anonymized image of ``shape`` whose anonymized boxes are
        ``boxes``. ``mrz_lines`` and ``face_boxes`` are ground truth where known; otherwise the MRZ lines
        read and the faces detected on the original are the reference."""
        return {
            "text": text_readability(original.text, anonymized.text, boxes, shape),
            "faces": face_survival(original.faces if face_boxes is None else np.asarray(face_boxes),
                                   anonymized.faces),
            "codes": code_survival(original.codes, anonymized.codes),
            "mrz": mrz_recovery(mrz_reference(mrz_lines, original.text), anonymized.text),
        }

    def _read_text(self, image: np.ndarray) -> list[OcrLine]:
        if self._ocr is None:
            self._ocr = Ocr()
        return list(self._ocr(image))

    def _find_faces(self, image: np.ndarray) -> np.ndarray:
        if self._faces is None:
            from anonjax.anonymize.faces import FaceDetector

            self._faces = FaceDetector()
        return np.asarray(self._faces(image)[0]).reshape(-1, 4)

    def _decode(self, image: np.ndarray) -> list[str]:
        if self._codes is None:
            self._codes = CodeReader()
        return list(self._codes(image))
