"""The model's input: the whole image resized to ``size`` x ``size`` (cv2's area filter when shrinking,
bicubic when enlarging), then ImageNet mean/std normalisation to float32. Documents are never cropped
for evaluation (a crop can cut off the very text or face that anonymisation is about); fitting images
to the training canvas is ``anonjax.data.canvas``.
"""

from __future__ import annotations

import cv2
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` [H, W, C] resized (aspect ratio not kept) to [size, size, C], same dtype."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    shrinking = size * size < h * w
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 RGB images [..., 3] to float32 (x / 255 - mean) / std."""
    return (np.asarray(images, dtype=np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD


class EvalTransform:
    """uint8 RGB [H, W, 3] -> float32 [size, size, 3] normalised (picklable, for worker processes)."""

    def __init__(self, size: int = 224):
        if size < 1:
            raise ValueError(f"size must be a positive integer, got {size}")
        self.size = size

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return normalize(resize_square(image, self.size))

    def __repr__(self) -> str:
        return f"EvalTransform(size={self.size})"
