"""Scoring a study's grid: every model on every anonymized variant whose embeddings exist, with both query kinds,
its linkage rate and probes, one row without anonymization per model, and the reference of keeping the original
embeddings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import ml_collections
import numpy as np
from jax.sharding import Mesh

from anonjax import hosts
from anonjax.backend import Backend
from anonjax.downstream import knn_accuracy, linear_probe_accuracy
from anonjax.errors import DatasetError
from anonjax.layout import NO_ANONYMIZATION, ORIGINAL, QUERY_KINDS, UNADAPTED, embedding_path
from anonjax.plan import Model, StudyPlan, Variant
from anonjax.retrieval import ScenarioResult, evaluate_scenarios, linkage_rate, paired_difference_ci
from anonjax.retrieval.embedding_inputs import (
    Inputs,
    aligned,
    aligned_split,
    read_embeddings,
    read_labels,
    same_width,
    test_split,
)

log = logging.getLogger(__name__)

SCENARIO_COLUMNS = ("model", "model_name", "method", "degree", "queries", "map", "mndcg",
                    "map_low", "map_high", "mndcg_low", "mndcg_high", "map_chance", "mndcg_chance",
                    "linkage", "k", "n", "scored")
DOWNSTREAM_COLUMNS = ("model", "model_name", "method", "degree", "knn", "linear")


class Scenario(NamedTuple):
    """One model of the plan scored on one anonymized variant whose embeddings exist."""

    model: Model
    variant: Variant

    def row(self) -> dict:
        """The columns that name this scenario in the results."""
        return dict(model=self.model.row_name, model_name=self.model.name, method=self.variant.method,
                    degree=self.variant.degree)


def scored_scenarios(plan: StudyPlan, root: Path, splits: Sequence[str]) -> list[Scenario]:
    """Every (model, anonymized variant) of the plan with embeddings in ``root``: the Unadapted model on every
    variant (required), the controls on every variant and each adapted model on its own (left out with a warning
    when missing)."""
    grid = []
    for variant in plan.variants:
        for model in plan.scored(variant):
            missing = [p for s in splits for p in (embedding_path(root, model.name, variant.name, s),
                                                   embedding_path(root, model.name, ORIGINAL, s)) if not p.is_file()]
            if missing:
                if model.unadapted:
                    raise DatasetError(f"the Unadapted model has no {variant.name} embeddings of "
                                       f"{', '.join(splits)} in {root} ({missing[0]} is missing)")
                log.warning("evaluate: no %s embeddings for model %s (%s is missing); its rows are left out",
                            variant.name, model.name, missing[0])
                continue
            grid.append(Scenario(model, variant))
    return grid


def score(config: ml_collections.ConfigDict, data: Inputs,
          scenarios: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[ScenarioResult]:
    """Every ``(queries, database)`` of ``scenarios`` scored against the study's ground truth, computed once."""
    ev = config.evaluate
    return evaluate_scenarios(data.gt, data.gt, scenarios, fraction=ev.fraction, exclude_self=data.exclude_self,
                              n_bootstrap=ev.n_bootstrap, seed=config.seed, backend=data.backend, mesh=data.mesh,
                              scored=~data.tied)


def keep_original_embeddings(config: ml_collections.ConfigDict, data: Inputs) -> dict:
    """The paper's section V-F1 reference: keep the Unadapted embeddings of the original images beside the
    anonymized images. Retrieval is then the ground truth itself, and every image links to its original."""
    [r] = score(config, data, [(data.gt, data.gt)])
    linkage = linkage_rate(data.gt, data.gt, backend=data.backend, mesh=data.mesh)
    return dict(map=r.map, mndcg=r.mndcg, linkage=linkage, k=r.k, n=len(data.gt))


def evaluate_grid(config: ml_collections.ConfigDict, root: Path, grid: list[Scenario], probes: bool,
                  data: Inputs) -> tuple[dict[tuple, ScenarioResult], list[dict], list[dict]]:
    """Per-query results (by :func:`row_key`), scenario rows and downstream rows for every scenario of ``grid``,
    and one row without anonymization per model.

    The scenarios of one model (every variant, both query kinds, and no anonymization) are scored together, so
    that the ground truth is computed once per model rather than once per scenario."""
    ev = config.evaluate
    if probes:
        probe_splits = (ev.train_split, test_split(ev))
        probe_ids = {s: read_embeddings(root, UNADAPTED, ORIGINAL, s)[1] for s in probe_splits}
        labels = {s: read_labels(root, s, len(probe_ids[s])) for s in probe_splits}
    results: dict[tuple, ScenarioResult] = {}
    scenarios, downstream = [], []
    scored = {name: _score_model(config, root, [sc for sc in grid if sc.model.name == name], data)
              for name in dict.fromkeys(sc.model.name for sc in grid)}
    for sc in grid:
        model, variant = sc.model.name, sc.variant.name
        linkage = scored[model][variant]["linkage"]
        for kind in QUERY_KINDS:
            r = scored[model][variant][kind]
            row = dict(**sc.row(), queries=kind, **_columns(r), linkage=linkage, k=r.k, n=len(data.gt))
            results[row_key(row)] = r
            scenarios.append(row)
            log.info("evaluate: %-14s %-9s %-10s mAP %.3f  mnDCG %.3f  (chance %.3f, %.3f)", model, variant, kind,
                     r.map, r.mndcg, r.map_chance, r.mndcg_chance)
        if probes:
            train = aligned_split(root, model, variant, ev.train_split, probe_ids[ev.train_split])
            test = aligned_split(root, model, variant, probe_splits[1], probe_ids[probe_splits[1]])
            same_width([(embedding_path(root, model, variant, s), a) for s, a in zip(probe_splits, (train, test),
                                                                                     strict=True)])
            downstream.append(dict(**sc.row(), **_probes(train, labels[ev.train_split], test,
                                                         labels[probe_splits[1]], ev, data.backend, data.mesh)))
    for model in dict.fromkeys(sc.model for sc in grid):
        r = scored[model.name][NO_ANONYMIZATION]
        row = dict(model=model.row_name, model_name=model.name, method=NO_ANONYMIZATION, degree=0.0,
                   queries=ORIGINAL, **_columns(r), linkage=None, k=r.k, n=len(data.gt))
        results[row_key(row)] = r
        scenarios.append(row)
        log.info("evaluate: %-14s no anonymization     mAP %.3f  mnDCG %.3f", model.name, r.map, r.mndcg)
    return results, scenarios, downstream


def _score_model(config: ml_collections.ConfigDict, root: Path, grid: list[Scenario], data: Inputs) -> dict:
    """The scenarios of one model's ``grid``: variant name -> {query kind: result, "linkage": rate}, and
    ``NO_ANONYMIZATION`` -> the result of its original embeddings, all scored against one ground truth."""
    model = grid[0].model.name
    originals = aligned(root, model, ORIGINAL, data)
    pairs, linkage = [], {}
    for sc in grid:
        database = aligned(root, model, sc.variant.name, data)
        same_width([(embedding_path(root, model, v, data.splits[0]), a)
                    for v, a in ((ORIGINAL, originals), (sc.variant.name, database))])
        linkage[sc.variant.name] = linkage_rate(database, originals, backend=data.backend, mesh=data.mesh)
        pairs += [(originals if kind == ORIGINAL else database, database) for kind in QUERY_KINDS]
    results = iter(score(config, data, [*pairs, (originals, originals)]))
    out: dict = {sc.variant.name: {"linkage": linkage[sc.variant.name], **{kind: next(results)
                                                                           for kind in QUERY_KINDS}} for sc in grid}
    return {**out, NO_ANONYMIZATION: next(results)}


def row_key(row: dict) -> tuple:
    """What identifies a scenario row: model, method, degree, query kind."""
    return row["model_name"], row["method"], row["degree"], row["queries"]


def _columns(r: ScenarioResult) -> dict:
    return dict(map=r.map, mndcg=r.mndcg, map_low=r.map_ci[0], map_high=r.map_ci[1], mndcg_low=r.mndcg_ci[0],
                mndcg_high=r.mndcg_ci[1], map_chance=r.map_chance, mndcg_chance=r.mndcg_chance, scored=len(r.ap))


def paired_bootstrap(results: dict[tuple, ScenarioResult], config: ml_collections.ConfigDict):
    """The paired bootstrap of two scenario rows (scored on the same queries), for the summary."""
    def paired(a: dict, b: dict, metric: str) -> tuple[float, float, float]:
        field = "ap" if metric == "map" else "ndcg"
        return paired_difference_ci(getattr(results[row_key(a)], field), getattr(results[row_key(b)], field),
                                    config.evaluate.n_bootstrap, config.seed)
    return paired


def _probes(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
            ev: ml_collections.ConfigDict, backend: Backend, mesh: Mesh | None) -> dict[str, float]:
    """k-NN and linear probe accuracy of classifiers fitted on ``train`` and tested on ``test``.

    The k-NN ranking is split over the mesh's devices, of every process; the linear probe is fitted once, by the
    main process, and its accuracy sent to the others (they wait for it)."""
    return dict(knn=knn_accuracy(train, y_train, test, y_test, k=ev.knn_k, temperature=ev.knn_temperature,
                                 backend=backend, mesh=mesh),
                linear=hosts.main_decides(lambda: linear_probe_accuracy(train, y_train, test, y_test, seed=0)))
