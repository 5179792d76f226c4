"""One retrieval scenario scored against the pseudo ground truth: per-query AP and nDCG, their
means, bootstrap confidence intervals, and the chance levels of a random ranking."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax import lax
from jax.sharding import Mesh

from anonjax import parallel
from anonjax.backend import Backend, check_backend
from anonjax.retrieval import numpy_ranking
from anonjax.retrieval.bootstrap import bootstrap_mean_cis
from anonjax.retrieval.chance import expected_average_precision, expected_ndcg, mean_relevance
from anonjax.retrieval.chunks import map_chunks, rows_per_chunk
from anonjax.retrieval.inputs import (
    check_chunk_size,
    check_positive_int,
    relevant_count,
    same_dims,
    same_rows,
    unit_rows,
)
from anonjax.retrieval.keys import ranking_keys
from anonjax.retrieval.metrics import average_precision, ndcg
from anonjax.retrieval.topk import cosine_scores, without_self


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """Scores of one scenario. ``ap``/``ndcg`` are per scored query (float64, read-only); ``map``/``mndcg``
    their means; ``*_ci`` 95% percentile-bootstrap intervals over queries; ``k`` the size of each
    query's relevant set; ``*_chance`` the exact expected mAP and mnDCG of a uniformly random ranking
    of the database against the same ground truth (see ``anonjax.retrieval.chance``)."""

    map: float
    mndcg: float
    ap: np.ndarray
    ndcg: np.ndarray
    map_ci: tuple[float, float]
    mndcg_ci: tuple[float, float]
    k: int
    map_chance: float
    mndcg_chance: float


def _scores(queries, database, first_row, exclude_self: bool):
    """The cosines of the query rows ``first_row ...`` of one chunk (a query's own item at -inf where
    ``exclude_self``)."""
    scores = cosine_scores(queries, database)
    return without_self(scores, first_row) if exclude_self else scores


def _ground_truth_scores(gt_queries, gt_database, first_row, *, k: int, exclude_self: bool):
    """S0 of one chunk, its top-k scores and their items (the relevant sets): what its scenarios share."""
    gt_scores = _scores(gt_queries, gt_database, first_row, exclude_self)
    gt_top, relevant = lax.top_k(gt_scores, k)
    return gt_scores, gt_top, relevant


def _scenario_scores(gt_scores, gt_top, relevant, queries, database, first_row, *, exclude_self: bool):
    """(AP, nDCG, IDCG) for the query rows ``first_row ...`` of one chunk, given its ground truth."""
    scores = _scores(queries, database, first_row, exclude_self)
    _, eval_top = lax.top_k(scores, relevant.shape[1])
    ndcg_values, idcg = ndcg(gt_top, gt_scores, eval_top)
    return average_precision(scores, relevant), ndcg_values, idcg


_ground_truth_chunk = jax.jit(_ground_truth_scores, static_argnames=("k", "exclude_self"))
_scenario_chunk = jax.jit(_scenario_scores, static_argnames="exclude_self")


@functools.partial(jax.jit, static_argnames="exclude_self")
def _keys_chunk(queries, database, first_row, *, exclude_self: bool) -> jax.Array:
    return ranking_keys(_scores(queries, database, first_row, exclude_self))


@functools.lru_cache(maxsize=16)
def sharded_chunks(mesh: Mesh, k: int, exclude_self: bool):
    """:func:`_ground_truth_scores` and :func:`_scenario_scores` with the chunk's query rows split over ``mesh``
    and the databases on every device; each query's ranking stays on one device, so the scores equal the
    unsharded ones. The ground truth stays on the devices; every process gets every row of the scores."""
    rows, whole = parallel.batch_sharding(mesh), parallel.replicated(mesh)
    truth = jax.jit(functools.partial(_ground_truth_scores, k=k, exclude_self=exclude_self),
                    in_shardings=(rows, whole, whole), out_shardings=(rows, rows, rows))
    scenario = jax.jit(functools.partial(_scenario_scores, exclude_self=exclude_self),
                       in_shardings=(rows, rows, rows, rows, whole, whole), out_shardings=whole)
    return truth, scenario


def evaluate_scenario(gt_queries, gt_database, queries, database, **options) -> ScenarioResult:
    """mAP and mnDCG of retrieving ``database`` with ``queries``: :func:`evaluate_scenarios` of one scenario."""
    return evaluate_scenarios(gt_queries, gt_database, [(queries, database)], **options)[0]


def evaluate_scenarios(
    gt_queries,
    gt_database,
    scenarios: Sequence[tuple[Any, Any]],
    *,
    fraction: float = 0.05,
    exclude_self: bool = False,
    chunk_size: int | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    backend: Backend = "numpy",
    mesh: Mesh | None = None,
    scored: np.ndarray | None = None,
) -> list[ScenarioResult]:
    """mAP and mnDCG of retrieving ``database`` with ``queries``, for every ``(queries, database)`` of
    ``scenarios``, against the ground-truth retrieval of ``gt_database`` with ``gt_queries``.

    Row i of ``queries``/``database`` is the same image as row i of ``gt_queries``/``gt_database``
    (anonymized or re-embedded). All similarities are cosines. For query q:

    - relevant set R_q: the top k of row q of S0 = cos(gt_queries, gt_database), ties by lower
      index, with k = max(1, floor(fraction * n_database));
    - AP_q = (1/k) * sum over ranks i of P@i * [item at rank i in R_q], over the whole ranking of
      row q of S = cos(queries, database) (descending, ties by lower index);
    - nDCG_q = DCG_q / IDCG_q, DCG_q = sum_{i<=k} S0[q, item at rank i of S] / log2(i + 1), IDCG_q the
      same sum over row q of S0 sorted descending. Relevance is the ground-truth cosine, so nDCG_q
      lies in [0, 1] when those cosines are >= 0 and can dip below 0 when they are not.

    The ground truth (S0, the relevant sets, IDCG, the chance levels) is computed once for all scenarios: each
    chunk of query rows computes its S0 once and scores every scenario against it.

    ``exclude_self=True`` (queries and database are the same image set: equal row counts required)
    removes item q from both rankings of query q. Each query then ranks n_database - 1 items, and k
    is computed from that: k = max(1, floor(fraction * (n_database - 1))).

    Queries are processed ``chunk_size`` rows at a time inside jitted functions (memory O(chunk x n_database)
    per scenario). ``backend`` (``anonjax.backend``): ``numpy`` selects, ranks and sums each chunk's
    scores on this host (AP and nDCG in float64); ``xla`` does it on the device (float32, the same values to
    the rounding of the sums) and, with a ``mesh``, splits the query rows of a chunk over all of its devices
    (of every process: each passes the same arrays), the databases copied to each. The confidence intervals
    resample queries ``n_bootstrap`` times with ``seed``. The chance levels are the expectations of mAP and
    mnDCG when each query's ranking is a uniformly random order of the items it ranks, computed exactly in
    closed form.

    ``scored`` (bool per query; None: all) picks the queries that the means, intervals and chance levels
    cover, e.g. those whose relevant set the ground truth decides (``ties.tied_queries``); at least one.
    """
    backend = check_backend(backend, mesh)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    chunk_size = check_chunk_size(chunk_size)
    gq = unit_rows(gt_queries, "gt_queries")
    gdb = unit_rows(gt_database, "gt_database")
    same_dims(gq, "gt_queries", gdb, "gt_database")
    unit: dict[int, np.ndarray] = {}  # an array given twice is normalized and placed once
    for array, name in ((a, name) for pair in scenarios for a, name in zip(pair, ("queries", "database"),
                                                                           strict=True)):
        if id(array) not in unit:
            unit[id(array)] = unit_rows(array, name)
    pairs = [(id(queries), id(database)) for queries, database in scenarios]
    for query, database in pairs:
        q, db = unit[query], unit[database]
        same_dims(q, "queries", db, "database")
        pairing = "row i of both must be the same image"
        same_rows(gq, "gt_queries", q, "queries", pairing)
        same_rows(gdb, "gt_database", db, "database", pairing)
        if exclude_self:
            same_rows(q, "queries", db, "database", "exclude_self needs queries and database to be the same images")
    n = gdb.shape[0]
    if exclude_self and n < 2:
        raise ValueError("exclude_self needs at least 2 database rows: one left to rank besides the query")
    n_ranked = n - 1 if exclude_self else n
    k = relevant_count(fraction, n_ranked)

    chunk = rows_per_chunk(gq.shape[0], n, chunk_size)
    host = backend == "numpy"
    if mesh is None:
        if host:
            truth = scenario = functools.partial(_keys_chunk, exclude_self=exclude_self)
        else:
            truth = functools.partial(_ground_truth_chunk, k=k, exclude_self=exclude_self)
            scenario = functools.partial(_scenario_chunk, exclude_self=exclude_self)
        rows = whole = None
    else:
        chunk = -(-chunk // parallel.mesh_size(mesh)) * parallel.mesh_size(mesh)  # a whole chunk on every device
        truth, scenario = sharded_chunks(mesh, k, exclude_self)
        rows, whole = parallel.batch_sharding(mesh), parallel.replicated(mesh)
    gq_padded, n_queries = parallel.pad_to_multiple(gq, chunk)
    padded = {key: parallel.pad_to_multiple(q, chunk)[0] for key, q in unit.items()
              if key in {query for query, _ in pairs}}
    gdb_device = jax.device_put(gdb, whole)
    on_device = {key: jax.device_put(unit[key], whole) for key in {database for _, database in pairs}}

    def launch(start: int):
        first_row = jax.device_put(np.int32(start), whole)
        gt = truth(jax.device_put(gq_padded[start : start + chunk], rows), gdb_device, first_row)
        gt_inputs = () if host else gt
        return gt, [scenario(*gt_inputs, jax.device_put(padded[query][start : start + chunk], rows),
                             on_device[database], first_row) for query, database in pairs]

    def finish(start: int, outputs) -> list[tuple[np.ndarray, ...]]:
        gt, per_scenario = outputs
        if not host:
            return [tuple(map(np.asarray, out)) for out in per_scenario]
        height = min(chunk, n_queries - start)  # the rest pad the last chunk: their tied zeros rank slowest
        gt_keys = np.asarray(gt)[:height]
        relevant, idcg = numpy_ranking.ground_truth(gt_keys, k)
        return [(*numpy_ranking.scenario_metrics(gt_keys, np.asarray(keys)[:height], relevant, idcg), idcg)
                for keys in per_scenario]

    parts = map_chunks(launch, finish, gq_padded.shape[0], chunk, concurrent=mesh is None)
    rows_scored = np.arange(n_queries) if scored is None else _scored_rows(scored, n_queries)
    chance = None
    results = []
    for i in range(len(pairs)):
        ap, ndcg_values, idcg = (np.concatenate([p[i][j] for p in parts])[:n_queries][rows_scored] for j in range(3))
        if chance is None:
            _check_idcg(idcg, rows_scored, k)
            ndcg_chance = expected_ndcg(mean_relevance(gq, gdb, exclude_self)[rows_scored], idcg, k)
            chance = (expected_average_precision(n_ranked, k), float(ndcg_chance.mean()))
        results.append(_result(ap, ndcg_values, k, chance, n_bootstrap, seed))
    return results


def _check_idcg(idcg: np.ndarray, rows: np.ndarray, k: int) -> None:
    """A ValueError naming the first query whose IDCG is not positive (its nDCG undefined)."""
    if not (idcg > 0).all():
        bad = np.flatnonzero(~(idcg > 0))[0]
        raise ValueError(
            f"gt_queries row {rows[bad]}: the ground-truth cosines of its top {k} items sum (discounted) to "
            f"{idcg[bad]:.3g} <= 0, so its nDCG is undefined"
        )


def _result(ap: np.ndarray, ndcg_values: np.ndarray, k: int, chance: tuple[float, float], n_bootstrap: int,
            seed: int) -> ScenarioResult:
    """The scenario's means and intervals from its per-query values (scored queries only)."""
    ap = ap.astype(np.float64)
    ndcg_values = ndcg_values.astype(np.float64)
    map_ci, mndcg_ci = bootstrap_mean_cis([ap, ndcg_values], n_bootstrap, seed)
    ap.setflags(write=False)
    ndcg_values.setflags(write=False)
    return ScenarioResult(map=float(ap.mean()), mndcg=float(ndcg_values.mean()), ap=ap, ndcg=ndcg_values,
                          map_ci=map_ci, mndcg_ci=mndcg_ci, k=k, map_chance=chance[0], mndcg_chance=chance[1])


def _scored_rows(scored, n_queries: int) -> np.ndarray:
    """The indices of the scored queries; a ValueError unless ``scored`` is one bool per query, some True."""
    mask = np.asarray(scored)
    if mask.dtype != bool or mask.shape != (n_queries,):
        raise ValueError(f"scored must be one bool per query ({n_queries}), got {mask.dtype} of shape {mask.shape}")
    if not mask.any():
        raise ValueError("scored leaves no query to score")
    return np.flatnonzero(mask)
