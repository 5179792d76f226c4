"""A plain per-image, per-box OpenCV loop of the anonymization methods: the trusted peer of the tests and of
``scripts/bench_anonymize.py``."""

from __future__ import annotations

import cv2
import numpy as np


def pixel_cells(width: int, height: int, cells: int) -> tuple[int, int]:
    """The grid of a box: ``cells`` along the shorter side, nearly square cells, at most one per pixel."""
    short = min(width, height)
    nx = min(max(round_half_up(cells * width / short), 1), width)
    ny = min(max(round_half_up(cells * height / short), 1), height)
    return nx, ny


def round_half_up(value: float) -> int:
    return int(np.floor(value + 0.5))


def anonymize(image: np.ndarray, boxes: np.ndarray, method: str, *, cells: int = 8, sigma: float = 0.2,
              fill: int = 0) -> np.ndarray:
    """Anonymize ``boxes`` of one uint8 RGB image in order, each from the original pixels of its box."""
    out = image.copy()
    for x0, y0, x1, y1 in np.asarray(boxes, int):
        if x1 <= x0 or y1 <= y0:
            continue
        roi = image[y0:y1, x0:x1]
        w, h = x1 - x0, y1 - y0
        if method == "mask":
            out[y0:y1, x0:x1] = fill
        elif method == "pixel":
            nx, ny = pixel_cells(w, h, cells)
            small = cv2.resize(roi, (nx, ny), interpolation=cv2.INTER_AREA)
            out[y0:y1, x0:x1] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
        elif method == "blur":
            std = sigma * min(w, h)
            out[y0:y1, x0:x1] = cv2.GaussianBlur(roi, (0, 0), std, std, borderType=cv2.BORDER_REFLECT_101)
        else:
            raise ValueError(f"unknown method {method!r}")
    return out
