"""Detector output to the project's box convention: int32 xyxy, half-open, clipped to the image.

Rounding goes outward (floor the start, ceil the end) so a box never shrinks below what the detector
found, and boxes come sorted top to bottom, left to right, so an image's box order (which the degree
selection indexes) never depends on a detector's internal order. A box that is not finite or has its
end before its start is an error, never silently dropped: where a detector went wrong the image must
fail, not be published with a face left in it.
"""

from __future__ import annotations

import numpy as np


class BoxError(ValueError):
    """A detector returned boxes that cannot be trusted."""


def check_image(image: np.ndarray) -> np.ndarray:
    """``image`` as a contiguous uint8 [H, W, 3] array; a ValueError for anything else."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 [H, W, 3] RGB, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def clean_boxes(boxes: np.ndarray, scores: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Float xyxy boxes [n, 4] and scores [n] as clipped int32 boxes and float32 scores.

    Boxes entirely outside the image, or empty after clipping, are dropped (nothing of them is visible).
    Raises BoxError for non-finite values, a wrong shape, or an end before a start.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4))
    scores = np.asarray(scores, np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise BoxError(f"{len(boxes)} boxes but {len(scores)} scores")
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise BoxError("a box or score is not finite")
    if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise BoxError("a box ends before it starts (boxes must be x0, y0, x1, y1)")
    out = np.empty(boxes.shape, np.int64)
    out[:, [0, 1]] = np.floor(boxes[:, [0, 1]])
    out[:, [2, 3]] = np.ceil(boxes[:, [2, 3]])
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    keep = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
    out, scores = out[keep], scores[keep]
    order = np.lexsort((out[:, 3], out[:, 2], out[:, 0], out[:, 1]))
    return out[order].astype(np.int32), scores[order].astype(np.float32)


def check_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """``boxes`` as int32 [n, 4] if every box is finite, non-empty and inside the image; BoxError if not."""
    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise BoxError(f"boxes must be [n, 4], got shape {boxes.shape}")
    if not np.isfinite(boxes).all():
        raise BoxError("a box is not finite")
    x0, y0, x1, y1 = boxes.T
    if ((x0 < 0) | (y0 < 0) | (x1 > width) | (y1 > height) | (x1 <= x0) | (y1 <= y0)).any():
        raise BoxError(f"a box is empty or outside the {width}x{height} image")
    return boxes.astype(np.int32)


def box_area_fraction(boxes: np.ndarray, height: int, width: int) -> float:
    """Fraction of the image's pixels covered by the union of int xyxy ``boxes``."""
    covered = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in np.asarray(boxes, int).reshape(-1, 4):
        covered[y0:y1, x0:x1] = True
    return float(covered.mean()) if covered.size else 0.0
