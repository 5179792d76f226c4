"""iBOT block masking of global crops, drawn on the host like the official collate function.

A fraction ``probability`` of the global crops in a group is masked; their mask ratios are spread
evenly over ``ratio_range`` (one draw per stratum), and each mask is a union of random rectangles of
patches (BEiT's block masking). The rest of the crops get empty masks; the order is shuffled. The official
collate function draws this per GPU batch; here a group is a fixed run of consecutive crops of the global
batch (the whole batch by default), so the draw never depends on how many devices or hosts share the batch.
Each group's bound on masked patches (``max_masked``) sizes that group's part of the train step's static
buffer, and each host computes only the masks of its own crops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
    key: Sequence[int], n_crops: int, patch_shape: tuple[int, int], *, probability: float = 0.5,
    ratio_range: tuple[float, float] = (0.1, 0.5), crops: Sequence[int] | None = None, group: int = 0,
) -> np.ndarray:
    """Masks bool [len(crops), h*w] for the crops ``crops`` (all by default) of the ``n_crops`` global crops
    of a batch, drawn in groups of ``group`` consecutive crops (0: one group, the whole batch).

    A function of ``key`` (non-negative integers, e.g. (seed, step)) and the crop's position alone: the
    strata of group ``j`` (which of its crops are masked and how many patches each may take) are drawn from
    ``(*key, 1, j)``, the rectangles of crop ``i`` from ``(*key, 2, i)``. A slice is therefore the same
    whichever host draws it, and no group masks more than :func:`max_masked` of ``group`` crops (each crop
    stays within its stratum's upper ratio)."""
    group = group or n_crops
    if n_crops % group:
        raise ValueError(f"mask groups of {group} crops must divide the batch's {n_crops} crops")
    n_tokens = patch_shape[0] * patch_shape[1]
    n_masked_crops = int(group * probability)
    bounds = np.linspace(ratio_range[0], ratio_range[1], n_masked_crops + 1)
    targets = np.zeros((n_crops // group, group), np.int64)
    for j in range(n_crops // group):
        strata = np.random.default_rng([*key, 1, j])
        targets[j, :n_masked_crops] = (n_tokens * strata.uniform(bounds[:-1], bounds[1:])).astype(np.int64)
        targets[j] = targets[j, strata.permutation(group)]
    targets = targets.reshape(-1)
    crops = range(n_crops) if crops is None else crops
    masks = np.zeros((len(crops), n_tokens), dtype=bool)
    for row, i in enumerate(crops):
        if targets[i]:
            rng = np.random.default_rng([*key, 2, i])
            masks[row] = block_mask(rng, patch_shape, int(targets[i]), max_patches=n_tokens // 2).reshape(-1)
    return masks


def max_masked(n_crops: int, n_tokens: int, *, probability: float = 0.5,
               ratio_range: tuple[float, float] = (0.1, 0.5)) -> int:
    """An upper bound on the masked patches of ``batch_masks`` (the official ``upperbound``): a static
    size for the buffer of masked patch tokens."""
    n_masked_crops = int(n_crops * probability)
    bounds = np.linspace(ratio_range[0], ratio_range[1], n_masked_crops + 1)
    return max(sum(int(n_tokens * b) for b in bounds[1:]), 1)
