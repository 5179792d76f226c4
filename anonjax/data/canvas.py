"""The square canvas that training and embedding share: an image scaled (aspect kept) to fit it, placed
top-left on black, its boxes scaled alike, and an in-memory cache of fitted images.

Anonymizing on the canvas (rather than on the full-size image) is what lets one jitted function serve
images of every size; a box is scaled outwards, so it covers at least all of the pixels it covered in
the full-size image.

Training reads every image at every step, so it fits them once per stage run into memory-mapped files
(:func:`fit_once`): each row holds the canvas with the digest of the pixels it was fitted from, checked against
the image file at the start of every run, so a canvas is never that of another image than the one read now.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from anonjax.data.identity import pixel_digest
from anonjax.files import atomic_path

_DIGEST = np.dtype("S64")  # a ``pixel_digest``, hex; empty where the image failed to decode
_CHUNK = 256  # images fitted between two flushes of the files


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
    return Fitted(*_fit(image, canvas), pixel_digest(image))


def _fit(image: np.ndarray, canvas: int) -> tuple[np.ndarray, tuple[int, int], float]:
    """The canvas, the content's (height, width) and the scale of ``image`` fitted to a ``canvas`` square."""
    h, w = image.shape[:2]
    scale = canvas / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    fitted = image
    if (nh, nw) != (h, w):
        fitted = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    out = np.zeros((canvas, canvas, 3), np.uint8)
    out[:nh, :nw] = fitted
    return out, (nh, nw), scale


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


class MappedImages:
    """The canvases :func:`fit_once` wrote into ``folder``, memory-mapped read-only: ``MappedImages[i]`` is the
    ``Fitted`` of image ``i``, or None for an image that failed to decode. Every process of a host reads the one
    copy in the page cache; pickled (to a worker process), it travels as its folder's name."""

    def __init__(self, folder: str | Path, canvas: int):
        self.folder, self.canvas = Path(folder), canvas
        self.pixels, self.sizes, self.scales, self.digests = (
            np.load(self.folder / f"{name}.npy", mmap_mode="r") for name in _FILES)

    def __reduce__(self) -> tuple[Any, ...]:
        return MappedImages, (self.folder, self.canvas)

    def __len__(self) -> int:
        return len(self.digests)

    def __getitem__(self, index: int) -> Fitted | None:
        digest = self.digests[index].decode()
        if not digest:
            return None
        return Fitted(np.array(self.pixels[index]), tuple(int(v) for v in self.sizes[index]),
                      float(self.scales[index]), digest)


_FILES = ("pixels", "sizes", "scales", "digests")


def fit_once(dataset: Any, canvas: int, folder: str | Path, *, threads: int | None = None) -> MappedImages:
    """The images of ``dataset`` (``dataset[i]`` a record with an ``"image"``, or None for a file that fails to
    decode) fitted to the canvas in memory-mapped files in ``folder``, kept from earlier runs where still true.

    Every image is read and digested now; a row whose digest differs (the file changed, or the row was never
    written) is fitted again. Its canvas is flushed to disk before its digest is written, so a run that stops
    half-way leaves rows that the next run fits again, never a digest beside another image's canvas. Reading
    and fitting run in ``threads`` threads (one per core by default)."""
    folder = Path(folder)
    n = len(dataset)
    shapes = {"pixels": ((n, canvas, canvas, 3), np.uint8), "sizes": ((n, 2), np.int32),
              "scales": ((n,), np.float64), "digests": ((n,), _DIGEST)}
    try:
        files = {name: np.load(folder / f"{name}.npy", mmap_mode="r+") for name in _FILES}
        fresh = any((files[name].shape, files[name].dtype) != (shape, np.dtype(dtype))
                    for name, (shape, dtype) in shapes.items())
    except (OSError, ValueError):  # absent or damaged: written anew
        fresh = True
    if fresh:
        folder.mkdir(parents=True, exist_ok=True)
        for name in reversed(_FILES):  # the empty digests first: old digests never vouch for new canvases
            with atomic_path(folder / f"{name}.npy") as tmp:
                np.lib.format.open_memmap(tmp, mode="w+", dtype=shapes[name][1], shape=shapes[name][0]).flush()
                with open(tmp, "r+b") as f:  # the disk space now: a full disk is an error here, not in a write
                    os.posix_fallocate(f.fileno(), 0, os.path.getsize(tmp))
        files = {name: np.load(folder / f"{name}.npy", mmap_mode="r+") for name in _FILES}

    def check(index: int) -> tuple[int, bytes, tuple | None]:
        record = dataset[index]
        if record is None:
            return index, b"", None
        digest = pixel_digest(record["image"]).encode()
        return index, digest, None if digest == files["digests"][index] else _fit(record["image"], canvas)

    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        for start in range(0, n, _CHUNK):
            done = list(pool.map(check, range(start, min(start + _CHUNK, n))))
            changed = [(i, digest, fitted) for i, digest, fitted in done if fitted is not None or not digest]
            if not changed:
                continue
            rows = [i for i, _, _ in changed]
            files["digests"][rows] = b""  # no row is taken as fitted while its canvas is being written
            files["digests"].flush()
            for i, _, fitted in changed:
                if fitted is not None:
                    files["pixels"][i], files["sizes"][i], files["scales"][i] = fitted
            for name in ("pixels", "sizes", "scales"):
                files[name].flush()
            files["digests"][rows] = [digest for _, digest, _ in changed]
            files["digests"].flush()
    return MappedImages(folder, canvas)
