"""Names and paths inside a work directory, shared by every stage that writes or reads them.

Embeddings live at ``<root>/<model>/<variant>/<split>.npy`` (float32 [N, D]) with the image ids of their
rows in ``<split>.ids.json`` (a JSON list of strings) beside them; class labels of a split at
``<root>/labels/<split>.npy``.

- model: ``unadapted`` (trained on original data; defines the pseudo ground truth), ``control``,
  ``control2``, ... (the same recipe with other seeds: the retraining noise) or
  ``<adaptation>_<method>_<percent>`` for an adapted model, e.g. ``A_pixel_100``.
- variant: ``original`` or ``<method>_<percent>``, the data the embeddings were computed on.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from anonjax.errors import DatasetError

UNADAPTED = "unadapted"
CONTROL = "control"
NO_ANONYMIZATION = "none"  # the method of a scenario with original queries and database
ORIGINAL = "original"
ADAPTATIONS = ("A", "B", "C")
METHODS = ("pixel", "blur", "mask")
ANONYMIZED = "anonymized"
QUERY_KINDS = (ORIGINAL, ANONYMIZED)


def percent(degree: float) -> int:
    """A degree in (0, 1] as a whole percent (0.25 -> 25)."""
    return round(float(degree) * 100)


def model_name(adaptation: str | None, method: str | None = None, degree: float | None = None) -> str:
    """``unadapted`` for None (or ``unadapted``), else ``<adaptation>_<method>_<percent>``."""
    if adaptation in (None, UNADAPTED):
        return UNADAPTED
    return f"{adaptation}_{method}_{percent(degree)}"


def control_name(replicate: int) -> str:
    """``control`` for the first control model, ``control<i>`` for the i-th after it."""
    return CONTROL if replicate == 1 else f"{CONTROL}{replicate}"


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


def load_array(path: str | Path) -> np.ndarray:
    """One ``.npy`` array, never unpickled; a DatasetError names the file if it is missing or is not one."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DatasetError(f"{path} is not a readable .npy array: {e}") from None
    if not isinstance(array, np.ndarray):
        raise DatasetError(f"{path} is not a .npy array (an .npz archive?)")
    return array


def load_embeddings(root: str | Path, model: str, variant: str, split: str) -> tuple[np.ndarray, list[str]]:
    """Embeddings as stored (real numbers, never cast: a float32 cast would turn huge float64 values into inf)
    and the ids of their rows, "0", "1", ... if no ids file is beside them. A DatasetError names the missing
    or malformed file."""
    path = embedding_path(root, model, variant, split)
    if not path.is_file():
        raise DatasetError(f"embeddings {path} are missing (model {model!r}, variant {variant!r}, {split=})")
    array = load_array(path)
    if array.ndim != 2:
        raise DatasetError(f"embeddings {path} must be a 2-D [images, dims] array, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise DatasetError(f"embeddings {path} hold {array.dtype} values; they must be real numbers (float32)")
    ids_file = ids_path(path)
    ids = _load_ids(ids_file) if ids_file.is_file() else [str(i) for i in range(len(array))]
    if len(ids) != len(array):
        raise DatasetError(f"{ids_file} lists {len(ids)} ids but {path} has {len(array)} rows")
    return array, ids


def _load_ids(path: Path) -> list[str]:
    """A JSON list of unique strings, the image id of every row."""
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # ValueError: not UTF-8 or not JSON
        raise DatasetError(f"{path} is not a readable JSON file: {e}") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise DatasetError(f"{path} must hold a JSON list of strings, the image id of every row")
    if len(set(ids)) != len(ids):
        repeated = next(i for i, count in Counter(ids).items() if count > 1)
        raise DatasetError(f"{path} lists the image id {repeated!r} more than once")
    return ids
