"""Resizing the position-embedding table exactly as PyTorch's bicubic ``interpolate`` does.

The official DINOv2 resizes its stored table with ``torch.nn.functional.interpolate``; matching it to
float32 precision needs PyTorch's own rules, which this module writes as 1-D resampling matrices
(separable, so a 2-D resize is ``Wh @ table @ Ww^T``):

- plain bicubic: Keys kernel with A = -0.75, source coordinate ``(dst + 0.5) / scale - 0.5`` where
  ``scale`` is the given ``scale_factor`` (not ``out / in``) when one is given, border taps clamped;
- antialiased bicubic: Keys kernel with A = -0.5 stretched by ``in / out`` when downsampling, taps
  outside the input dropped and the weights renormalized.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def _keys_cubic(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return np.where(x <= 1.0, near, np.where(x < 2.0, far, 0.0))


def bicubic_matrix(in_size: int, out_size: int, scale_factor: float | None = None) -> np.ndarray:
    """(out, in) float64 matrix of ``interpolate(mode="bicubic", align_corners=False)`` along one axis."""
    # PyTorch computes the source coordinate and its fraction in float32; so does this, to match it.
    f32 = np.float32
    step = f32(1.0 / scale_factor) if scale_factor else f32(in_size) / f32(out_size)
    src = step * (np.arange(out_size, dtype=f32) + f32(0.5)) - f32(0.5)
    base = np.floor(src)
    t = (src - base).astype(np.float64)
    weights = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    for tap in range(-1, 3):
        index = np.clip(base + tap, 0, in_size - 1).astype(np.int64)
        np.add.at(weights, (rows, index), _keys_cubic(t - tap, -0.75))
    return weights


def antialiased_bicubic_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out, in) float64 matrix of ``interpolate(mode="bicubic", antialias=True, size=...)``, one axis."""
    scale = in_size / out_size
    support = 2.0 * max(scale, 1.0)
    inv = 1.0 / max(scale, 1.0)
    weights = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        taps = np.arange(lo, hi)
        w = _keys_cubic((taps - center + 0.5) * inv, -0.5)
        weights[i, lo:hi] = w / w.sum()
    return weights


@functools.lru_cache(maxsize=64)
def resize_matrices(side: int, rows: int, cols: int, offset: float, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row and column matrices that take the ``side x side`` table to ``rows x cols`` as the official model.

    ``offset`` non-zero: ``scale_factor = (n + offset) / side`` (the output size is still ``n``, checked);
    zero: size-based, antialiased if asked. Computed once per input size.
    """
    if offset:
        factors = ((rows + offset) / side, (cols + offset) / side)
        sizes = tuple(math.floor(side * f) for f in factors)
        if sizes != (rows, cols):
            raise ValueError(f"scale factors {factors} give a {sizes} table, not ({rows}, {cols})")
        return bicubic_matrix(side, rows, factors[0]), bicubic_matrix(side, cols, factors[1])
    if antialias:
        return antialiased_bicubic_matrix(side, rows), antialiased_bicubic_matrix(side, cols)
    return bicubic_matrix(side, rows), bicubic_matrix(side, cols)
