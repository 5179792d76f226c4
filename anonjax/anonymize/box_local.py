"""The numpy backend of the anonymization methods: on the host, touching only the pixels of the selected boxes.

``methods.apply(..., backend="numpy")`` runs this: on a CPU, working box by box with numpy and OpenCV is an
order of magnitude faster than the dense jitted functions over whole images (the xla backend). Every box is
anonymized from the original pixels and written in index order, so where selected boxes overlap the later
box wins, as in the dense path. Masking and pixelation are bit-identical to it; blur agrees within one grey
level (the same float32 filters, summed in another order).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anonjax.anonymize.box_blur import blur_boxes
from anonjax.anonymize.box_pixelate import pixelate_boxes


def anonymize_boxes(images: np.ndarray, boxes: np.ndarray, box_mask: np.ndarray, method: str, *, cells: int,
                    sigma: float, fill: np.ndarray) -> np.ndarray:
    """``methods.apply`` on the numpy backend: images uint8 [B, H, W, 3], boxes int [B, M, 4] xyxy half-open, box_mask
    bool [B, M]; ``cells`` a positive int, ``sigma`` in (0, 1], ``fill`` uint8 [3]. Returns a new array."""
    height, width = images.shape[1:3]
    if method == "mask":
        boxes = np.clip(boxes, 0, [width, height, width, height])
        paint = _paint(fill, width)
    out = np.empty_like(images)
    for image, result, image_boxes, selected in zip(images, out, boxes, box_mask, strict=True):
        result[...] = image  # image by image, so that its boxes are written while it is in cache
        chosen = image_boxes[selected].tolist()
        if method == "mask":
            _mask(result, chosen, paint)
        elif method == "pixel":
            pixelate_boxes(image, result, chosen, cells)
        else:
            blur_boxes(image, result, chosen, sigma)
    return out


def _paint(fill: np.ndarray, width: int) -> np.ndarray:
    """What a mask writes into a box: a grey as one value, a colour as a row of the image's width (both much
    faster than broadcasting ``fill``, uint8 [3])."""
    return fill[0] if (fill == fill[0]).all() else np.tile(fill, (width, 1))


def _mask(out: np.ndarray, boxes: Sequence[Sequence[int]], paint: np.ndarray) -> None:
    """Fill ``boxes`` (clipped to the image) of ``out`` with ``paint`` (:func:`_paint`)."""
    for x0, y0, x1, y1 in boxes:
        if x1 > x0:
            out[y0:y1, x0:x1] = paint if paint.ndim == 0 else paint[: x1 - x0]
