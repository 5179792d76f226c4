"""Names and paths inside a work directory, shared by every stage that writes or reads them.

:class:`WorkDir` names every stage's folder and file: the contract between the stages, so that no stage spells
another's path.

Embeddings live at ``<root>/<model>/<variant>/<split>.npy`` (float32 [N, D]) with the image ids of their
rows in ``<split>.ids.json`` (a JSON list of strings) beside them; class labels of a split at
``<root>/labels/<split>.npy``.

- model: ``unadapted`` (trained on original data; defines the pseudo ground truth), ``control``,
  ``control2``, ... (the same recipe with other seeds: the retraining noise) or
  ``<adaptation>_<method>_<percent>`` for an adapted model, e.g. ``A_pixel_100``.
- variant: ``original`` or ``<method>_<percent>``, the data the embeddings were computed on.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter

import numpy as np
from etils import epath

from anonjax.errors import DatasetError
from anonjax.paths import as_path

UNADAPTED = "unadapted"
CONTROL = "control"
NO_ANONYMIZATION = "none"  # the method of a scenario with original queries and database
ORIGINAL = "original"
ADAPTATIONS = ("A", "B", "C")
METHODS = ("pixel", "blur", "mask")
ANONYMIZED = "anonymized"
QUERY_KINDS = (ORIGINAL, ANONYMIZED)


def _at(relative: str, doc: str) -> property:
    """A :class:`WorkDir` property: ``root / relative``."""

    def path(work: WorkDir) -> epath.Path:
        return work.root / relative

    return property(path, doc=doc)


@dataclasses.dataclass(frozen=True)
class WorkDir:
    """The folders and files of a study's work directory (``root``): a property per fixed name, a method per
    name that takes a split, model, degree or process.

    The root may be a URL (``gs://bucket/run``, ``anonjax.paths``). A ``WorkDir`` rooted at ``""`` gives the same
    names relative to the work directory."""

    root: epath.Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", as_path(self.root))

    # anonymize stage
    anonymize = _at("anonymize", "The stage's folder (its ``DONE.json`` marker, report, example sheet, pairs, boxes).")
    anonymize_report = _at("anonymize/report.json",
                           "What each method and degree anonymizes, the detectors used, the files left out (JSON).")
    anonymize_summary = _at("anonymize/report.md", "The human-readable summary of the report (Markdown).")
    example_sheet = _at("anonymize/example_sheet.png", "One image under every method and degree.")
    pairs = _at("anonymize/pairs", "The materialized paired datasets: ``<variant>/<split>/*.png`` and "
                "``pairs_<split>.json``.")

    def boxes(self, split: str) -> epath.Path:
        """The detection caches of ``split``: one folder inside per detector set (``box_cache.cache_dir``)."""
        return self.anonymize / "boxes" / split

    def opaque_names(self, split: str) -> epath.Path:
        """File names of the materialized pairs of ``split`` -> image ids (``anonymize.opaque_names``)."""
        return self.anonymize / f"names_{split}.json"

    # train stage
    train = _at("train", "The train stage's folder: one run folder per model and the stage's marker.")

    def model(self, name: str) -> epath.Path:
        """The run folder of model ``name``: checkpoints, training log, the trained backbone."""
        return self.train / name

    def canvases(self, canvas: int, images: str, process: int = 0) -> epath.Path:
        """The training images fitted to a ``canvas`` px square (``data.canvas.fit_once``) for the listing whose
        fingerprint is ``images``: one copy per process of a run, so that no two processes write the same file."""
        return self.train / "canvases" / f"{canvas}px_{images}" / f"process_{process}"

    def run_record(self, model: str) -> epath.Path:
        """The fingerprint and training settings ``model``'s run was started with (``RUN.json``)."""
        return self.model(model) / "RUN.json"

    def training_log(self, model: str) -> epath.Path:
        """One JSON row per logged training step of ``model`` (``ssl.training_log``)."""
        return self.model(model) / "training_log.jsonl"

    # embed stage
    embeddings = _at("embeddings", "Embeddings in the layout of this module (:func:`embedding_path`).")
    attention = _at("attention", "Attention maps, ``<view>/<model>__<n>.png`` (:meth:`attention_map`).")
    builtin_embeddings = _at("builtin_embeddings", 'The small embedding set made by code (``evaluate.embeddings='
                             '"builtin"``).')

    def embedded(self, model: str, split: str) -> epath.Path:
        """The marker folder saying that ``model``'s embeddings of ``split`` are finished."""
        return self.embeddings / model / f".{split}"

    def attention_map(self, view: str, model: str, number: int) -> epath.Path:
        """The ``number``-th attention map of ``model``, drawn on images in ``view``."""
        return self.attention / view / f"{model}__{number}.png"

    # evaluate and privacy stages
    results = _at("results", "The numbers the report renders: the evaluate stage's and the privacy stage's files.")
    scenarios = _at("results/scenarios.json", "Scenario rows (JSON).")
    scenarios_csv = _at("results/scenarios.csv", "The scenario rows as CSV.")
    downstream = _at("results/downstream.json", "Probe accuracies (JSON), when the probes ran.")
    downstream_csv = _at("results/downstream.csv", "The probe accuracies as CSV.")
    reference = _at("results/reference.json", "The scores of keeping the original embeddings.")
    summary = _at("results/summary.json", "Settings, warnings and per-degree comparisons of the evaluation.")
    privacy_results = _at("results/privacy.json", "What the anonymized images still give away (JSON).")
    privacy_csv = _at("results/privacy.csv", "The privacy results as CSV.")
    privacy_recall_csv = _at("results/privacy_recall.csv", "The detectors' recall against the drawn ground truth "
                             "of synthetic pages, when measured.")
    privacy = _at("privacy", "The privacy stage's own folder.")
    privacy_measures = _at("privacy/measures.json", "The privacy measures with their fingerprint, reused while it "
                           "matches.")

    def correlation(self, degree: float) -> epath.Path:
        """The Pearson matrix of all metrics across models at ``degree``."""
        return self.results / f"correlation_{percent(degree)}.csv"

    # report stage and the run log
    report = _at("report", "``report.md``, ``index.html`` and their ``figures/``.")
    report_markdown = _at("report/report.md", "The report (Markdown).")
    report_html = _at("report/index.html", "The report as a static page that opens from disk.")
    report_figures = _at("report/figures", "The figures the report links, replaced with every report.")

    def log(self, process: int = 0) -> epath.Path:
        """The run log of a process: ``logs/run.log`` for the main one, ``logs/run.<i>.log`` for process i."""
        return self.root / "logs" / ("run.log" if process == 0 else f"run.{process}.log")


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


def embedding_path(root: str | os.PathLike, model: str, variant: str, split: str) -> epath.Path:
    """Where the embeddings of ``split`` under ``model`` on ``variant`` data live."""
    return as_path(root) / model / variant / f"{split}.npy"


def ids_path(embeddings: str | os.PathLike) -> epath.Path:
    """The id list beside an embedding file."""
    p = as_path(embeddings)
    return p.with_name(p.stem + ".ids.json")


def labels_path(root: str | os.PathLike, split: str) -> epath.Path:
    """Class labels of a split, aligned with its ids."""
    return as_path(root) / "labels" / f"{split}.npy"


def load_array(path: str | os.PathLike) -> np.ndarray:
    """One ``.npy`` array, never unpickled; a DatasetError names the file if it is missing or is not one."""
    path = as_path(path)
    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    try:
        with path.open("rb") as f:
            array = np.load(f, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DatasetError(f"{path} is not a readable .npy array: {e}") from None
    if not isinstance(array, np.ndarray):
        raise DatasetError(f"{path} is not a .npy array (an .npz archive?)")
    return array


def load_embeddings(root: str | os.PathLike, model: str, variant: str, split: str) -> tuple[np.ndarray, list[str]]:
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


def _load_ids(path: epath.Path) -> list[str]:
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
