"""Small image files for the data tests: random pixels, truncated and corrupt files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def rgb(seed: int, h: int = 24, w: int = 20) -> np.ndarray:
    """A random uint8 RGB image."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save(path: Path, pixels: np.ndarray, fmt: str | None = None, **kwargs) -> Path:
    """Write ``pixels`` with PIL, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt, **kwargs)
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut ``path`` to ``keep`` of its length."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def corrupt_png_payload(path: Path, pixels: np.ndarray) -> Path:
    """A PNG whose header and end are sound but whose compressed pixels are garbage."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    start = data.find(b"IDAT") + 40
    for k in range(start, min(start + 300, len(data) - 20)):
        data[k] ^= 0x5A
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path
