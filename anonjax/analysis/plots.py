"""Figures of the report: metric against anonymization degree (the paper's RVL-CDIP trend figures), the
heatmap of a correlation matrix (the paper's Fig. IV-A1), training curves and the privacy-utility chart."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from anonjax.analysis.tables import model_label
from anonjax.files import atomic_path
from anonjax.paths import as_path

_MARKERS = {"pixel": "o", "blur": "s", "mask": "^"}
_COLOURS = {"unadapted": "black", "control": "grey", "A": "tab:blue", "B": "tab:orange", "C": "tab:green"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int = 110) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)


def _finish_chart(plt, fig, ax, path: str | Path, title: str) -> None:
    """Grid, legend and title of a chart of labelled series; written to ``path`` and closed."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _save(fig, as_path(path))
    plt.close(fig)


def degree_trend(rows: Sequence[Mapping], metric: str, path: str | Path, *, title: str = "") -> None:
    """One line per model x method: ``metric`` (a row key such as ``map``, ``mndcg``, ``knn``) by degree."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in rows:
        series.setdefault((r["model"], r["method"]), []).append((100 * r["degree"], 100 * r[metric]))
    for (model, method), points in sorted(series.items()):
        points.sort()
        ax.plot(*zip(*points, strict=True), marker=_MARKERS.get(method, "x"), color=_COLOURS.get(model),
                label=f"{model_label(model)}/{method}")
    ax.set_xlabel("anonymization degree (%)")
    ax.set_ylabel(f"{metric} (%)")
    _finish_chart(plt, fig, ax, path, title)


def correlation_heatmap(names: Sequence[str], matrix: np.ndarray, path: str | Path, *, title: str = "") -> None:
    """The matrix as a heatmap from -1 to 1, every cell labelled with its value ("n/a" where undefined)."""
    plt = _pyplot()
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
    _save(fig, as_path(path), dpi=120)
    plt.close(fig)


def training_curves(logs: Mapping[str, str | Path], path: str | Path, *, key: str = "loss") -> bool:
    """Plot ``key`` against step from each model's JSONL metrics file; False when no file holds it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    drawn = False
    for name, log in sorted(logs.items()):
        points = []
        for line in as_path(log).read_text().splitlines():
            record = json.loads(line)
            if key in record and "step" in record:
                points.append((record["step"], record[key]))
        if points:
            ax.plot(*zip(*points, strict=True), label=name, linewidth=1)
            drawn = True
    if drawn:
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        _save(fig, as_path(path))
    plt.close(fig)
    return drawn


def privacy_utility_chart(points, front: Sequence[int], path: str | Path, *, xlabel: str, title: str = "") -> None:
    """Each point (``analysis.privacy_utility.Point``) at (residual, mnDCG), marked by method and coloured by
    model, labelled with its degree; the Pareto front (indices into ``points``) drawn as a step line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    seen = set()
    for p in points:
        key = (p.model, p.method)
        ax.scatter(100 * p.residual, 100 * p.mndcg, marker=_MARKERS.get(p.method, "x"), color=_COLOURS.get(p.model),
                   label=None if key in seen else f"{model_label(p.model)}/{p.method}", zorder=3)
        ax.annotate(f"{round(100 * p.degree)}%", (100 * p.residual, 100 * p.mndcg), fontsize=6,
                    textcoords="offset points", xytext=(3, 3))
        seen.add(key)
    if front:
        xs = [100 * points[i].residual for i in front]
        ys = [100 * points[i].mndcg for i in front]
        ax.step(xs, ys, where="post", color="tab:red", linewidth=1, alpha=0.7, label="Pareto front", zorder=2)
    ax.set_xlabel(f"{xlabel} (%, lower is more private)")
    ax.set_ylabel("mnDCG, original queries (%)")
    _finish_chart(plt, fig, ax, path, title)
