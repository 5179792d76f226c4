"""Overlaps of xyxy boxes (half-open, in pixels): IoU, one-to-one matches, and area covered by a set of boxes."""

from __future__ import annotations

import numpy as np


def _as_boxes(boxes) -> np.ndarray:
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def _areas(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def intersections(a, b) -> np.ndarray:
    """Intersection areas of every box of ``a`` [n, 4] with every box of ``b`` [m, 4]: [n, m]."""
    a, b = _as_boxes(a), _as_boxes(b)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def iou(a, b) -> np.ndarray:
    """Intersection over union of every pair: [n, m] (0 for empty boxes)."""
    a, b = _as_boxes(a), _as_boxes(b)
    inter = intersections(a, b)
    union = _areas(a)[:, None] + _areas(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def overlap_of_smaller(a, b) -> np.ndarray:
    """Intersection over the smaller box's area, every pair: [n, m]. 1 when one box lies inside the other,
    so a fragment of a line read on its own still matches the whole line."""
    a, b = _as_boxes(a), _as_boxes(b)
    inter = intersections(a, b)
    smaller = np.minimum(_areas(a)[:, None], _areas(b)[None, :])
    return np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)


def matches(reference, found, threshold: float = 0.5) -> np.ndarray:
    """For each reference box, whether a found box has IoU >= ``threshold`` with it, one found box per
    reference box: pairs are taken greedily from the highest IoU down. bool [n]."""
    overlap = iou(reference, found)
    matched = np.zeros(overlap.shape[0], bool)
    used = np.zeros(overlap.shape[1], bool)
    for flat in np.argsort(-overlap, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, overlap.shape)
        if overlap[i, j] < threshold:
            break
        if not matched[i] and not used[j]:
            matched[i] = used[j] = True
    return matched


def covered_fraction(boxes, cover, height: int, width: int) -> np.ndarray:
    """For each box of ``boxes``, the fraction of its pixels inside the union of the ``cover`` boxes, on an
    image of ``height`` x ``width`` (boxes rounded outward to whole pixels and clipped): float [n]."""
    inside = np.zeros((height + 1, width + 1), np.int64)
    mask = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in _pixels(cover, height, width):
        mask[y0:y1, x0:x1] = True
    inside[1:, 1:] = mask.cumsum(0).cumsum(1)
    out = []
    for x0, y0, x1, y1 in _pixels(boxes, height, width):
        area = (x1 - x0) * (y1 - y0)
        covered = inside[y1, x1] - inside[y0, x1] - inside[y1, x0] + inside[y0, x0]
        out.append(covered / area if area > 0 else 0.0)
    return np.array(out, np.float64)


def _pixels(boxes, height: int, width: int) -> np.ndarray:
    boxes = _as_boxes(boxes)
    out = np.concatenate([np.floor(boxes[:, :2]), np.ceil(boxes[:, 2:])], axis=1).astype(np.int64)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out
