"""Pearson correlation between metrics measured on the same set of models (the paper's Fig. IV-A1), and
the CSV file that carries a matrix from the evaluate stage to the report."""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Mapping, Sequence

import numpy as np

from anonjax.analysis.intervals import bonferroni_z, fisher_interval
from anonjax.layout import CONTROL
from anonjax.paths import as_path

ACCURACY_METRICS = ("k-NN", "Linear")


def pearson_matrix(metrics: Mapping[str, Sequence[float]]) -> tuple[list[str], np.ndarray]:
    """Names and the [M, M] Pearson matrix of metrics given as one value per model.

    A metric that is constant across models has no defined correlation: its row and column are NaN
    (the diagonal stays 1).
    """
    names = list(metrics)
    values = np.asarray([np.asarray(metrics[n], np.float64) for n in names])
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError("every metric needs one value per model, and at least two models")
    centered = values - values.mean(axis=1, keepdims=True)
    norms = np.sqrt((centered**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = (centered @ centered.T) / np.outer(norms, norms)
    matrix = np.clip(matrix, -1.0, 1.0)
    np.fill_diagonal(matrix, 1.0)
    return names, matrix


def is_control(model: str) -> bool:
    """Whether ``model`` is a retraining control (``control``, ``control2``, ...)."""
    return re.fullmatch(rf"{CONTROL}\d*", model) is not None


def metrics_across_models(scenarios: Sequence[Mapping], downstream: Sequence[Mapping], *,
                          controls: bool = False) -> dict[str, list[float]]:
    """Every metric as one value per (model, method) of one degree: the inputs of the paper's matrices.

    The paper's points are its model x method pairs (12 for four models and three methods); a retraining control
    is a noise reference, not a point, so its pairs are left out, or with ``controls`` given alone (to show them
    beside the correlation)."""
    keys = sorted({(r["model"], r["method"]) for r in downstream if is_control(r["model"]) == controls})
    by = {(r["model"], r["method"], r["queries"]): r for r in scenarios}
    down = {(r["model"], r["method"]): r for r in downstream}
    metrics: dict[str, list[float]] = {}
    for kind in ("original", "anonymized"):
        metrics[f"mAP ({kind})"] = [by[(*key, kind)]["map"] for key in keys]
        metrics[f"mnDCG ({kind})"] = [by[(*key, kind)]["mndcg"] for key in keys]
    metrics["k-NN"] = [down[key]["knn"] for key in keys]
    metrics["Linear"] = [down[key]["linear"] for key in keys]
    return metrics


def with_accuracy(names: Sequence[str], matrix: np.ndarray, n: int) -> list[dict]:
    """For each downstream accuracy, every retrieval metric's Pearson r with it over ``n`` points, highest r first:
    the sign is kept, so the first entry is the metric that rises most with accuracy. Undefined correlations are
    left out.

    Each entry's interval (Fisher's; None for n <= 3) is Bonferroni-adjusted for all the correlations returned
    (``tests``): the report names the best of several metrics, and an interval that holds for one metric alone
    would let chance pick a correlation that is not there.
    """
    out = []
    for accuracy in ACCURACY_METRICS:
        j = names.index(accuracy)
        entries = [dict(accuracy=accuracy, metric=name, r=float(matrix[i, j]), n=n)
                   for i, name in enumerate(names) if name.startswith(("mAP", "mnDCG")) and math.isfinite(matrix[i, j])]
        out += sorted(entries, key=lambda e: -e["r"])
    for e in out:
        e["tests"] = len(out)
        e["interval"] = fisher_interval(e["r"], n, bonferroni_z(len(out)))
    return out


def correlation_csv(names: Sequence[str], matrix: np.ndarray) -> str:
    """The matrix as CSV with a header row and the metric name in the first column (``nan`` where undefined)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["metric", *names])
    for name, row in zip(names, matrix, strict=True):
        writer.writerow([name, *(f"{v:.4f}" for v in row)])
    return out.getvalue()


def load_correlation(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Names and matrix from a file written with :func:`correlation_csv`; a ValueError names a malformed file."""
    rows = list(csv.reader(io.StringIO(as_path(path).read_text(encoding="utf-8"), newline="")))
    names = rows[0][1:] if rows else []
    try:
        if not names or [row[0] for row in rows[1:]] != names or any(len(row) != len(rows[0]) for row in rows):
            raise ValueError
        matrix = np.array([[float(v) for v in row[1:]] for row in rows[1:]], np.float64)
    except ValueError:
        raise ValueError(f"{path} is not a correlation matrix as the evaluate stage writes it: a header row "
                         "'metric,<names>', then one row of numbers per name") from None
    return names, matrix
