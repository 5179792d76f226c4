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
import os

import ml_collections
from etils import epath

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.analysis.scale import evaluation_settings, study_scale
from anonjax.analysis.summary import study_summary
from anonjax.data import SPLITS
from anonjax.files import csv_text, save_json, save_text
from anonjax.fingerprint import fingerprint, is_complete, mark_complete
from anonjax.layout import ORIGINAL, UNADAPTED, WorkDir
from anonjax.paths import as_path
from anonjax.plan import StudyPlan, study_plan, validate_grid
from anonjax.retrieval.embedding_inputs import (
    ALL,
    file_digests,
    input_files,
    probes_wanted,
    read_embeddings,
    read_inputs,
    retrieval_splits,
    test_split,
)
from anonjax.retrieval.study_grid import (
    DOWNSTREAM_COLUMNS,
    SCENARIO_COLUMNS,
    Scenario,
    evaluate_grid,
    keep_original_embeddings,
    paired_bootstrap,
    scored_scenarios,
)
from anonjax.synthetic_embeddings import write_synthetic_embeddings

log = logging.getLogger(__name__)

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


def embeddings_root(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> epath.Path:
    """Where this run reads embeddings from."""
    source = config.evaluate.embeddings
    if source == "builtin":
        return WorkDir(workdir).builtin_embeddings
    return as_path(source) if source else WorkDir(workdir).embeddings


def run(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> str:
    """Score every scenario of the plan and write the results; a one-line account of what was done."""
    work = WorkDir(workdir)
    out = work.results
    plan = study_plan(config)
    root = embeddings_root(config, workdir)
    builtin_fp = fingerprint(config.grid, config.seed)
    if config.evaluate.embeddings == "builtin" and not hosts.main_decides(is_complete, root, builtin_fp):
        log.info("evaluate: writing the built-in embedding set to %s", root)
        hosts.on_main("builtin embeddings", _write_builtin, root, plan, builtin_fp)
    splits, grid, probes, inputs = _found_inputs(config, plan, root)
    fp = fingerprint(RESULTS_LAYOUT, [m.name for m in plan.models], [v.name for v in plan.variants],
                     config.evaluate, plan.seed, inputs, study_scale(config))
    if hosts.main_decides(is_complete, out, fp):
        log.info("evaluate: results in %s are up to date", out)
        return "up to date"
    data = read_inputs(config.evaluate, root, splits)
    results, scenarios, downstream = evaluate_grid(config, root, grid, probes, data)
    kept = keep_original_embeddings(config, data)
    n_test = len(read_embeddings(root, UNADAPTED, ORIGINAL, test_split(config.evaluate))[1]) if probes else None
    settings = evaluation_settings(config, data, scenarios, n_test)
    paired = paired_bootstrap(results, config)

    def write() -> None:
        _write_results(work, scenarios, downstream, kept, settings, paired)
        mark_complete(out, fp, embeddings=str(root))

    hosts.on_main("evaluate", write)
    return f"{len(scenarios)} scenarios and {len(downstream)} probe results scored; results in {out}"


def _found_inputs(config: ml_collections.ConfigDict, plan: StudyPlan, root: epath.Path,
                  ) -> tuple[tuple[str, ...], list[Scenario], bool, list[tuple[str, str]]]:
    """The splits, scenarios and probes of this run and the digests of the files it reads, as the main process
    finds them in ``root``: every process scores the same grid, however far behind its view of the files is."""

    def find() -> dict:
        splits = retrieval_splits(root, config.evaluate.split)
        grid = scored_scenarios(plan, root, splits)
        probes = probes_wanted(config.evaluate, root)
        return {"splits": splits, "grid": [(sc.model.name, sc.variant.name) for sc in grid], "probes": probes,
                "inputs": file_digests(root, input_files(config.evaluate, root, splits, grid, probes))}

    found = hosts.main_decides(find)
    models, variants = {m.name: m for m in plan.models}, {v.name: v for v in plan.variants}
    grid = [Scenario(models[m], variants[v]) for m, v in found["grid"]]
    return tuple(found["splits"]), grid, found["probes"], found["inputs"]


def _write_builtin(root: epath.Path, plan: StudyPlan, fp: str) -> None:
    """The built-in embedding set for the plan's methods, degrees, controls and adaptations, marked complete."""
    write_synthetic_embeddings(root, methods=tuple(dict.fromkeys(v.method for v in plan.variants)),
                               degrees=tuple(dict.fromkeys(v.degree for v in plan.variants)),
                               adaptations=tuple(dict.fromkeys(m.adaptation for m in plan.models
                                                               if not m.on_original)),
                               controls=len(plan.controls), seed=plan.seed)
    mark_complete(root, fp)


def _write_results(work: WorkDir, scenarios: list[dict], downstream: list[dict], reference: dict, settings: dict,
                   paired) -> None:
    """Replace the results folder with this run's results, so that no file of an earlier run (the correlation of a
    degree no longer in the grid, probe results of a run with probes) lingers beside them."""
    work.results.rmtree(missing_ok=True)
    save_json(work.reference, reference)
    save_text(work.scenarios_csv, csv_text(scenarios, SCENARIO_COLUMNS))
    save_json(work.scenarios, scenarios)
    if downstream:
        save_text(work.downstream_csv, csv_text(downstream, DOWNSTREAM_COLUMNS))
        save_json(work.downstream, downstream)
    summary, correlations = study_summary(scenarios, downstream, settings, paired,
                                          correlation_file=lambda degree: work.correlation(degree).name)
    for degree, text in correlations.items():
        save_text(work.correlation(degree), text)
    save_json(work.summary, summary)
