"""Barcodes and QR codes with OpenCV's own detectors (identity documents carry both)."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from anonjax.anonymize.boxes import check_image, clean_boxes
from anonjax.anonymize.model_files import package_version


class CodeDetector:
    """1-D barcodes (``cv2.barcode.BarcodeDetector``) and QR codes (``cv2.QRCodeDetectorAruco``, which finds
    several codes per image more reliably than ``cv2.QRCodeDetector``) of a uint8 RGB image as clipped
    int32 xyxy boxes; OpenCV gives no confidence, so every score is 1."""

    def __init__(self, barcodes: bool = True, qr_codes: bool = True):
        self._barcode = cv2.barcode.BarcodeDetector() if barcodes else None
        self._qr = cv2.QRCodeDetectorAruco() if qr_codes else None

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        image = check_image(image)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        quads = []
        for detector in (self._barcode, self._qr):
            if detector is None:
                continue
            found, points = detector.detectMulti(gray)
            if found and points is not None:
                quads.extend(np.asarray(points, np.float64).reshape(-1, 4, 2))
        boxes = np.array([[*q.min(0), *(q.max(0) + 1)] for q in quads], np.float64).reshape(-1, 4)
        return clean_boxes(boxes, np.ones(len(boxes)), *image.shape[:2])

    @staticmethod
    def describe() -> dict:
        """The OpenCV build that ran, for the run's report."""
        return {"backend": f"OpenCV {cv2.__version__} barcode.BarcodeDetector + QRCodeDetectorAruco",
                "opencv": package_version("opencv-python-headless"), "models": []}


@functools.cache
def _default() -> CodeDetector:
    return CodeDetector()


def detect_codes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barcodes and QR codes: (boxes int32 [n, 4] xyxy, scores float32 [n], all 1)."""
    return _default()(image)
