"""A small embedding set made by code, so that the evaluation runs offline with no model or data.

It mimics the study's structure, not its numbers: every image has class content and private detail (the
faces and text that anonymization hides). Anonymizing removes part of the detail, more at higher degrees
and most for masking, and adds a method-specific shift. The Unadapted model embeds content and detail as
they are; a control is a slightly perturbed copy of it (retraining with another seed); an adapted model is a
perturbed copy that weighs detail less and ignores its method's shift, the more so the more anonymized views
its adaptation trained on. Deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from anonjax.files import save_json, save_npy
from anonjax.layout import (
    ORIGINAL,
    UNADAPTED,
    control_name,
    embedding_path,
    ids_path,
    labels_path,
    model_name,
    variant_name,
)

# Per method: fraction of private detail removed at degree 1, and size of the shift it adds.
_DETAIL_REMOVED = {"pixel": 0.5, "blur": 0.35, "mask": 0.9}
_SHIFT = {"pixel": 0.5, "blur": 0.3, "mask": 1.0}
# Per adaptation: how far the network moved from the Unadapted one, and how much detail it still uses.
_DRIFT = {"A": 0.25, "B": 0.35, "C": 0.45}
_DETAIL_WEIGHT = {"A": 0.8, "B": 0.7, "C": 0.55}
_CONTROL_DRIFT = 0.1


def write_synthetic_embeddings(
    root: str | Path,
    *,
    methods: Sequence[str] = ("pixel", "blur", "mask"),
    degrees: Sequence[float] = (1.0,),
    adaptations: Sequence[str] = ("A", "B", "C"),
    controls: int = 1,
    splits: Sequence[tuple[str, int]] = (("train", 600), ("val", 400)),
    num_classes: int = 8,
    dim: int = 64,
    seed: int = 0,
) -> None:
    """Write embeddings for every model x variant x split in the work-directory layout under ``root``."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_classes, dim))
    shifts = {m: rng.normal(size=dim) for m in methods}
    drift = rng.normal(size=(dim, dim)) / np.sqrt(dim)

    anonymized = [(m, g) for m in methods for g in degrees]
    # model -> (linear map, weight of detail, shift direction it ignores, variants it embeds)
    every = [ORIGINAL] + [variant_name(m, g) for m, g in anonymized]
    models = {UNADAPTED: (np.eye(dim), 1.0, np.zeros(dim), every)}
    for i in range(1, controls + 1):
        wobble = rng.normal(size=(dim, dim)) / np.sqrt(dim)
        models[control_name(i)] = (np.eye(dim) + _CONTROL_DRIFT * wobble, 1.0, np.zeros(dim), every)
    for a in adaptations:
        for m, g in anonymized:
            unit = shifts[m] / np.linalg.norm(shifts[m])
            own = [ORIGINAL, variant_name(m, g)]
            models[model_name(a, m, g)] = (np.eye(dim) + _DRIFT[a] * drift, _DETAIL_WEIGHT[a], unit, own)

    for split, n in splits:
        labels = rng.integers(0, num_classes, size=n)
        content = centers[labels] + 0.9 * rng.normal(size=(n, dim))
        detail = rng.normal(size=(n, dim))
        noise = {m: rng.normal(size=(n, dim)) for m in methods}
        ids = [f"{split}-{i:05d}" for i in range(n)]
        save_npy(labels_path(root, split), labels.astype(np.int32))

        variants = {ORIGINAL: (detail, np.zeros(dim))}
        for m, g in anonymized:
            kept = (1 - g * _DETAIL_REMOVED[m]) * detail + g * 0.3 * noise[m]
            variants[variant_name(m, g)] = (kept, g * _SHIFT[m] * shifts[m])

        for model, (transform, weight, ignored, own) in models.items():
            for variant in own:
                kept_detail, shift = variants[variant]
                shift = shift - np.dot(shift, ignored) * ignored
                emb = (content + weight * kept_detail + shift) @ transform.T
                path = embedding_path(root, model, variant, split)
                save_npy(path, emb.astype(np.float32))
                save_json(ids_path(path), ids)
