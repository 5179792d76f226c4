"""The image as the model sees it: fitted to the training canvas (``anonjax.data.canvas``), anonymized there
from its boxes, cut back to its content and resized to the model's square input (uint8, before
normalization), with its boxes mapped to the input's pixels.

The embed stage embeds exactly these pixels; the anonymize stage measures on them how tall the boxes are
and how much of them each method changes where the model looks. At small canvases a text line is a few
pixels tall there, and pixelating a box of at most ``cells`` pixels per side gives the box back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from anonjax.anonymize.methods import apply
from anonjax.data.transforms import resize_square


class ModelInputs(NamedTuple):
    """A batch as the model sees it: pixels uint8 [B, S, S, 3] before normalization, and every box mapped to
    the input, float64 [B, M, 4] xyxy (exact, not rounded: a box may be less than a pixel tall there)."""

    pixels: np.ndarray
    boxes: np.ndarray


def model_inputs(canvases: np.ndarray, sizes: Sequence[tuple[int, int]], boxes: np.ndarray, image_size: int, *,
                 method: str | None = None, selected: np.ndarray | None = None,
                 params: Mapping[str, Any] | None = None) -> ModelInputs:
    """Canvases uint8 [B, C, C, 3] with their content (height, width) at the top-left and their boxes int32
    [B, M, 4] in canvas pixels, as the model's input of side ``image_size``: the ``selected`` boxes (bool
    [B, M]) anonymized by ``method`` with ``params`` (``apply``'s keywords; no method: the original), each
    content cut out and resized to a square."""
    pixels = canvases
    if method is not None:
        if selected is None:
            raise ValueError(f"method {method!r} needs the selected boxes")
        pixels = np.asarray(apply(canvases, boxes, selected, method, **dict(params or {}), backend="numpy"))
    resized = np.stack([resize_square(p[:h, :w], image_size) for p, (h, w) in zip(pixels, sizes, strict=True)])
    return ModelInputs(resized, input_boxes(boxes, sizes, image_size))


def input_boxes(boxes: np.ndarray, sizes: Sequence[tuple[int, int]], image_size: int) -> np.ndarray:
    """Boxes [B, M, 4] xyxy on content of (height, width) ``sizes``, in the pixels of the square input of
    side ``image_size`` that the content is resized to (float64; each axis scales on its own)."""
    scale = np.array([[image_size / w, image_size / h] * 2 for h, w in sizes], np.float64).reshape(-1, 1, 4)
    return np.asarray(boxes, np.float64) * scale


def box_pixels(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """bool [height, width]: the pixels whose centre lies inside any of ``boxes`` (float xyxy [n, 4]); for
    integer boxes exactly the pixels of the half-open boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    ys, xs = np.arange(height) + 0.5, np.arange(width) + 0.5
    rows = ((ys >= boxes[:, 1:2]) & (ys < boxes[:, 3:4])).astype(np.float32)  # [n, H]
    cols = ((xs >= boxes[:, 0:1]) & (xs < boxes[:, 2:3])).astype(np.float32)  # [n, W]
    return rows.T @ cols > 0
