"""Decoding image files of any common kind into uint8 RGB, and a cheap check that a file is whole.

Two checks guard a long run against bad files:

* ``check_file`` runs when a split is indexed. It reads only the header and the file's tail: the
  file must open as an image of at most ``data.max_pixels`` pixels (a detector's memory grows with the
  area, and a small PNG can hold a huge canvas), a JPEG must end with its end-of-image marker, a PNG
  with its IEND chunk, and a TIFF's strips or tiles must lie inside the file. This finds empty, foreign,
  oversized and truncated files without decoding pixels. It also counts pages: only the first page of a
  multi-page TIFF is read, and the reader warns about each such file.
* ``decode`` runs when a record is read and raises ``ImageError`` for anything the header check
  could not see (a corrupt payload); the reader turns that into a skipped record.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps

from anonjax.data.identity import file_stamp
from anonjax.errors import DatasetError
from anonjax.paths import as_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
DEFAULT_MAX_PIXELS = 40_000_000  # data.max_pixels: the text detector's memory grows with area (1.6 GB at 9 MP)

_TAIL_BYTES = 1024
_TIFF_STRIP_OFFSETS, _TIFF_STRIP_COUNTS = 273, 279
_TIFF_TILE_OFFSETS, _TIFF_TILE_COUNTS = 324, 325


class ImageError(DatasetError):
    """A file is not a readable image; the message names the file and the reason."""


@dataclasses.dataclass(frozen=True)
class FileCheck:
    """What indexing learns of a file: why it cannot be used (None when it can), its stamp (see
    ``identity.file_stamp``; empty when it cannot be read) and its number of pages (frames)."""

    reason: str | None
    stamp: str = ""
    pages: int = 1


def check_file(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> FileCheck:
    """Whether ``path`` (local or a URL) looks like a whole image of at most ``max_pixels`` pixels, from its header
    and tail."""
    path = as_path(path)
    try:
        if not path.is_file():
            return FileCheck("file not found")
        stamp = file_stamp(path)
        with path.open("rb") as f, warnings.catch_warnings():
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return FileCheck("empty file", stamp)
            f.seek(0)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f) as img:
                fmt = img.format
                width, height = img.size
                pages = int(getattr(img, "n_frames", 1))
                tiff_ranges = _tiff_data_ranges(img) if fmt == "TIFF" else []
            if width < 1 or height < 1:
                return FileCheck(f"image has no pixels ({width}x{height})", stamp)
            if width * height > max_pixels:
                return FileCheck(f"{width}x{height} = {width * height} pixels, more than data.max_pixels = "
                                 f"{max_pixels}", stamp)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read()
    except Exception as e:  # a damaged header makes PIL raise any type (a bad TIFF page pointer: TypeError)
        return FileCheck(f"not a readable image: {type(e).__name__}: {e}")
    reason = None
    if fmt == "JPEG" and b"\xff\xd9" not in tail:
        reason = "truncated JPEG (no end-of-image marker)"
    elif fmt == "PNG" and b"IEND" not in tail[-16:]:
        reason = "truncated PNG (no IEND chunk)"
    for offset, count in tiff_ranges:
        if reason is None and offset + count > size:
            reason = f"truncated TIFF (image data ends at byte {offset + count}, file has {size})"
    return FileCheck(reason, stamp, pages)


def _tiff_data_ranges(img: Image.Image) -> list[tuple[int, int]]:
    tags = img.tag_v2
    for offsets_tag, counts_tag in ((_TIFF_STRIP_OFFSETS, _TIFF_STRIP_COUNTS),
                                    (_TIFF_TILE_OFFSETS, _TIFF_TILE_COUNTS)):
        if offsets_tag in tags and counts_tag in tags:
            offsets, counts = tags[offsets_tag], tags[counts_tag]
            offsets = offsets if isinstance(offsets, tuple) else (offsets,)
            counts = counts if isinstance(counts, tuple) else (counts,)
            return list(zip(offsets, counts, strict=False))
    return []


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode the file at ``path`` (local or a URL) to uint8 RGB [H, W, 3]; ``ImageError`` naming the file if it
    cannot be read or decoded."""
    try:
        data = as_path(path).read_bytes()
    except OSError as e:
        raise ImageError(f"{path}: cannot read the file: {e}") from None
    return decode_bytes(data, str(path))


def decode_bytes(data: bytes, name: str) -> np.ndarray:
    """Decode encoded image bytes (``name`` is used in errors) to uint8 RGB [H, W, 3]."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return to_rgb(img)
    except ImageError as e:
        raise ImageError(f"{name}: {e}") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ImageError(f"{name}: cannot decode image: {e}") from None


def to_rgb(img: Image.Image) -> np.ndarray:
    """Pixels of a PIL image as uint8 RGB [H, W, 3].

    Grayscale is replicated to three channels, palettes are expanded, transparency is composited
    on white (a scanned page's background), 16-bit and 32-bit integer images are scaled from their own
    range (lowest to highest value) to 0..255, so 12-bit data in a 16-bit file is not left dark, and the
    EXIF orientation is applied so faces stand upright.
    """
    img.load()
    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif mode == "L" and "transparency" in img.info:
        img = img.convert("LA")
    elif mode.startswith("I;16") or mode == "I":
        gray = _own_range(np.asarray(img).astype(np.float64))
        return np.repeat(gray[:, :, None], 3, axis=2)
    elif mode not in ("L", "LA", "RGB", "RGBA", "PA"):
        raise ImageError(f"unsupported image mode {mode!r}")
    if img.mode in ("LA", "PA", "RGBA"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[:, :, 3:] / 255.0
        return np.rint(rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    pixels = np.asarray(img, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return np.ascontiguousarray(pixels)


def _own_range(wide: np.ndarray) -> np.ndarray:
    """High-bit-depth values scaled linearly from their lowest to their highest value onto 0..255 (a
    constant image becomes 0)."""
    low, high = wide.min(), wide.max()
    return np.rint((wide - low) * (255.0 / max(high - low, 1.0))).astype(np.uint8)
