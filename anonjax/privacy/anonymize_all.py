"""Anonymizing every given box of one image, for measures that ask what is left after 100 % anonymization."""

from __future__ import annotations

import numpy as np

from anonjax.anonymize.methods import apply

_BOX_BUCKET = 64  # boxes are padded to a multiple of this, so pages with similar box counts share a compile


def anonymize_all(image: np.ndarray, boxes: np.ndarray, method: str, **params) -> np.ndarray:
    """``image`` (uint8 [H, W, 3]) with all ``boxes`` (int xyxy [n, 4]) anonymized by ``method`` of
    ``anonjax.anonymize.methods`` with its parameters (``cells``, ``sigma``, ``fill``)."""
    boxes = np.asarray(boxes, np.int32).reshape(-1, 4)
    slots = max(_BOX_BUCKET, -(-len(boxes) // _BOX_BUCKET) * _BOX_BUCKET)
    padded = np.zeros((1, slots, 4), np.int32)
    padded[0, : len(boxes)] = boxes
    selected = np.arange(slots)[None] < len(boxes)
    return np.asarray(apply(np.asarray(image, np.uint8)[None], padded, selected, method, **params))[0]
