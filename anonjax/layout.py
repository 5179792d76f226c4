"""Names and paths inside a work directory, shared by every stage that writes or reads them.

Embeddings live at ``<root>/<model>/<variant>/<split>.npy`` (float32 [N, D]) with the image ids of their
rows in ``<split>.ids.json`` (a JSON list of strings) beside them; class labels of a split at
``<root>/labels/<split>.npy``.

- model: ``unadapted`` (trained on original data; defines the pseudo ground truth) or
  ``<adaptation>_<method>_<percent>`` for an adapted model, e.g. ``A_pixel_100``.
- variant: ``original`` or ``<method>_<percent>``, the data the embeddings were computed on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

UNADAPTED = "unadapted"
ORIGINAL = "original"
ADAPTATIONS = ("A", "B", "C")
METHODS = ("pixel", "blur", "mask")
QUERY_KINDS = ("original", "anonymized")


def percent(degree: float) -> int:
    """A degree in (0, 1] as a whole percent (0.25 -> 25)."""
    return round(float(degree) * 100)


def model_name(adaptation: str | None, method: str | None = None, degree: float | None = None) -> str:
    """``unadapted`` for None (or ``unadapted``), else ``<adaptation>_<method>_<percent>``."""
    if adaptation in (None, UNADAPTED):
        return UNADAPTED
    return f"{adaptation}_{method}_{percent(degree)}"


def variant_name(method: str | None = None, degree: float | None = None) -> str:
    """``original`` for no method, else ``<method>_<percent>``."""
    return ORIGINAL if method is None else f"{method}_{percent(degree)}"


def embedding_path(root: str | Path, model: str, variant: str, split: str) -> Path:
    """Where the embeddings of ``split`` under ``model`` on ``variant`` data live."""
    return Path(root) / model / variant / f"{split}.npy"


def ids_path(embeddings: str | Path) -> Path:
    """The id list beside an embedding file."""
    p = Path(embeddings)
    return p.with_name(p.stem + ".ids.json")


def labels_path(root: str | Path, split: str) -> Path:
    """Class labels of a split, aligned with its ids."""
    return Path(root) / "labels" / f"{split}.npy"


def load_embeddings(root: str | Path, model: str, variant: str, split: str) -> tuple[np.ndarray, list[str]]:
    """Embeddings and their ids; a clear error names the missing or malformed file."""
    path = embedding_path(root, model, variant, split)
    if not path.is_file():
        raise FileNotFoundError(f"embeddings {path} are missing (model {model!r}, variant {variant!r}, {split=})")
    array = np.load(path, allow_pickle=False)
    if array.ndim != 2:
        raise ValueError(f"embeddings {path} must be a 2-D [images, dims] array, got shape {array.shape}")
    ids_file = ids_path(path)
    ids = json.loads(ids_file.read_text()) if ids_file.is_file() else [str(i) for i in range(len(array))]
    if len(ids) != len(array):
        raise ValueError(f"{ids_file} lists {len(ids)} ids but {path} has {len(array)} rows")
    return array.astype(np.float32, copy=False), ids
