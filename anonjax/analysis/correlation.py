"""Pearson correlation between metrics measured on the same set of models (the paper's Fig. IV-A1)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from anonjax.files import atomic_path, save_text


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


def metrics_across_models(scenarios: Sequence[Mapping], downstream: Sequence[Mapping]) -> dict[str, list[float]]:
    """Every metric as one value per (model, method) of one degree: the inputs of the paper's matrices."""
    keys = sorted({(r["model"], r["method"]) for r in downstream})
    by = {(r["model"], r["method"], r["queries"]): r for r in scenarios}
    down = {(r["model"], r["method"]): r for r in downstream}
    metrics: dict[str, list[float]] = {}
    for kind in ("original", "anonymized"):
        metrics[f"mAP ({kind})"] = [by[(*key, kind)]["map"] for key in keys]
        metrics[f"mnDCG ({kind})"] = [by[(*key, kind)]["mndcg"] for key in keys]
    metrics["k-NN"] = [down[key]["knn"] for key in keys]
    metrics["Linear"] = [down[key]["linear"] for key in keys]
    return metrics


def correlation_csv(names: Sequence[str], matrix: np.ndarray) -> str:
    """The matrix as CSV with a header row and the metric name in the first column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["metric", *names])
    for name, row in zip(names, matrix, strict=True):
        writer.writerow([name, *(f"{v:.4f}" for v in row)])
    return out.getvalue()


def save_correlation(names: Sequence[str], matrix: np.ndarray, stem: str | Path, title: str = "") -> None:
    """Write ``<stem>.csv`` and a heatmap ``<stem>.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stem = Path(stem)
    save_text(stem.with_suffix(".csv"), correlation_csv(names, matrix))
    fig, ax = plt.subplots(figsize=(1.1 * len(names) + 2, 1.0 * len(names) + 1.5))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i, j in np.ndindex(matrix.shape):
        text = "n/a" if np.isnan(matrix[i, j]) else f"{matrix[i, j]:.2f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="Pearson r")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    with atomic_path(stem.with_suffix(".png")) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
