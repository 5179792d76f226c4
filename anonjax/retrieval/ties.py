"""Queries whose ground truth does not decide their relevant set: a tie across the top-k boundary.

A query's relevant set is the top k of its ground-truth cosines, ties by lower index. Where the k-th and the
(k+1)-th cosines are equal, the row order decides which images are relevant, not the embeddings; a scenario
that breaks its own ties by index the same way then scores the row order (all rows identical: every scenario
100%). Such queries are found once from the ground truth and left out of every score
(``evaluate_scenario(scored=...)``).

Equal means equal up to rounding: the float32 scores find the candidates (within ``TIE_ULPS``), and the cosines
of those queries again in float64 decide, within the rounding of a float64 dot product: a real near-tie at
float32 resolution, which grows common as N grows, is decided by its embeddings and stays scored.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from anonjax import parallel
from anonjax.retrieval.chunks import map_chunks, rows_per_chunk
from anonjax.retrieval.exact_topk import exact_topk
from anonjax.retrieval.inputs import check_chunk_size, relevant_count, same_dims, same_rows, unit_rows
from anonjax.retrieval.topk import cosine_scores, without_self

TIE_ULPS = 4  # k-th and (k+1)-th float32 cosines at most this many ulps (of the k-th) apart are candidates
_CONFIRM_ROWS = 256  # candidate queries whose float64 cosines are computed at once


@functools.partial(jax.jit, static_argnames=("k", "exclude_self"))
def _boundary_chunk(queries: jax.Array, database: jax.Array, first_row: jax.Array, *, k: int,
                    exclude_self: bool) -> jax.Array:
    """The k-th and (k+1)-th highest scores of every query row, [rows, 2]."""
    scores = cosine_scores(queries, database)
    if exclude_self:
        scores = without_self(scores, first_row)
    return exact_topk(scores, k + 1)[0][:, k - 1 :]


def tied_queries(gt_queries, gt_database, *, fraction: float = 0.05, exclude_self: bool = False,
                 chunk_size: int | None = None) -> np.ndarray:
    """Per query (bool), whether its k-th and (k+1)-th ground-truth cosines tie (see the module's description).
    k and ``exclude_self`` as in ``evaluate_scenario``; a ValueError where k is every ranked item, so that no
    (k+1)-th exists."""
    gq = unit_rows(gt_queries, "gt_queries")
    gdb = unit_rows(gt_database, "gt_database")
    same_dims(gq, "gt_queries", gdb, "gt_database")
    if exclude_self:
        same_rows(gq, "gt_queries", gdb, "gt_database", "exclude_self needs queries and database to be the same images")
    n_ranked = gdb.shape[0] - exclude_self
    k = relevant_count(fraction, n_ranked)
    if k >= n_ranked:
        raise ValueError(f"each query ranks {n_ranked} item(s) and k={k} of them are relevant: none is left to "
                         "rank below the relevant set")
    chunk = rows_per_chunk(gq.shape[0], gdb.shape[0], check_chunk_size(chunk_size))
    padded, n_queries = parallel.pad_to_multiple(gq, chunk)
    database = jax.device_put(gdb)

    def launch(start: int) -> jax.Array:
        return _boundary_chunk(padded[start : start + chunk], database, np.int32(start), k=k,
                               exclude_self=exclude_self)

    parts = map_chunks(launch, lambda _, out: np.asarray(out), padded.shape[0], chunk)
    kth, after = np.concatenate(parts)[:n_queries].T
    tied = kth - after <= TIE_ULPS * np.spacing(np.abs(kth))
    tied[tied] = _tied_in_float64(gq, gdb, np.flatnonzero(tied), k, exclude_self)
    return tied


def _tied_in_float64(gq: np.ndarray, gdb: np.ndarray, rows: np.ndarray, k: int, exclude_self: bool) -> np.ndarray:
    """Whether the k-th and (k+1)-th float64 cosines of the unit rows ``gq[rows]`` against ``gdb`` are equal up to
    the rounding of a float64 dot product of their width (one ulp per term, twice over)."""
    tolerance = 2 * gq.shape[1] * np.finfo(np.float64).eps
    database = gdb.astype(np.float64)
    out = []
    for start in range(0, len(rows), _CONFIRM_ROWS):
        part = rows[start : start + _CONFIRM_ROWS]
        scores = gq[part].astype(np.float64) @ database.T
        if exclude_self:
            scores[np.arange(len(part)), part] = -np.inf
        ordered = -np.partition(-scores, (k - 1, k), axis=1)
        out.append(ordered[:, k - 1] - ordered[:, k] <= tolerance)
    return np.concatenate(out) if out else np.zeros(0, bool)
