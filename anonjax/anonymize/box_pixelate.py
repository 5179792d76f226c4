"""Pixelation of the selected boxes of one image on the host, bit-identical to the dense path.

A box is cut into cells as ``methods._pixelate`` cuts it, and each cell takes the mean of its pixels inside
the image: the exact sum (differences of the integral image of the box's crop) in float32 times the float32
reciprocal of the cell's pixel count, rounded half to even, for all boxes of the image at once. That is the
dense path's arithmetic as compiled: XLA turns its division by the count, broadcast over the channels, into
a multiplication by the reciprocal, which decides how sums halfway between two grey levels round. The means
are blown back up box by box in index order, so where boxes overlap the later box wins.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np


def pixelate_boxes(image: np.ndarray, out: np.ndarray, boxes: Sequence[Sequence[int]], cells: int) -> None:
    """Write into ``out`` the pixelation of ``boxes`` (xyxy [n, 4], the selected boxes in index order) of
    uint8 [H, W, 3] ``image`` with ``cells`` cells along a box's shorter side."""
    height, width = image.shape[:2]
    placed, corners = [], []
    for x0, y0, x1, y1 in boxes:
        if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
            if x1 <= x0 or y1 <= y0:
                continue
            grid = _inside_grid(x1 - x0, y1 - y0, cells)
            rect = slice(y0, y1), slice(x0, x1)
        else:
            if min(x1, width) <= max(x0, 0) or min(y1, height) <= max(y0, 0):
                continue
            nx, ny = _cell_counts(x1 - x0, y1 - y0, cells)
            grid = _grid(_visible(x0, x1 - x0, nx, width), _visible(y0, y1 - y0, ny, height))
            rect = slice(max(y0, 0), y1), slice(max(x0, 0), x1)
        corners.append(cv2.integral(image[rect], sdepth=grid.depth).ravel().take(grid.corners))
        placed.append((rect, grid))
    if not placed:
        return
    corner = np.concatenate(corners, axis=1)
    scale = np.concatenate([grid.scale for _, grid in placed])
    means = np.rint(np.multiply(corner[0] - corner[1] - corner[2] + corner[3], scale, dtype=np.float32))
    means = means.astype(np.uint8)
    start = 0
    for rect, grid in placed:
        cell = means[start:start + len(grid.scale)].reshape(grid.shape)
        out[rect] = cell.repeat(grid.x_sizes, axis=1).repeat(grid.y_sizes, axis=0)
        start += len(grid.scale)


class _Grid(NamedTuple):
    """The pixelation cells of the part of a box inside the image, row by row."""

    corners: np.ndarray  # int [4, cells, 3]: each cell's corners (bottom-right, top-right, bottom-left,
    # top-left) per channel, as indices into the flattened integral image of the box's crop
    scale: np.ndarray  # float32 [cells, 1]: the reciprocal of each cell's pixel count
    shape: tuple[int, int, int]  # (ny, nx, 3)
    x_sizes: np.ndarray  # int [nx]: cell widths
    y_sizes: np.ndarray  # int [ny]: cell heights
    depth: int  # of the integral image: int32 where every sum fits, else float64 (exact to 2**53)


def _grid(x_edges: np.ndarray, y_edges: np.ndarray) -> _Grid:
    """The cells between ``x_edges`` and ``y_edges``, counted from the crop's top-left corner."""
    x_sizes, y_sizes = np.diff(x_edges), np.diff(y_edges)
    at = y_edges[:, None] * (x_edges[-1] + 1) + x_edges[None, :]
    corners = np.stack([at[1:, 1:], at[:-1, 1:], at[1:, :-1], at[:-1, :-1]]).reshape(4, -1, 1) * 3
    corners = corners + np.arange(3)
    scale = np.float32(1) / np.outer(y_sizes, x_sizes).astype(np.float32).reshape(-1, 1)
    depth = cv2.CV_32S if x_edges[-1] * y_edges[-1] * 255 < 2**31 else cv2.CV_64F
    return _Grid(corners, scale, (len(y_sizes), len(x_sizes), 3), x_sizes, y_sizes, depth)


@functools.lru_cache(maxsize=4096)
def _inside_grid(w: int, h: int, cells: int) -> _Grid:
    """The grid of a box of ``w`` x ``h`` pixels inside the image."""
    nx, ny = _cell_counts(w, h, cells)
    return _grid(_edges(w, nx), _edges(h, ny))


def _cell_counts(w: int, h: int, cells: int) -> tuple[int, int]:
    """Cells along x and y: ``cells`` along the shorter side, nearly square, at most one per pixel."""
    short = min(w, h)
    nx = min(max((2 * cells * w + short) // (2 * short), 1), w)
    return nx, min(max((2 * cells * h + short) // (2 * short), 1), h)


def _edges(side: int, n: int) -> np.ndarray:
    """Cell ``c`` of ``n`` over ``side`` pixels holds offsets ``ceil(c * side / n)`` up to the next cell's:
    the ``n + 1`` edges."""
    return -(-np.arange(n + 1) * side // n)


def _visible(start: int, side: int, n: int, length: int) -> np.ndarray:
    """The edges of the cells of a box side at ``start`` within [0, length), from where that part starts."""
    return np.unique(np.clip(start + _edges(side, n), 0, length)) - max(start, 0)
