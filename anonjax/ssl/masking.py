"""iBOT block masking of global crops, drawn on the host like the official collate function.

A fraction ``probability`` of the global crops in a batch is masked; their mask ratios are spread
evenly over ``ratio_range`` (one draw per stratum), and each mask is a union of random rectangles of
patches (BEiT's block masking). The rest of the crops get empty masks; the order is shuffled.
"""

from __future__ import annotations

import math

import numpy as np


def block_mask(
    rng: np.random.Generator, patch_shape: tuple[int, int], n_masked: int, *, min_patches: int = 4,
    max_patches: int | None = None, min_aspect: float = 0.3,
) -> np.ndarray:
    """A bool [h, w] mask with about ``n_masked`` patches set, built from random rectangles."""
    height, width = patch_shape
    max_patches = n_masked if max_patches is None else max_patches
    log_aspect = (math.log(min_aspect), math.log(1 / min_aspect))
    mask = np.zeros(patch_shape, dtype=bool)
    count = 0
    while count < n_masked:
        budget = min(n_masked - count, max_patches)
        added = 0
        for _ in range(10):
            area = min_patches + (budget - min_patches) * rng.random()  # budget may be below min_patches
            aspect = math.exp(rng.uniform(*log_aspect))
            h = round(math.sqrt(area * aspect))
            w = round(math.sqrt(area / aspect))
            if w < width and h < height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                block = mask[top : top + h, left : left + w]
                new = h * w - int(block.sum())
                if 0 < new <= budget:
                    block[...] = True
                    added = new
            if added > 0:
                break
        if added == 0:
            break
        count += added
    return mask


def batch_masks(
    rng: np.random.Generator, n_crops: int, patch_shape: tuple[int, int], *, probability: float = 0.5,
    ratio_range: tuple[float, float] = (0.1, 0.5),
) -> np.ndarray:
    """Masks bool [n_crops, h*w] for the global crops of a batch."""
    n_tokens = patch_shape[0] * patch_shape[1]
    n_masked_crops = int(n_crops * probability)
    bounds = np.linspace(ratio_range[0], ratio_range[1], n_masked_crops + 1)
    masks = np.zeros((n_crops, n_tokens), dtype=bool)
    for i in range(n_masked_crops):
        target = int(n_tokens * rng.uniform(bounds[i], bounds[i + 1]))
        masks[i] = block_mask(rng, patch_shape, target, max_patches=n_tokens // 2).reshape(-1)
    return masks[rng.permutation(n_crops)]


def max_masked(n_crops: int, n_tokens: int, *, probability: float = 0.5,
               ratio_range: tuple[float, float] = (0.1, 0.5)) -> int:
    """An upper bound on the masked patches of ``batch_masks`` (the official ``upperbound``): a static
    size for the buffer of masked patch tokens."""
    n_masked_crops = int(n_crops * probability)
    bounds = np.linspace(ratio_range[0], ratio_range[1], n_masked_crops + 1)
    return max(sum(int(n_tokens * b) for b in bounds[1:]), 1)
