"""Queries whose ground truth does not decide their relevant set: a tie across the top-k boundary.

A query's relevant set is the top k of its ground-truth cosines, ties by lower index. Where the k-th and the
(k+1)-th cosines are equal, up to float32 resolution, the row order decides which images are relevant, not the
embeddings; a scenario that breaks its own ties by index the same way then scores the row order (all rows
identical: every scenario 100%). Such queries are found once from the ground truth and left out of every score
(``evaluate_scenario(scored=...)``).
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

TIE_ULPS = 4  # k-th and (k+1)-th cosines at most this many float32 ulps (of the k-th) apart are tied


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
    """Per query (bool), whether its k-th and (k+1)-th ground-truth cosines tie: they differ by at most
    ``TIE_ULPS`` float32 ulps of the k-th. k and ``exclude_self`` as in ``evaluate_scenario``; a ValueError
    where k is every ranked item, so that no (k+1)-th exists."""
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
    return kth - after <= TIE_ULPS * np.spacing(np.abs(kth))
