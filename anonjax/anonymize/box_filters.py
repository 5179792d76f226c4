"""The blur's extended box filter, written once for numpy and ``jax.numpy``: the dense path of
``anonjax.anonymize.methods`` runs it jitted over whole images, the box-local path in numpy on a crop.

The blur is ``PASSES`` extended box filters per axis, each pixel filtered within the box that owns it. A
box that reaches past the image edge sees the edge as the end of the data, not as a mirror: the pixels past
it count as zero in the window sums, and the window's end taps repeat the last pixel inside. The box-local
path reproduces that by running the dense per-pixel algorithm, step for step in float32, on the crop that
holds such a box and the boxes overlapping it (:func:`blur_crop`). It agrees with the dense path within one
grey level: only the order of float32 additions differs. :func:`filter_shape` chooses the filters of every
blur (the dense one, this one and ``box_blur``'s).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PASSES = 3


def filter_shape(std, side, xp=np):
    """Radius (int32) and end-tap weight (float32) of one of ``PASSES`` extended box filters that together
    have variance ``std**2``, over a side of ``side`` pixels (radius at most ``side - 1``); ``xp``: numpy, or
    ``jax.numpy`` for the dense path.

    The dense path's float32 formulas. XLA compiles them with other roundings in the last bit (a division
    by 3 becomes a multiplication), which moves the filter as little: where the radius flips, radius ``r``
    with end weight 1 is radius ``r + 1`` with end weight 0."""
    var = xp.asarray(std, xp.float32) ** 2 / xp.float32(PASSES)
    radius = xp.floor((xp.sqrt(12 * var + 1) - 1) / 2)
    alpha = (2 * radius + 1) * (radius * (radius + 1) - 3 * var) / (6 * (var - (radius + 1) ** 2))
    side = xp.maximum(side, 1)
    radius = xp.minimum(radius.astype(xp.int32), side - 1)
    return radius, xp.where(radius + 1 <= side - 1, alpha, xp.float32(0))


def blur_crop(crop: np.ndarray, boxes: Sequence[Sequence[int]], sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The blurred crop (uint8 [h, w, 3]) and which of its pixels the boxes cover (bool [h, w]).

    ``boxes``: xyxy in the crop's coordinates, in index order (a pixel belongs to the last box covering
    it). The crop must hold every pixel of the boxes inside the image and end where the image ends on each
    side where a box reaches past it.
    """
    height, width = crop.shape[:2]
    owner = np.full((height, width), -1, np.int32)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        owner[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = k
    covered = owner >= 0
    xyxy = np.where(covered[..., None], np.asarray(boxes, np.int32).reshape(-1, 4)[np.maximum(owner, 0)], 0)
    short = np.minimum(xyxy[..., 2] - xyxy[..., 0], xyxy[..., 3] - xyxy[..., 1])
    std = np.float32(sigma) * short.astype(np.float32)
    values = np.where(covered, np.moveaxis(crop, -1, 0).astype(np.float32), np.float32(0))
    start, stop = xyxy[..., 0], xyxy[..., 2]
    for _ in range(PASSES):
        values = box_pass(values, start, stop, std)
    values, start, stop, std = (np.swapaxes(a, -1, -2) for a in (values, xyxy[..., 1], xyxy[..., 3], std))
    for _ in range(PASSES):
        values = box_pass(values, start, stop, std)
    blurred = np.clip(np.round(np.moveaxis(np.swapaxes(values, -1, -2), 0, -1)), 0, 255).astype(np.uint8)
    return blurred, covered


def box_pass(values, start, stop, std, xp=np):
    """One extended box filter along the last axis of [3, R, L] values, each pixel within its box's
    [start, stop) with reflect-101 borders; together ``PASSES`` passes have variance ``std**2``. ``xp``: numpy,
    or ``jax.numpy`` (the dense path, ``methods``)."""
    radius, alpha = filter_shape(std, stop - start, xp)
    last = start + xp.maximum(stop - start, 1) - 1
    length = values.shape[-1]
    x = xp.arange(length)
    lo, hi = x - radius, x + radius

    def reflected(i):
        return xp.clip(xp.where(i < start, 2 * start - i, xp.where(i > last, 2 * last - i, i)), 0, length - 1)

    def take_rows(table, index):  # table[c, r, index[k, r, l]] as [C, K, R, L], one flat gather for all channels
        channels, rows, width = table.shape
        return xp.take(table.reshape(channels, rows * width), index + (xp.arange(rows) * width)[:, None], axis=1)

    # Window sum over [lo, hi] with indices beyond the box mirrored back in, from prefix sums:
    # inside part + mirrored left part (start+1 .. 2*start-lo) + mirrored right part (2*last-hi .. last-1).
    prefix = xp.pad(xp.cumsum(values, axis=-1), ((0, 0), (0, 0), (1, 0)))
    left, right = lo < start, hi > last
    ends = xp.stack([xp.minimum(hi, last) + 1, xp.maximum(lo, start),
                     xp.where(left, 2 * start - lo + 1, 0), xp.where(left, start + 1, 0),
                     xp.where(right, last, 0), xp.where(right, 2 * last - hi, 0)])
    p = take_rows(prefix, xp.clip(ends, 0, length))
    window = p[:, 0] - p[:, 1] + p[:, 2] - p[:, 3] + p[:, 4] - p[:, 5]
    taps = take_rows(values, xp.stack([reflected(lo - 1), reflected(hi + 1)])).sum(1)
    weight = (2 * radius + 1).astype(xp.float32) + 2 * alpha
    # Pixels outside every box stay exactly zero, so prefix sums never carry large values into a box.
    return xp.where(stop > start, (window + alpha * taps) / weight, xp.float32(0))
