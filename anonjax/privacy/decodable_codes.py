"""Barcodes and QR codes an anonymized image still gives away: payloads that OpenCV's decoders still read.

An attacker tries every decoder at hand, so a payload is read when any of these reads it on the grey image:
``cv2.QRCodeDetector`` (``detectAndDecodeMulti`` and, as it sometimes reads a single code the multi search
misses, ``detectAndDecode``), ``cv2.QRCodeDetectorAruco.detectAndDecodeMulti`` (it reads small printed codes
that ``QRCodeDetector`` misses) and, where the OpenCV build has it, ``cv2.barcode.BarcodeDetector
.detectAndDecodeMulti`` (1-D barcodes). A payload read by several decoders counts once; one decoder reading it
twice means two codes. The measure is the fraction of the original's payloads (with repeats) that the
anonymized image still decodes to exactly the same string.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

import cv2
import numpy as np

from anonjax.anonymize.boxes import check_image
from anonjax.privacy.outcome import Measured, Missing, Outcome, Ratio, first_missing


class CodeReader:
    """Payloads of the barcodes and QR codes of a uint8 RGB image, sorted, with repeats."""

    def __init__(self):
        self._qr = cv2.QRCodeDetector()
        self._qr_aruco = cv2.QRCodeDetectorAruco()
        self._barcode = cv2.barcode.BarcodeDetector() if hasattr(cv2, "barcode") else None

    def __call__(self, image: np.ndarray) -> list[str]:
        gray = cv2.cvtColor(check_image(image), cv2.COLOR_RGB2GRAY)
        counts: collections.Counter[str] = collections.Counter()
        for decoder in (self._qr, self._qr_aruco, self._barcode):
            if decoder is not None:
                counts |= collections.Counter(p for p in decoder.detectAndDecodeMulti(gray)[1] if p)
        single = self._qr.detectAndDecode(gray)[0]
        if single:
            counts |= collections.Counter([single])
        return sorted(counts.elements())

    @staticmethod
    def describe() -> str:
        """The decoders that run, for a report."""
        barcode = " + barcode.BarcodeDetector" if hasattr(cv2, "barcode") else " (no barcode module)"
        return f"OpenCV {cv2.__version__} QRCodeDetector + QRCodeDetectorAruco{barcode}"


def payloads_still_read(original: Sequence[str], anonymized: Sequence[str]) -> Ratio:
    """Original payloads (with repeats) that the anonymized image still decodes to the same string."""
    wanted, held = collections.Counter(original), collections.Counter(anonymized)
    return Ratio(sum(min(n, held[p]) for p, n in wanted.items()), sum(wanted.values()))


def code_survival(original: Sequence[str] | Missing, anonymized: Sequence[str] | Missing) -> Outcome:
    """``payloads_still_read`` as an outcome (ratio ``codes``): missing when either image failed to decode."""
    missing = first_missing(original, anonymized)
    if missing is not None:
        return missing
    return Measured({"codes": payloads_still_read(original, anonymized)})
