"""Which boxes of an image are anonymized at a degree: seeded per image, nested across degrees.

Each image draws one random order of its boxes from a generator seeded by (seed, image id), through
SHA-256 of both, so the choice never depends on batch order, process or device count, or Python's
hash randomization. At degree p the first ``box_count(n, p)`` boxes of that order are chosen, hence the
boxes of a lower degree are always among those of a higher one.

Count rule: ``ceil(p * n)`` boxes of ``n``, computed with a 1e-9 tolerance (so 0.1 * 30 gives 3), which
is at least one box whenever the image has any: a degree never leaves a detected image untouched.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np


def box_count(n_boxes: int, degree: float) -> int:
    """How many of ``n_boxes`` boxes degree ``degree`` in (0, 1] anonymizes: ceil(degree * n)."""
    if not 0 < degree <= 1:
        raise ValueError(f"degree must be in (0, 1], got {degree!r}")
    if n_boxes < 0:
        raise ValueError(f"n_boxes must be >= 0, got {n_boxes!r}")
    return min(n_boxes, math.ceil(degree * n_boxes - 1e-9))


def image_rng(seed: int, image_id: str) -> np.random.Generator:
    """A generator that depends only on (seed, image id)."""
    digest = hashlib.sha256(f"{int(seed)}\x00{image_id}".encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))


def box_ranks(n_boxes: int, *, seed: int, image_id: str) -> np.ndarray:
    """Each box's position in the image's random order, int32 [n_boxes]."""
    order = image_rng(seed, image_id).permutation(n_boxes)
    ranks = np.empty(n_boxes, np.int32)
    ranks[order] = np.arange(n_boxes, dtype=np.int32)
    return ranks


def select_boxes(n_boxes: int, degree: float, *, seed: int, image_id: str) -> np.ndarray:
    """bool [n_boxes]: the boxes of image ``image_id`` anonymized at ``degree``."""
    count = box_count(n_boxes, degree)
    return box_ranks(n_boxes, seed=seed, image_id=image_id) < count
