"""Stage ``evaluate``: every retrieval scenario scored against the Unadapted model's retrievals on the
original data, with its chance level, the linkage risk beside it, downstream probes, correlations between the
metrics and a summary of each degree in which every comparison carries its noise. It computes and writes numbers
only; the report stage renders them.

Reads embeddings in the layout of :mod:`anonjax.layout` from ``config.evaluate.embeddings`` (a directory,
``"builtin"`` for the small set made by code, or empty for ``<workdir>/embeddings`` as the embed stage
writes it) and replaces ``<workdir>/results/`` with:

- ``scenarios.csv`` / ``.json``: one row per model x method x degree x query kind (``SCENARIO_COLUMNS``), and
  per model one row without anonymization (method ``none``, degree 0: original queries and database), which
  separates "the model changed" from "the data changed"; ``map_chance``/``mndcg_chance`` are the expected
  scores of a random ranking; ``scored`` the number of queries the scores cover;
- ``downstream.csv`` / ``.json``: k-NN and linear probe accuracy per model x method x degree
  (``DOWNSTREAM_COLUMNS``), when the probes ran;
- ``reference.json``: the scores of keeping the original embeddings (``map, mndcg, linkage, k, n``);
- ``correlation_<percent>.csv``: the Pearson matrix of all metrics across models at one degree, when at
  least three (model, method) pairs have probe results;
- ``summary.json``: the settings and scale the scores depend on, warnings about sets too small to separate
  settings, and per degree the comparisons the report's findings state (:mod:`anonjax.analysis.summary`).

Retrieval runs on ``evaluate.split``, or on every embedded split with ``"all"`` (a user's folder is a retrieval
database; the self-supervised training uses no labels); the probes are fitted on ``train_split`` and tested
on ``test_split``. With ``self_matches="auto"`` a query's own image leaves its ranking when it would be more
than 5% of its relevant set. A query whose ground truth ties across its relevant set's boundary (the k-th and
(k+1)-th cosines equal: :mod:`anonjax.retrieval.ties`) has no defined relevant set: it is left out of every score
and counted; when more than ``MAX_TIED_SHARE`` of the queries are, the stage stops.

Every embedding file read must list, in its ids file, the images of the Unadapted model's original embeddings of
the same split in the same order; the results are up to date while the contents of every file read are unchanged.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import ml_collections
import numpy as np
from jax.sharding import Mesh

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.analysis import correlation_csv, metrics_across_models, pearson_matrix, with_accuracy
from anonjax.analysis.summary import degree_summary, nested_degrees
from anonjax.data import SPLITS
from anonjax.downstream import knn_accuracy, linear_probe_accuracy
from anonjax.errors import DatasetError
from anonjax.files import csv_text, save_json, save_text, sha256_file
from anonjax.layout import (
    NO_ANONYMIZATION,
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
from anonjax.parallel import make_mesh, mesh_size
from anonjax.plan import Model, StudyPlan, Variant, study_plan, validate_grid
from anonjax.retrieval import ScenarioResult, evaluate_scenario, linkage_rate, paired_difference_ci
from anonjax.retrieval.inputs import real_rows, relevant_count
from anonjax.retrieval.ties import tied_queries
from anonjax.stages.fingerprint import fingerprint, is_complete, mark_complete
from anonjax.synthetic_embeddings import write_synthetic_embeddings

log = logging.getLogger(__name__)

SCENARIO_COLUMNS = ("model", "model_name", "method", "degree", "queries", "map", "mndcg",
                    "map_low", "map_high", "mndcg_low", "mndcg_high", "map_chance", "mndcg_chance",
                    "linkage", "k", "n", "scored")
DOWNSTREAM_COLUMNS = ("model", "model_name", "method", "degree", "knn", "linear")
ALL = "all"  # evaluate.split: retrieval over every embedded split
SELF_SHARE_LIMIT = 0.05  # self_matches "auto": a self-match above this share of the relevant set is left out
MIN_SEPARABLE_K = 10  # below this many relevant items per query the metrics cannot separate settings
MAX_TIED_SHARE = 0.5  # above this share of queries without a defined relevant set the split is not scored
TOY_QUERIES = 1000  # fewer queries, or a backbone trained for fewer steps, is a demonstration at toy scale
TOY_STEPS = 10_000
# The layout of the results folder; part of the fingerprint, so results written in another layout are redone.
RESULTS_LAYOUT = 4


def validate(config: ml_collections.ConfigDict) -> None:
    """Check the grid, the seed and the evaluation settings before any work."""
    validate_grid(config)
    cc.check_choice(config, "evaluate.split", (*SPLITS, ALL))
    train_split = cc.check_choice(config, "evaluate.train_split", SPLITS)
    cc.check_choice(config, "evaluate.test_split", ("", *SPLITS))
    cc.check_fraction(config, "evaluate.fraction")
    cc.check_choice(config, "evaluate.self_matches", ("auto", "keep", "exclude"))
    cc.check_positive_int(config, "evaluate.n_bootstrap")
    if cc.check_bool(config, "evaluate.probes") and train_split == test_split(config.evaluate):
        raise cc.ConfigError("evaluate.train_split", f"is {train_split!r}, the split the probes are tested on "
                             "(evaluate.test_split); choose another split or set evaluate.probes=False")
    cc.check_positive_int(config, "evaluate.knn_k")
    cc.check_positive_number(config, "evaluate.knn_temperature")
    source = cc.get(config, "evaluate.embeddings")
    if source not in ("", "builtin"):
        cc.check_path(config, "evaluate.embeddings", kind="dir")


def test_split(ev: ml_collections.ConfigDict) -> str:
    """The split the probes are tested on: ``test_split``, else the retrieval split (``val`` when that is all)."""
    if ev.test_split:
        return ev.test_split
    return "val" if ev.split == ALL else ev.split


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
        return dict(model=self.model.row_name, model_name=self.model.name, method=self.variant.method,
                    degree=self.variant.degree)


class Inputs(NamedTuple):
    """What the scores are computed on: the Unadapted original embeddings of the retrieval set (the ground
    truth), their ids, the splits they come from, whether a query's own image leaves its ranking, the queries
    whose relevant set the ground truth leaves undecided (left out of every score), and the devices (of every
    process) the work is split over (None: one device)."""

    gt: np.ndarray
    ids: list[str]
    splits: tuple[str, ...]
    sizes: tuple[int, ...]
    exclude_self: bool
    tied: np.ndarray
    mesh: Mesh | None


def run(config: ml_collections.ConfigDict, workdir: Path) -> str:
    """Score every scenario of the plan and write the results; a one-line account of what was done."""
    out = workdir / "results"
    plan = study_plan(config)
    root = embeddings_root(config, workdir)
    builtin_fp = fingerprint(config.grid, config.seed)
    if config.evaluate.embeddings == "builtin" and not hosts.main_value(is_complete(root, builtin_fp)):
        log.info("evaluate: writing the built-in embedding set to %s", root)
        hosts.on_main("builtin embeddings", _write_builtin, root, plan, builtin_fp)
    splits = retrieval_splits(root, config.evaluate.split)
    grid = _scenarios(plan, root, splits)
    probes = _probes_wanted(config.evaluate, root)
    inputs = _digests(root, _input_files(config.evaluate, root, splits, grid, probes))
    fp = fingerprint(RESULTS_LAYOUT, [m.name for m in plan.models], [v.name for v in plan.variants],
                     config.evaluate, plan.seed, inputs, _scale(config))
    if hosts.main_value(is_complete(out, fp)):
        log.info("evaluate: results in %s are up to date", out)
        return "up to date"
    data = _inputs(config.evaluate, root, splits)
    results, scenarios, downstream = evaluate_grid(config, root, grid, probes, data)
    kept = keep_original_embeddings(config, data)
    n_test = len(_read(root, UNADAPTED, ORIGINAL, test_split(config.evaluate))[1]) if probes else None
    settings = _settings(config, data, scenarios, n_test)
    pairing = _pairing(results, config)

    def write() -> None:
        _write_results(out, scenarios, downstream, kept, settings, pairing)
        mark_complete(out, fp, embeddings=str(root))

    hosts.on_main("evaluate", write)
    return f"{len(scenarios)} scenarios and {len(downstream)} probe results scored; results in {out}"


def _inputs(ev: ml_collections.ConfigDict, root: Path, splits: Sequence[str]) -> Inputs:
    """The ground truth of ``splits`` and what follows from it; a DatasetError naming its files where it is too
    small to rank or where it leaves most relevant sets undecided."""
    files = [embedding_path(root, UNADAPTED, ORIGINAL, s) for s in splits]
    parts = [_read(root, UNADAPTED, ORIGINAL, s) for s in splits]
    _same_width(list(zip(files, (a for a, _ in parts), strict=True)))
    gt = np.concatenate([a for a, _ in parts])
    exclude_self = _exclude_self(ev, len(gt))
    named = ", ".join(map(str, files))
    ranked = len(gt) - exclude_self
    k = relevant_count(ev.fraction, ranked)
    if k >= ranked:  # every ranked image relevant: any ranking scores 100%
        own = " besides its own" if exclude_self else ""
        what = (f"each query ranks {ranked} image(s){own}, and all are in its relevant set (k = {k})" if ranked
                else "a query has no image to rank besides its own")
        fix = f"at least {2 + exclude_self} rows are needed" if ev.fraction < 1 else "lower evaluate.fraction"
        raise DatasetError(f"{named}: {len(gt)} row(s) are too few to score retrieval: {what}; {fix}")
    tied = tied_queries(gt, gt, fraction=ev.fraction, exclude_self=exclude_self)
    if tied.mean() > MAX_TIED_SHARE:
        flat = " (dimension 1: every cosine is +1 or -1)" if gt.shape[1] == 1 else ""
        raise DatasetError(
            f"{named}: {tied.sum()} of {len(gt)} queries (more than {MAX_TIED_SHARE:.0%}) have no defined relevant "
            f"set: their k-th and (k+1)-th most similar images (k = {k}) have the same cosine{flat}, so row order, "
            "not the embeddings, would decide what is relevant. Check that the ground-truth rows differ")
    return Inputs(gt, _joined_ids(root, splits, [i for _, i in parts]), tuple(splits),
                  tuple(len(i) for _, i in parts), exclude_self, tied, _devices())


def _same_width(named: Sequence[tuple[Path, np.ndarray]]) -> None:
    """Embeddings compared with one another have one dimension; a DatasetError names two files that differ."""
    (first, reference), *rest = named
    for path, array in rest:
        if array.shape[1] != reference.shape[1]:
            raise DatasetError(f"{path} has dimension {array.shape[1]}, {first} has {reference.shape[1]}: every "
                               "variant and split of a model must be embedded by that one model")


def _devices() -> Mesh | None:
    """Every device of every process; None when there is one, where the unsharded path overlaps the chunks'
    selections in threads (``retrieval.chunks.map_chunks``)."""
    mesh = make_mesh()
    return mesh if mesh_size(mesh) > 1 else None


def _write_builtin(root: Path, plan: StudyPlan, fp: str) -> None:
    """The built-in embedding set for the plan's methods, degrees, controls and adaptations, marked complete."""
    write_synthetic_embeddings(root, methods=tuple(dict.fromkeys(v.method for v in plan.variants)),
                               degrees=tuple(dict.fromkeys(v.degree for v in plan.variants)),
                               adaptations=tuple(dict.fromkeys(m.adaptation for m in plan.models
                                                               if not m.on_original)),
                               controls=len(plan.controls), seed=plan.seed)
    mark_complete(root, fp)


def retrieval_splits(root: Path, split: str) -> tuple[str, ...]:
    """The splits retrieval runs on: ``split``, or with ``all`` every split with Unadapted original embeddings."""
    if split != ALL:
        return (split,)
    found = tuple(s for s in SPLITS if embedding_path(root, UNADAPTED, ORIGINAL, s).is_file())
    if not found:
        raise DatasetError(f"no Unadapted original embeddings of any split ({', '.join(SPLITS)}) in {root}")
    return found


def _exclude_self(ev: ml_collections.ConfigDict, n: int) -> bool:
    """Whether a query's own image leaves its ranking: as configured, or with ``auto`` when it would be more than
    ``SELF_SHARE_LIMIT`` of its relevant set (1/k)."""
    if ev.self_matches != "auto":
        return ev.self_matches == "exclude"
    return 1 / relevant_count(ev.fraction, n) > SELF_SHARE_LIMIT


def _scenarios(plan: StudyPlan, root: Path, splits: Sequence[str]) -> list[Scenario]:
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


def _probes_wanted(ev: ml_collections.ConfigDict, root: Path) -> bool:
    """Whether the downstream probes run: asked for, and labels of both splits exist."""
    if not ev.probes:
        return False
    if not all(labels_path(root, s).is_file() for s in (ev.train_split, test_split(ev))):
        log.warning("evaluate: no labels of splits %s and %s in %s; downstream probes are skipped",
                    ev.train_split, test_split(ev), root / "labels")
        return False
    return True


def _input_files(ev: ml_collections.ConfigDict, root: Path, splits: Sequence[str], grid: list[Scenario],
                 probes: bool) -> list[Path]:
    """Every file the evaluation reads: embeddings, the id lists beside them, and labels for the probes."""
    arrays = [embedding_path(root, UNADAPTED, ORIGINAL, s) for s in splits]
    for sc in grid:
        arrays += [embedding_path(root, sc.model.name, v, s) for v in (sc.variant.name, ORIGINAL) for s in splits]
    if probes:
        for split in (ev.train_split, test_split(ev)):
            arrays.append(embedding_path(root, UNADAPTED, ORIGINAL, split))
            arrays += [embedding_path(root, sc.model.name, sc.variant.name, split) for sc in grid]
    files = set(arrays) | {ids_path(p) for p in arrays}
    if probes:
        files |= {labels_path(root, ev.train_split), labels_path(root, test_split(ev))}
    return sorted(files)


def _digests(root: Path, files: list[Path]) -> list[tuple[str, str]]:
    """Name and SHA-256 of every input file that exists: results depend on their contents, not their dates."""
    return [(str(p.relative_to(root)), sha256_file(p)) for p in files if p.is_file()]


def _score(config: ml_collections.ConfigDict, data: Inputs, queries: np.ndarray,
           database: np.ndarray) -> ScenarioResult:
    ev = config.evaluate
    return evaluate_scenario(data.gt, data.gt, queries, database, fraction=ev.fraction,
                             exclude_self=data.exclude_self, n_bootstrap=ev.n_bootstrap, seed=config.seed,
                             mesh=data.mesh, scored=~data.tied)


def keep_original_embeddings(config: ml_collections.ConfigDict, data: Inputs) -> dict:
    """The paper's section V-F1 reference: keep the Unadapted embeddings of the original images beside the
    anonymized images. Retrieval is then the ground truth itself, and every image links to its original."""
    r = _score(config, data, data.gt, data.gt)
    return dict(map=r.map, mndcg=r.mndcg, linkage=linkage_rate(data.gt, data.gt, mesh=data.mesh), k=r.k, n=len(data.gt))


def evaluate_grid(config: ml_collections.ConfigDict, root: Path, grid: list[Scenario], probes: bool,
                  data: Inputs) -> tuple[dict[tuple, ScenarioResult], list[dict], list[dict]]:
    """Per-query results (by :func:`row_key`), scenario rows and downstream rows for every scenario of ``grid``,
    and one row without anonymization per model."""
    ev = config.evaluate
    if probes:
        probe_splits = (ev.train_split, test_split(ev))
        probe_ids = {s: _read(root, UNADAPTED, ORIGINAL, s)[1] for s in probe_splits}
        labels = {s: _read_labels(root, s, len(probe_ids[s])) for s in probe_splits}
    results: dict[tuple, ScenarioResult] = {}
    scenarios, downstream, originals_of = [], [], {}
    for sc in grid:
        model, variant = sc.model.name, sc.variant.name
        database = _aligned(root, model, variant, data)
        if model not in originals_of:
            originals_of[model] = (sc.model, _aligned(root, model, ORIGINAL, data))
        originals = originals_of[model][1]
        _same_width([(embedding_path(root, model, v, data.splits[0]), a)
                     for v, a in ((ORIGINAL, originals), (variant, database))])
        linkage = linkage_rate(database, originals, mesh=data.mesh)
        for kind in QUERY_KINDS:
            r = _score(config, data, originals if kind == ORIGINAL else database, database)
            row = dict(**sc.row(), queries=kind, **_columns(r), linkage=linkage, k=r.k, n=len(data.gt))
            results[row_key(row)] = r
            scenarios.append(row)
            log.info("evaluate: %-14s %-9s %-10s mAP %.3f  mnDCG %.3f  (chance %.3f, %.3f)", model, variant, kind,
                     r.map, r.mndcg, r.map_chance, r.mndcg_chance)
        if probes:
            train = _aligned_split(root, model, variant, ev.train_split, probe_ids[ev.train_split])
            test = _aligned_split(root, model, variant, probe_splits[1], probe_ids[probe_splits[1]])
            _same_width([(embedding_path(root, model, variant, s), a) for s, a in zip(probe_splits, (train, test),
                                                                                     strict=True)])
            downstream.append(dict(**sc.row(), **_probes(train, labels[ev.train_split], test,
                                                         labels[probe_splits[1]], ev, data.mesh)))
    for model, originals in originals_of.values():
        r = _score(config, data, originals, originals)
        row = dict(model=model.row_name, model_name=model.name, method=NO_ANONYMIZATION, degree=0.0,
                   queries=ORIGINAL, **_columns(r), linkage=None, k=r.k, n=len(data.gt))
        results[row_key(row)] = r
        scenarios.append(row)
        log.info("evaluate: %-14s no anonymization     mAP %.3f  mnDCG %.3f", model.name, r.map, r.mndcg)
    return results, scenarios, downstream


def row_key(row: dict) -> tuple:
    """What identifies a scenario row: model, method, degree, query kind."""
    return row["model_name"], row["method"], row["degree"], row["queries"]


def _columns(r: ScenarioResult) -> dict:
    return dict(map=r.map, mndcg=r.mndcg, map_low=r.map_ci[0], map_high=r.map_ci[1], mndcg_low=r.mndcg_ci[0],
                mndcg_high=r.mndcg_ci[1], map_chance=r.map_chance, mndcg_chance=r.mndcg_chance, scored=len(r.ap))


def _pairing(results: dict[tuple, ScenarioResult], config: ml_collections.ConfigDict):
    """The paired bootstrap of two scenario rows (scored on the same queries), for the summary."""
    def paired(a: dict, b: dict, metric: str) -> tuple[float, float, float]:
        field = "ap" if metric == "map" else "ndcg"
        return paired_difference_ci(getattr(results[row_key(a)], field), getattr(results[row_key(b)], field),
                                    config.evaluate.n_bootstrap, config.seed)
    return paired


def _read(root: Path, model: str, variant: str, split: str) -> tuple[np.ndarray, list[str]]:
    """Embeddings and their ids, every row finite and non-zero; a DatasetError names the file."""
    array, ids = load_embeddings(root, model, variant, split)
    try:
        return real_rows(array, str(embedding_path(root, model, variant, split))), ids
    except ValueError as e:
        raise DatasetError(str(e)) from None


def _joined_ids(root: Path, splits: Sequence[str], ids: Sequence[list[str]]) -> list[str]:
    """The ids of several splits one after the other; they must name different images."""
    joined = [i for part in ids for i in part]
    if len(set(joined)) != len(joined):
        raise DatasetError(f"the Unadapted original embeddings of splits {', '.join(splits)} in {root} share image "
                           "ids: they cannot be evaluated as one set")
    return joined


def _aligned(root: Path, model: str, variant: str, data: Inputs) -> np.ndarray:
    """Embeddings of the retrieval set whose rows are the images of the ground truth, in its order."""
    ends = np.cumsum(data.sizes)
    parts = [_aligned_split(root, model, variant, split, data.ids[end - size:end])
             for split, size, end in zip(data.splits, data.sizes, ends, strict=True)]
    _same_width([(embedding_path(root, model, variant, s), a) for s, a in zip(data.splits, parts, strict=True)])
    return np.concatenate(parts)


def _aligned_split(root: Path, model: str, variant: str, split: str, reference_ids: list[str]) -> np.ndarray:
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
            ev: ml_collections.ConfigDict, mesh: Mesh | None) -> dict[str, float]:
    """k-NN and linear probe accuracy of classifiers fitted on ``train`` and tested on ``test``."""
    return dict(knn=knn_accuracy(train, y_train, test, y_test, k=ev.knn_k, temperature=ev.knn_temperature,
                                 mesh=mesh),
                linear=linear_probe_accuracy(train, y_train, test, y_test, seed=0))



def _scale(config: ml_collections.ConfigDict) -> dict | None:
    """What produced the embeddings, when this study trained them: backbone, released weights continued from,
    training steps and batch, the canvas and the input resolution the model sees. None for embeddings brought
    from elsewhere."""
    if config.evaluate.embeddings or "train" not in config or "embed" not in config:
        return None
    t = config.train
    return dict(backbone=t.model, pretrained=t.pretrained or None, steps=t.epochs * t.steps_per_epoch,
                batch=t.batch_size, canvas=t.canvas_size, input=config.embed.image_size)


def _settings(config: ml_collections.ConfigDict, data: Inputs, scenarios: list[dict], n_test: int | None) -> dict:
    """What the scores mean: the retrieval set and its size, the relevant set, the queries left out for want of
    one, self-matches, the intervals' resamples, the probes' splits, the scale of the models and the warnings a
    reader must see first."""
    ev, n = config.evaluate, len(data.gt)
    k = scenarios[0]["k"] if scenarios else relevant_count(ev.fraction, n - 1 if data.exclude_self else n)
    scale = _scale(config)
    toy = (config.evaluate.embeddings == "builtin" or n < TOY_QUERIES
           or (scale is not None and ("tiny" in scale["backbone"]
                                      or (not scale["pretrained"] and scale["steps"] < TOY_STEPS))))
    warnings = []
    if k < MIN_SEPARABLE_K:
        warnings.append(f"each query has only {k} relevant item(s) (k = {k} < {MIN_SEPARABLE_K}): at this size the "
                        "metrics cannot separate settings; evaluate on more images (evaluate.split='all' uses every "
                        "embedded split)")
        log.warning("evaluate: %s", warnings[-1])
    if tied := int(data.tied.sum()):
        warnings.append(f"{tied} of {n} queries have no defined relevant set (their k-th and (k+1)-th most similar "
                        f"images, k = {k}, have the same cosine in the ground truth): they are left out of every "
                        f"score, which covers the other {n - tied}")
        log.warning("evaluate: %s", warnings[-1])
    return dict(split=ev.split, splits=list(data.splits), n=n, k=k, tied=tied, fraction=ev.fraction,
                exclude_self=data.exclude_self, self_matches=ev.self_matches,
                self_share=None if data.exclude_self else 1 / k, n_bootstrap=ev.n_bootstrap,
                train_split=ev.train_split if n_test else None, test_split=test_split(ev) if n_test else None,
                n_test=n_test,
                builtin=config.evaluate.embeddings == "builtin", scale=scale, toy=bool(toy), warnings=warnings)


def _write_results(out: Path, scenarios: list[dict], downstream: list[dict], reference: dict, settings: dict,
                   paired) -> None:
    """Replace ``out`` with this run's results, so that no file of an earlier run (the correlation of a degree no
    longer in the grid, probe results of a run with probes) lingers beside them."""
    shutil.rmtree(out, ignore_errors=True)
    save_json(out / "reference.json", reference)
    save_text(out / "scenarios.csv", csv_text(scenarios, SCENARIO_COLUMNS))
    save_json(out / "scenarios.json", scenarios)
    if downstream:
        save_text(out / "downstream.csv", csv_text(downstream, DOWNSTREAM_COLUMNS))
        save_json(out / "downstream.json", downstream)
    anonymized = [r for r in scenarios if r["method"] != NO_ANONYMIZATION]
    none_rows = [r for r in scenarios if r["method"] == NO_ANONYMIZATION]
    degrees = []
    for degree in sorted({r["degree"] for r in anonymized}):
        rows = [r for r in anonymized if r["degree"] == degree]
        down = [r for r in downstream if r["degree"] == degree]
        entry, correlation = dict(degree=degree, correlation=None), []
        metrics = metrics_across_models(rows, down) if down else {}
        if len(metrics.get("k-NN", ())) >= 3:  # the model x method points, the controls apart
            names, matrix = pearson_matrix(metrics)
            entry["correlation"] = f"correlation_{percent(degree)}.csv"
            save_text(out / entry["correlation"], correlation_csv(names, matrix))
            correlation = with_accuracy(names, matrix, len(metrics["k-NN"]))
            entry["control_points"] = metrics_across_models(rows, down, controls=True)
        degrees.append({**entry, **degree_summary(rows, paired, none_rows=none_rows, downstream=down,
                                                  n_test=settings["n_test"] or 0, correlation=correlation)})
    save_json(out / "summary.json", dict(settings=settings, degrees=degrees,
                                         nested=nested_degrees(anonymized, paired)))
