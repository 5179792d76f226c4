"""Stage ``evaluate``: every retrieval scenario scored against the Unadapted model's retrievals on the
original data, the linkage risk beside it, downstream probes, correlations and tables.

Reads embeddings in the layout of :mod:`anonjax.layout` from ``config.evaluate.embeddings`` (a directory,
``"builtin"`` for the small set made by code, or empty for ``<workdir>/embeddings`` as the embed stage
writes it) and writes ``<workdir>/results/``.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import ml_collections
import numpy as np

from anonjax import config_checks as cc
from anonjax.analysis import (
    downstream_table,
    metrics_across_models,
    pearson_matrix,
    save_correlation,
    scenario_table,
)
from anonjax.downstream import knn_accuracy, linear_probe_accuracy
from anonjax.files import save_json, save_text
from anonjax.layout import (
    ADAPTATIONS,
    METHODS,
    ORIGINAL,
    QUERY_KINDS,
    UNADAPTED,
    embedding_path,
    labels_path,
    load_embeddings,
    model_name,
    percent,
    variant_name,
)
from anonjax.retrieval import evaluate_scenario, linkage_rate
from anonjax.stages.fingerprint import fingerprint, is_complete, mark_complete
from anonjax.synthetic_embeddings import write_synthetic_embeddings

log = logging.getLogger(__name__)

SCENARIO_COLUMNS = ("model", "method", "degree", "queries", "map", "mndcg",
                    "map_low", "map_high", "mndcg_low", "mndcg_high", "linkage", "k", "n")
DOWNSTREAM_COLUMNS = ("model", "method", "degree", "knn", "linear")


def validate(config: ml_collections.ConfigDict) -> None:
    """Check the grid and evaluation settings before any work."""
    cc.check_choices(config, "grid.methods", METHODS)
    if cc.as_tuple(cc.get(config, "grid.adaptations")):
        cc.check_choices(config, "grid.adaptations", ADAPTATIONS)
    cc.check_fractions(config, "grid.degrees")
    cc.check_fraction(config, "evaluate.fraction")
    cc.check_positive_int(config, "evaluate.knn_k")
    cc.check_positive_int(config, "evaluate.n_bootstrap")
    source = cc.get(config, "evaluate.embeddings")
    if source not in ("", "builtin"):
        cc.check_path(config, "evaluate.embeddings", kind="dir")


def embeddings_root(config: ml_collections.ConfigDict, workdir: Path) -> Path:
    """Where this run reads embeddings from."""
    source = config.evaluate.embeddings
    if source == "builtin":
        return workdir / "builtin_embeddings"
    return Path(source) if source else workdir / "embeddings"


def run(config: ml_collections.ConfigDict, workdir: Path) -> None:
    """Score every scenario of the grid and write results, tables and correlations."""
    out = workdir / "results"
    root = embeddings_root(config, workdir)
    builtin_fp = fingerprint(config.grid, config.seed)
    if config.evaluate.embeddings == "builtin" and not is_complete(root, builtin_fp):
        log.info("evaluate: writing the built-in embedding set to %s", root)
        write_synthetic_embeddings(root, methods=config.grid.methods, degrees=config.grid.degrees,
                                   adaptations=config.grid.adaptations, seed=config.seed)
        mark_complete(root, builtin_fp)
    fp = fingerprint(config.grid, config.evaluate, config.seed, _files(root))
    if is_complete(out, fp):
        log.info("evaluate: results in %s are up to date", out)
        return
    scenarios, downstream = evaluate_grid(config, root)
    _write_results(out, scenarios, downstream, keep_original_embeddings(config, root), config)
    mark_complete(out, fp, embeddings=str(root))


def _files(root: Path) -> list[tuple[str, int, int]]:
    """Name, size and modification time of every embedding file: the results depend on their contents."""
    if not root.is_dir():
        return []
    return [(str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*.npy"))]


def keep_original_embeddings(config: ml_collections.ConfigDict, root: Path) -> dict:
    """The paper's section V-F1 reference: keep the Unadapted embeddings of the original images beside the
    anonymized images. Retrieval is then the ground truth itself, and every image links to its original."""
    gt, _ = load_embeddings(root, UNADAPTED, ORIGINAL, config.evaluate.split)
    r = evaluate_scenario(gt, gt, gt, gt, fraction=config.evaluate.fraction, exclude_self=config.evaluate.exclude_self,
                          n_bootstrap=config.evaluate.n_bootstrap, seed=config.seed)
    return dict(map=r.map, mndcg=r.mndcg, linkage=linkage_rate(gt, gt), k=r.k, n=len(gt))


def evaluate_grid(config: ml_collections.ConfigDict, root: Path) -> tuple[list[dict], list[dict]]:
    """Scenario rows and downstream rows for every (model, method, degree) whose embeddings exist."""
    ev, split = config.evaluate, config.evaluate.split
    gt, gt_ids = load_embeddings(root, UNADAPTED, ORIGINAL, split)
    labels = _labels(root, (ev.train_split, split))
    scenarios, downstream = [], []
    for method in cc.as_tuple(config.grid.methods):
        for degree in cc.as_tuple(config.grid.degrees):
            variant = variant_name(method, degree)
            for adaptation in (None, *cc.as_tuple(config.grid.adaptations)):
                model = model_name(adaptation, method, degree)
                if not embedding_path(root, model, variant, split).is_file():
                    if adaptation is None:
                        raise FileNotFoundError(f"the Unadapted model has no {variant} embeddings of {split} in {root}")
                    log.warning("evaluate: no %s embeddings for model %s; its rows are left out", variant, model)
                    continue
                short = adaptation or UNADAPTED
                database = _aligned(root, model, variant, split, gt_ids)
                originals = _aligned(root, model, ORIGINAL, split, gt_ids)
                linkage = linkage_rate(database, originals)
                for kind in QUERY_KINDS:
                    queries = originals if kind == "original" else database
                    r = evaluate_scenario(gt, gt, queries, database, fraction=ev.fraction,
                                          exclude_self=ev.exclude_self, n_bootstrap=ev.n_bootstrap, seed=config.seed)
                    scenarios.append(dict(model=short, method=method, degree=float(degree), queries=kind,
                                          map=r.map, mndcg=r.mndcg, map_low=r.map_ci[0], map_high=r.map_ci[1],
                                          mndcg_low=r.mndcg_ci[0], mndcg_high=r.mndcg_ci[1],
                                          linkage=linkage, k=r.k, n=len(gt)))
                    log.info("evaluate: %-14s %-9s %-10s mAP %.3f  mnDCG %.3f", model, variant, kind, r.map, r.mndcg)
                if labels and ev.probes:
                    downstream.append(dict(model=short, method=method, degree=float(degree),
                                           **_probes(root, model, variant, ev, labels)))
    return scenarios, downstream


def _labels(root: Path, splits) -> dict[str, np.ndarray] | None:
    paths = {s: labels_path(root, s) for s in splits}
    if not all(p.is_file() for p in paths.values()):
        log.warning("evaluate: no labels in %s; downstream probes are skipped", root / "labels")
        return None
    return {s: np.load(p, allow_pickle=False) for s, p in paths.items()}


def _aligned(root: Path, model: str, variant: str, split: str, ids: list[str]) -> np.ndarray:
    array, these = load_embeddings(root, model, variant, split)
    if these != ids:
        raise ValueError(f"rows of {embedding_path(root, model, variant, split)} are not the images of the "
                         f"Unadapted original embeddings of {split!r} in the same order")
    return array


def _probes(root, model, variant, ev, labels) -> dict[str, float]:
    train, _ = load_embeddings(root, model, variant, ev.train_split)
    test, _ = load_embeddings(root, model, variant, ev.split)
    y_train, y_test = labels[ev.train_split], labels[ev.split]
    return dict(knn=knn_accuracy(train, y_train, test, y_test, k=ev.knn_k, temperature=ev.knn_temperature),
                linear=linear_probe_accuracy(train, y_train, test, y_test, seed=0))


def _csv(rows: list[dict], columns) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write_results(out: Path, scenarios: list[dict], downstream: list[dict], reference: dict, config) -> None:
    save_json(out / "reference.json", reference)
    save_text(out / "scenarios.csv", _csv(scenarios, SCENARIO_COLUMNS))
    save_json(out / "scenarios.json", scenarios)
    if downstream:
        save_text(out / "downstream.csv", _csv(downstream, DOWNSTREAM_COLUMNS))
        save_json(out / "downstream.json", downstream)
    sections = []
    for degree in cc.as_tuple(config.grid.degrees):
        tag = f"{percent(degree)}"
        rows = [r for r in scenarios if r["degree"] == float(degree)]
        down = [r for r in downstream if r["degree"] == float(degree)]
        if not rows:
            continue
        k = rows[0]["k"]
        text = f"## Retrieval at {tag}% anonymization (mAP, mnDCG{k}; %)\n\n" + scenario_table(rows, k=k)
        if down:
            text += f"\n## Downstream accuracy at {tag}% anonymization (%)\n\n" + downstream_table(down)
            if len(down) >= 3:
                names, matrix = pearson_matrix(metrics_across_models(rows, down))
                save_correlation(names, matrix, out / f"correlation_{tag}",
                                 title=f"Pearson correlation of metrics across models, {tag}% anonymization")
        save_text(out / f"tables_{tag}.md", text)
        sections.append(text)
    sections.append(
        f"Reference, keep the original embeddings (section V-F1): mAP {100 * reference['map']:.1f}%, "
        f"mnDCG {100 * reference['mndcg']:.1f}%, linkage {100 * reference['linkage']:.1f}%: retrieval is the "
        "original system's, and every anonymized image stays linked to its original.\n"
    )
    report = "\n".join(sections)
    save_text(out / "tables.md", report)
    print(report)
