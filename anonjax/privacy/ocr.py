"""Reading the text of an image as an attacker would: the full PP-OCRv3 pipeline of ``rapidocr-onnxruntime``.

``RapidOCR`` runs PP-OCRv3 detection (DB), the angle classifier and PP-OCRv3 recognition (CTC) offline with
its packaged ONNX models and default settings, and keeps the lines recognized with a score of at least
``text_score`` (0.5). Its result, read from the installed package (``rapid_ocr_api.py``, version 1.2.x), is
``(lines, elapsed)`` with ``lines`` a list of ``[points, text, score]`` (``points`` the four corners of the
line as ``[[x, y], ...]``, ``score`` a string) or ``(None, None)`` when nothing was read; its input is a
BGR array. The package installs only on Python < 3.12 (the ``detect`` extra); elsewhere reading raises
``Unavailable``, which the measures report as missing.
"""

from __future__ import annotations

import importlib.util
from typing import NamedTuple

import numpy as np

from anonjax.anonymize.boxes import check_image
from anonjax.privacy.outcome import Unavailable

NOT_INSTALLED = ("rapidocr-onnxruntime is not installed (it installs only on Python < 3.12, with the `detect` "
                 "extra), so text cannot be read")


def ocr_installed() -> bool:
    """Whether the OCR package can be imported (installing it changes what the text measures can read)."""
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


class OcrLine(NamedTuple):
    """One recognized line: its text, the axis-aligned box (x0, y0, x1, y1) around its corners, its score."""

    text: str
    box: tuple[float, float, float, float]
    score: float


class Ocr:
    """PP-OCRv3 detection and recognition of a uint8 RGB image, as a list of ``OcrLine`` in RapidOCR's
    reading order. The engine is created on first use; ``settings`` are RapidOCR's keyword arguments."""

    def __init__(self, **settings):
        self._settings = settings
        self._engine = None

    def __call__(self, image: np.ndarray) -> list[OcrLine]:
        image = check_image(image)
        result, _ = self._load()(np.ascontiguousarray(image[..., ::-1]))
        lines = []
        for points, text, score in result or []:
            corners = np.asarray(points, np.float64).reshape(-1, 2)
            x0, y0 = corners.min(0)
            x1, y1 = corners.max(0)
            lines.append(OcrLine(str(text), (float(x0), float(y0), float(x1), float(y1)), float(score)))
        return lines

    def _load(self):
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as error:
                raise Unavailable(NOT_INSTALLED) from error
            self._engine = RapidOCR(**self._settings)
        return self._engine
