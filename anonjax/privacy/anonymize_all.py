"""Anonymizing every given box of one image, for measures that ask what is left after 100 % anonymization."""

from __future__ import annotations

import numpy as np

from anonjax.anonymize.methods import apply


def anonymize_all(image: np.ndarray, boxes: np.ndarray, method: str, **params) -> np.ndarray:
    """``image`` (uint8 [H, W, 3]) with all ``boxes`` (int xyxy [n, 4]) anonymized by ``method`` of
    ``anonjax.anonymize.methods`` with its parameters (``cells``, ``sigma``, ``fill``)."""
    boxes = np.asarray(boxes, np.int32).reshape(1, -1, 4)
    return apply(np.asarray(image, np.uint8)[None], boxes, np.ones(boxes.shape[:2], bool), method, **params)[0]
