"""Which validation images the privacy measures run on: a seeded sample that is a pure function of the ids."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def privacy_sample(seed: int, ids: Sequence[str], count: int) -> list[int]:
    """Indices (ascending) of ``count`` of ``ids``, all of them when there are fewer.

    Every id gets the key SHA-256(seed, id) and the ``count`` smallest keys are taken, so the sample depends
    on the seed and the ids alone, not on their order, and an image stays in it when others are added
    unless a new id's key displaces it.
    """
    if count < 0:
        raise ValueError(f"the privacy sample needs count >= 0, got {count}")
    if len(set(ids)) != len(ids):
        raise ValueError("image ids must be unique to be sampled")
    keys = [hashlib.sha256(f"{int(seed)}\0{image_id}".encode()).digest() for image_id in ids]
    return sorted(sorted(range(len(ids)), key=keys.__getitem__)[:count])
