"""Stage ``evaluate``: every retrieval scenario scored against the Unadapted model's retrievals on the
original data, the linkage risk beside it, downstream probes, correlations between the metrics and a summary of
each degree. It computes and writes numbers only; the report stage renders them.

Reads embeddings in the layout of :mod:`anonjax.layout` from ``config.evaluate.embeddings`` (a directory,
``"builtin"`` for the small set made by code, or empty for ``<workdir>/embeddings`` as the embed stage
writes it) and replaces ``<workdir>/results/`` with:

- ``scenarios.csv`` / ``.json``: one row per model x method x degree x query kind (``SCENARIO_COLUMNS``);
- ``downstream.csv`` / ``.json``: k-NN and linear probe accuracy per model x method x degree
  (``DOWNSTREAM_COLUMNS``), when the probes ran;
- ``reference.json``: the scores of keeping the original embeddings (``map, mndcg, linkage, k, n``);
- ``correlation_<percent>.csv``: the Pearson matrix of all metrics across models at one degree, when at
  least three (model, method) pairs have probe results;
- ``summary.json``: the settings the scores depend on and, per degree, the numbers the report's findings
  state (see :func:`anonjax.analysis.summary.degree_summary`) and the name of its correlation file.

Every embedding file read must list, in its ids file, the images of the Unadapted model's original embeddings of
the same split in the same order; the results are up to date while the contents of every file read are unchanged.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
from pathlib import Path
from typing import NamedTuple

import ml_collections
import numpy as np

from anonjax import config_checks as cc
from anonjax.analysis import correlation_csv, degree_summary, metrics_across_models, pearson_matrix, with_accuracy
from anonjax.data import SPLITS
from anonjax.downstream import knn_accuracy, linear_probe_accuracy
from anonjax.errors import DatasetError
from anonjax.files import save_json, save_text, sha256_file
from anonjax.layout import (
    ORIGINAL,
    QUERY_KINDS,
    UNADAPTED,
    embedding_path,
    ids_path,
    labels_path,
    load_array,
    load_embeddings,
    percent,
)
from anonjax.plan import Model, StudyPlan, Variant, study_plan, validate_grid
from anonjax.retrieval import evaluate_scenario, linkage_rate
from anonjax.retrieval.inputs import real_rows
from anonjax.stages.fingerprint import fingerprint, is_complete, mark_complete
from anonjax.synthetic_embeddings import write_synthetic_embeddings

log = logging.getLogger(__name__)

SCENARIO_COLUMNS = ("model", "method", "degree", "queries", "map", "mndcg",
                    "map_low", "map_high", "mndcg_low", "mndcg_high", "linkage", "k", "n")
DOWNSTREAM_COLUMNS = ("model", "method", "degree", "knn", "linear")
# The layout of the results folder; part of the fingerprint, so results written in another layout are redone.
RESULTS_LAYOUT = 2


def validate(config: ml_collections.ConfigDict) -> None:
    """Check the grid, the seed and the evaluation settings before any work."""
    validate_grid(config)
    split = cc.check_choice(config, "evaluate.split", SPLITS)
    train_split = cc.check_choice(config, "evaluate.train_split", SPLITS)
    cc.check_fraction(config, "evaluate.fraction")
    cc.check_bool(config, "evaluate.exclude_self")
    cc.check_positive_int(config, "evaluate.n_bootstrap")
    if cc.check_bool(config, "evaluate.probes") and train_split == split:
        raise cc.ConfigError("evaluate.train_split", f"is {split!r}, the split the probes are tested on; "
                             "choose another split or set evaluate.probes=False")
    cc.check_positive_int(config, "evaluate.knn_k")
    cc.check_positive_number(config, "evaluate.knn_temperature")
    source = cc.get(config, "evaluate.embeddings")
    if source not in ("", "builtin"):
        cc.check_path(config, "evaluate.embeddings", kind="dir")


def embeddings_root(config: ml_collections.ConfigDict, workdir: Path) -> Path:
    """Where this run reads embeddings from."""
    source = config.evaluate.embeddings
    if source == "builtin":
        return workdir / "builtin_embeddings"
    return Path(source) if source else workdir / "embeddings"


class Scenario(NamedTuple):
    """One model of the plan scored on one anonymized variant whose embeddings exist."""

    model: Model
    variant: Variant

    def row(self) -> dict:
        """The columns that name this scenario in the results."""
        return dict(model=self.model.adaptation, method=self.variant.method, degree=self.variant.degree)


def run(config: ml_collections.ConfigDict, workdir: Path) -> str:
    """Score every scenario of the plan and write the results; a one-line account of what was done."""
    out = workdir / "results"
    plan = study_plan(config)
    root = embeddings_root(config, workdir)
    builtin_fp = fingerprint(config.grid, config.seed)
    if config.evaluate.embeddings == "builtin" and not is_complete(root, builtin_fp):
        log.info("evaluate: writing the built-in embedding set to %s", root)
        _write_builtin(root, plan)
        mark_complete(root, builtin_fp)
    grid = _scenarios(plan, root, config.evaluate.split)
    probes = _probes_wanted(config.evaluate, root)
    inputs = _digests(root, _input_files(config.evaluate, root, grid, probes))
    fp = fingerprint(RESULTS_LAYOUT, [m.name for m in plan.models], [v.name for v in plan.variants],
                     config.evaluate, plan.seed, inputs)
    if is_complete(out, fp):
        log.info("evaluate: results in %s are up to date", out)
        return "up to date"
    reference = _read(root, UNADAPTED, ORIGINAL, config.evaluate.split)
    scenarios, downstream = evaluate_grid(config, root, grid, probes, reference)
    kept = keep_original_embeddings(config, reference[0])
    _write_results(out, scenarios, downstream, kept, _settings(config.evaluate, kept, probes))
    mark_complete(out, fp, embeddings=str(root))
    return f"{len(scenarios)} scenarios and {len(downstream)} probe results scored; results in {out}"


def _write_builtin(root: Path, plan: StudyPlan) -> None:
    """The built-in embedding set for the plan's methods, degrees and adaptations."""
    write_synthetic_embeddings(root, methods=tuple(dict.fromkeys(v.method for v in plan.variants)),
                               degrees=tuple(dict.fromkeys(v.degree for v in plan.variants)),
                               adaptations=tuple(dict.fromkeys(m.adaptation for m in plan.models[1:])),
                               seed=plan.seed)


def _scenarios(plan: StudyPlan, root: Path, split: str) -> list[Scenario]:
    """Every (model, anonymized variant) of the plan with embeddings in ``root``: the Unadapted model on every
    variant (required), and each adapted model on its own (left out with a warning when missing)."""
    grid = []
    for variant in plan.variants:
        for model in (plan.unadapted, *plan.adapted(variant)):
            path = embedding_path(root, model.name, variant.name, split)
            if not path.is_file():
                if model.unadapted:
                    raise DatasetError(f"the Unadapted model has no {variant.name} embeddings of {split} in {root} "
                                       f"({path} is missing)")
                log.warning("evaluate: no %s embeddings for model %s; its rows are left out", variant.name,
                            model.name)
                continue
            grid.append(Scenario(model, variant))
    return grid


def _probes_wanted(ev: ml_collections.ConfigDict, root: Path) -> bool:
    """Whether the downstream probes run: asked for, and labels of both splits exist."""
    if not ev.probes:
        return False
    if not all(labels_path(root, s).is_file() for s in (ev.train_split, ev.split)):
        log.warning("evaluate: no labels in %s; downstream probes are skipped", root / "labels")
        return False
    return True


def _input_files(ev: ml_collections.ConfigDict, root: Path, grid: list[Scenario], probes: bool) -> list[Path]:
    """Every file the evaluation reads: embeddings, the id lists beside them, and labels for the probes."""
    arrays = [embedding_path(root, UNADAPTED, ORIGINAL, ev.split)]
    for s in grid:
        arrays += [embedding_path(root, s.model.name, variant, ev.split) for variant in (s.variant.name, ORIGINAL)]
    if probes:
        arrays.append(embedding_path(root, UNADAPTED, ORIGINAL, ev.train_split))
        arrays += [embedding_path(root, s.model.name, s.variant.name, ev.train_split) for s in grid]
    files = set(arrays) | {ids_path(p) for p in arrays}
    if probes:
        files |= {labels_path(root, ev.split), labels_path(root, ev.train_split)}
    return sorted(files)


def _digests(root: Path, files: list[Path]) -> list[tuple[str, str]]:
    """Name and SHA-256 of every input file that exists: results depend on their contents, not their dates."""
    return [(str(p.relative_to(root)), sha256_file(p)) for p in files if p.is_file()]


def keep_original_embeddings(config: ml_collections.ConfigDict, gt: np.ndarray) -> dict:
    """The paper's section V-F1 reference: keep the Unadapted embeddings of the original images beside the
    anonymized images. Retrieval is then the ground truth itself, and every image links to its original."""
    r = evaluate_scenario(gt, gt, gt, gt, fraction=config.evaluate.fraction, exclude_self=config.evaluate.exclude_self,
                          n_bootstrap=config.evaluate.n_bootstrap, seed=config.seed)
    return dict(map=r.map, mndcg=r.mndcg, linkage=linkage_rate(gt, gt), k=r.k, n=len(gt))


def evaluate_grid(config: ml_collections.ConfigDict, root: Path, grid: list[Scenario], probes: bool,
                  reference: tuple[np.ndarray, list[str]]) -> tuple[list[dict], list[dict]]:
    """Scenario rows and downstream rows for every scenario of ``grid``; ``reference`` is the Unadapted model's
    original embeddings of the evaluated split and their ids."""
    ev, split = config.evaluate, config.evaluate.split
    gt, gt_ids = reference
    if probes:
        _, train_ids = _read(root, UNADAPTED, ORIGINAL, ev.train_split)
        labels = {ev.train_split: _read_labels(root, ev.train_split, len(train_ids)),
                  split: _read_labels(root, split, len(gt_ids))}
    scenarios, downstream = [], []
    for s in grid:
        model, variant = s.model.name, s.variant.name
        database = _aligned(root, model, variant, split, gt_ids)
        originals = _aligned(root, model, ORIGINAL, split, gt_ids)
        linkage = linkage_rate(database, originals)
        for kind in QUERY_KINDS:
            queries = originals if kind == "original" else database
            r = evaluate_scenario(gt, gt, queries, database, fraction=ev.fraction,
                                  exclude_self=ev.exclude_self, n_bootstrap=ev.n_bootstrap, seed=config.seed)
            scenarios.append(dict(**s.row(), queries=kind,
                                  map=r.map, mndcg=r.mndcg, map_low=r.map_ci[0], map_high=r.map_ci[1],
                                  mndcg_low=r.mndcg_ci[0], mndcg_high=r.mndcg_ci[1],
                                  linkage=linkage, k=r.k, n=len(gt)))
            log.info("evaluate: %-14s %-9s %-10s mAP %.3f  mnDCG %.3f", model, variant, kind, r.map, r.mndcg)
        if probes:
            train = _aligned(root, model, variant, ev.train_split, train_ids)
            downstream.append(dict(**s.row(), **_probes(train, labels[ev.train_split], database, labels[split], ev)))
    return scenarios, downstream


def _read(root: Path, model: str, variant: str, split: str) -> tuple[np.ndarray, list[str]]:
    """Embeddings and their ids, every row finite and non-zero; a DatasetError names the file."""
    array, ids = load_embeddings(root, model, variant, split)
    try:
        return real_rows(array, str(embedding_path(root, model, variant, split))), ids
    except ValueError as e:
        raise DatasetError(str(e)) from None


def _aligned(root: Path, model: str, variant: str, split: str, reference_ids: list[str]) -> np.ndarray:
    """Embeddings whose rows are the images of the Unadapted original embeddings of ``split``, in their order."""
    array, ids = _read(root, model, variant, split)
    if ids != reference_ids:
        raise DatasetError(_misaligned(embedding_path(root, model, variant, split), ids,
                                       embedding_path(root, UNADAPTED, ORIGINAL, split), reference_ids))
    return array


def _misaligned(path: Path, ids: list[str], reference: Path, reference_ids: list[str]) -> str:
    """Why the rows of ``path`` are not the reference's images, naming both files and the first difference."""
    if len(ids) != len(reference_ids):
        difference = f"{len(ids)} rows against {len(reference_ids)}"
    else:
        i = next(i for i, (a, b) in enumerate(zip(ids, reference_ids, strict=True)) if a != b)
        difference = f"row {i} is image {ids[i]!r} there but {reference_ids[i]!r} in the Unadapted one"
    return (f"rows of {path} (ids: {_ids_source(path)}) are not the images of the Unadapted original embeddings "
            f"{reference} (ids: {_ids_source(reference)}) in the same order: {difference}. Write every embedding "
            "file of a split with the rows and ids of the Unadapted original one")


def _ids_source(path: Path) -> str:
    """The id list of an embedding file, or how its rows count without one."""
    ids = ids_path(path)
    return str(ids) if ids.is_file() else f"{ids} is missing, so rows count as 0, 1, ..."


def _read_labels(root: Path, split: str, n: int) -> np.ndarray:
    """Class ids of ``split``, one per row of its Unadapted original embeddings."""
    path = labels_path(root, split)
    labels = load_array(path)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise DatasetError(f"{path} must hold one non-negative integer class id per image, "
                           f"got a {labels.dtype} array of shape {labels.shape}")
    if len(labels) != n:
        raise DatasetError(f"{path} holds {len(labels)} labels but the Unadapted original embeddings of {split!r} "
                           f"in {root} have {n} rows")
    return labels


def _probes(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
            ev: ml_collections.ConfigDict) -> dict[str, float]:
    """k-NN and linear probe accuracy of classifiers fitted on ``train`` and tested on ``test``."""
    return dict(knn=knn_accuracy(train, y_train, test, y_test, k=ev.knn_k, temperature=ev.knn_temperature),
                linear=linear_probe_accuracy(train, y_train, test, y_test, seed=0))


def _csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _settings(ev: ml_collections.ConfigDict, reference: dict, probes: bool) -> dict:
    """What the scores mean: the evaluated split and its size, the relevant set, self-matches, the intervals'
    resamples, and the split the probes were fitted on (None without probes)."""
    return dict(split=ev.split, n=reference["n"], k=reference["k"], fraction=ev.fraction, exclude_self=ev.exclude_self,
                n_bootstrap=ev.n_bootstrap, train_split=ev.train_split if probes else None)


def _write_results(out: Path, scenarios: list[dict], downstream: list[dict], reference: dict, settings: dict) -> None:
    """Replace ``out`` with this run's results, so that no file of an earlier run (the correlation of a degree no
    longer in the grid, probe results of a run with probes) lingers beside them."""
    shutil.rmtree(out, ignore_errors=True)
    save_json(out / "reference.json", reference)
    save_text(out / "scenarios.csv", _csv(scenarios, SCENARIO_COLUMNS))
    save_json(out / "scenarios.json", scenarios)
    if downstream:
        save_text(out / "downstream.csv", _csv(downstream, DOWNSTREAM_COLUMNS))
        save_json(out / "downstream.json", downstream)
    degrees = []
    for degree in sorted({r["degree"] for r in scenarios}):
        rows = [r for r in scenarios if r["degree"] == degree]
        down = [r for r in downstream if r["degree"] == degree]
        entry, correlation = dict(degree=degree, correlation=None), []
        if len(down) >= 3:
            names, matrix = pearson_matrix(metrics_across_models(rows, down))
            entry["correlation"] = f"correlation_{percent(degree)}.csv"
            save_text(out / entry["correlation"], correlation_csv(names, matrix))
            correlation = with_accuracy(names, matrix)
        degrees.append({**entry, **degree_summary(rows, down, correlation)})
    save_json(out / "summary.json", dict(settings=settings, degrees=degrees))
