"""Blur of the selected boxes of one image on the host, touching only their pixels.

The dense blur filters every pixel within the box that owns it: ``PASSES`` extended box filters along x,
then ``PASSES`` along y, reflect-101 at the box's edges. Where boxes overlap, a pass at a pixel reads
pixels that another box owns, so boxes are grouped by connected overlaps and each group is filtered on its
own crop:

- inside the image, the passes run one at a time with ``cv2.filter2D`` on views of a float32 buffer, every
  box filtering its whole rectangle from the previous pass in index order, so that each pixel ends with
  the value of the box that owns it (a box alone is a group of one);
- a group with a box reaching past the image edge, which the dense path treats as the end of the data,
  not as a mirror, runs the dense algorithm itself in numpy (``box_filters.blur_crop``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from anonjax.anonymize.box_filters import PASSES, blur_crop, filter_shape

_BORDER = cv2.BORDER_REFLECT_101 | cv2.BORDER_ISOLATED  # never read past a view, whatever it is part of


def blur_boxes(image: np.ndarray, out: np.ndarray, boxes: Sequence[Sequence[int]], sigma: float) -> None:
    """Write into ``out`` the blur of ``boxes`` (xyxy [n, 4], the selected boxes in index order) of uint8
    [H, W, 3] ``image``; ``sigma`` is the standard deviation as a fraction of a box's shorter side."""
    height, width = image.shape[:2]
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    clipped = np.clip(boxes, 0, [width, height, width, height])
    visible = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    boxes, clipped = boxes[visible], clipped[visible]
    overlap = ((clipped[:, None, 0] < clipped[None, :, 2]) & (clipped[None, :, 0] < clipped[:, None, 2])
               & (clipped[:, None, 1] < clipped[None, :, 3]) & (clipped[None, :, 1] < clipped[:, None, 3]))
    boxes, clipped = boxes.tolist(), clipped.tolist()
    for members in _components(len(boxes), np.argwhere(np.triu(overlap, 1)).tolist()):
        group = [boxes[i] for i in members]
        x0, y0 = min(clipped[i][0] for i in members), min(clipped[i][1] for i in members)
        x1, y1 = max(clipped[i][2] for i in members), max(clipped[i][3] for i in members)
        local = [[bx0 - x0, by0 - y0, bx1 - x0, by1 - y0] for bx0, by0, bx1, by1 in group]
        if all(boxes[i] == clipped[i] for i in members):
            _blur_group(image[y0:y1, x0:x1], out[y0:y1, x0:x1], local, sigma)
        else:
            blurred, covered = blur_crop(image[y0:y1, x0:x1], local, sigma)
            out[y0:y1, x0:x1][covered] = blurred[covered]


def _blur_group(crop: np.ndarray, out: np.ndarray, boxes: list[list[int]], sigma: float) -> None:
    """The dense blur of ``boxes`` (xyxy inside the crop, index order), one pass at a time. Every box
    writes its whole rectangle at every pass, so every pixel a pass reads was written by the pass before."""
    rects = [(slice(y0, y1), slice(x0, x1)) for x0, y0, x1, y1 in boxes]
    kernels = [_kernels(sigma, x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes]
    views = [[buffer[rect] for rect in rects] for buffer in np.empty((2, *crop.shape), np.float32)]
    source = [crop[rect] for rect in rects]
    for step in range(2 * PASSES):
        axis, target = int(step >= PASSES), views[step % 2]
        for view, kernel, into in zip(source, kernels, target, strict=True):
            cv2.filter2D(view, cv2.CV_32F, kernel[axis], dst=into, borderType=_BORDER)
        source = target
    for view, rect in zip(source, rects, strict=True):
        cv2.convertScaleAbs(view, dst=out[rect])  # rounds half to even; blurred uint8 values stay in 0..255


@functools.lru_cache(maxsize=4096)
def _kernels(sigma: float, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """One extended box filter along x (float32 [1, n]) and along y ([n, 1]) of a ``w`` x ``h`` box."""
    along = []
    for side in (w, h):
        radius, alpha = (v.item() for v in filter_shape(np.float32(sigma) * np.float32(min(w, h)), side))
        kernel = np.ones(2 * radius + 3, np.float32)
        kernel[[0, -1]] = alpha
        along.append(np.trim_zeros(kernel / np.float32(2 * radius + 1 + 2 * alpha)))
    return along[0][None], along[1][:, None]


def _components(count: int, links: Iterable[Sequence[int]]) -> list[list[int]]:
    """The connected components of nodes ``0 .. count-1`` joined by ``links`` (pairs), each in ascending
    order."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in links:
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(count):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())
