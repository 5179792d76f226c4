"""The square canvas that training and embedding share: an image scaled (aspect kept) to fit it, placed
top-left on black, its boxes scaled alike, and an in-memory cache of fitted images.

Anonymizing on the canvas (rather than on the full-size image) is what lets one jitted function serve
images of every size; a box is scaled outwards, so it covers at least all of the pixels it covered in
the full-size image.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import cv2
import numpy as np

from anonjax.data.identity import pixel_digest


class Fitted(NamedTuple):
    """One image on the canvas: pixels uint8 [C, C, 3], the (height, width) of the content at the top-left,
    the scale from the original, and the ``pixel_digest`` of the original (what its boxes were detected on)."""

    pixels: np.ndarray
    size: tuple[int, int]
    scale: float
    digest: str

    @property
    def content(self) -> np.ndarray:
        """The image part of the canvas, without the black padding."""
        return self.pixels[: self.size[0], : self.size[1]]


def fit_to_canvas(image: np.ndarray, canvas: int) -> Fitted:
    """``image`` scaled (aspect kept) to fit a ``canvas`` square, placed top-left on black."""
    h, w = image.shape[:2]
    scale = canvas / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    fitted = image
    if (nh, nw) != (h, w):
        fitted = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    out = np.zeros((canvas, canvas, 3), np.uint8)
    out[:nh, :nw] = fitted
    return Fitted(out, (nh, nw), scale, pixel_digest(image))


def scale_boxes(boxes: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
    """xyxy boxes scaled to the canvas, rounded outwards so a scaled box covers all of the original one,
    clipped to the content ``size`` (height, width)."""
    out = np.empty_like(boxes)
    out[..., :2] = np.floor(boxes[..., :2] * scale)
    out[..., 2:] = np.ceil(boxes[..., 2:] * scale)
    out[..., 0::2] = np.clip(out[..., 0::2], 0, size[1])
    out[..., 1::2] = np.clip(out[..., 1::2], 0, size[0])
    return out.astype(np.int32)


class FittedImages:
    """The images of a dataset (``dataset[i]`` a record with an ``"image"``, or None for a file that fails to
    decode) fitted to the canvas: ``FittedImages[i]`` is a ``Fitted`` or None. When all of them fit in
    ``budget_mb`` they are decoded and fitted once and kept, so that epochs, models and variants do not read
    them again."""

    def __init__(self, dataset: Any, canvas: int, *, budget_mb: float = 0.0):
        self.dataset, self.canvas = dataset, canvas
        self._kept: dict[int, Fitted | None] | None = {} if len(dataset) * canvas**2 * 3 <= budget_mb * 2**20 else None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Fitted | None:
        if self._kept is not None and index in self._kept:
            return self._kept[index]
        record = self.dataset[index]
        fitted = None if record is None else fit_to_canvas(record["image"], self.canvas)
        if self._kept is not None:
            self._kept[index] = fitted
        return fitted
