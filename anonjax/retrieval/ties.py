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
from jax import lax

from anonjax import parallel
from anonjax.backend import Backend, check_backend
from anonjax.retrieval import numpy_ranking
from anonjax.retrieval.chunks import map_chunks, rows_per_chunk
from anonjax.retrieval.inputs import check_chunk_size, relevant_count, same_dims, same_rows, unit_rows
from anonjax.retrieval.keys import ranking_keys, scores_of_keys
from anonjax.retrieval.topk import cosine_scores, without_self

TIE_ULPS = 4  # k-th and (k+1)-th float32 cosines at most this many ulps (of the k-th) apart are candidates
_CONFIRM_ROWS = 256  # candidate queries whose float64 cosines are computed at once


def _scores(queries: jax.Array, database: jax.Array, first_row: jax.Array, exclude_self: bool) -> jax.Array:
    scores = cosine_scores(queries, database)
    return without_self(scores, first_row) if exclude_self else scores


@functools.partial(jax.jit, static_argnames=("k", "exclude_self"))
def _boundary_chunk(queries: jax.Array, database: jax.Array, first_row: jax.Array, *, k: int,
                    exclude_self: bool) -> jax.Array:
    """The k-th and (k+1)-th highest scores of every query row, [rows, 2]."""
    return lax.top_k(_scores(queries, database, first_row, exclude_self), k + 1)[0][:, k - 1 :]


@functools.partial(jax.jit, static_argnames="exclude_self")
def _keys_chunk(queries: jax.Array, database: jax.Array, first_row: jax.Array, *, exclude_self: bool) -> jax.Array:
    return ranking_keys(_scores(queries, database, first_row, exclude_self))


def _numpy_boundary(keys: np.ndarray, k: int) -> np.ndarray:
    """:func:`_boundary_chunk` by the numpy backend, from the ranking keys of :func:`_keys_chunk`."""
    return scores_of_keys(numpy_ranking.topk(keys, k + 1)[0][:, k - 1 :])


def tied_queries(gt_queries, gt_database, *, fraction: float = 0.05, exclude_self: bool = False,
                 chunk_size: int | None = None, backend: Backend = "numpy") -> np.ndarray:
    """Per query (bool), whether its k-th and (k+1)-th ground-truth cosines tie (see the module's description).
    k and ``exclude_self`` as in ``evaluate_scenario``, ``backend`` as in ``anonjax.backend``; a ValueError where
    k is every ranked item, so that no (k+1)-th exists."""
    backend = check_backend(backend)
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

    if backend == "numpy":
        kernel = functools.partial(_keys_chunk, exclude_self=exclude_self)
    else:
        kernel = functools.partial(_boundary_chunk, k=k, exclude_self=exclude_self)

    def launch(start: int) -> jax.Array:
        return kernel(padded[start : start + chunk], database, np.int32(start))

    def finish(start: int, outputs: jax.Array) -> np.ndarray:
        if backend == "numpy":  # without the rows that pad the last chunk
            return _numpy_boundary(np.asarray(outputs)[: n_queries - start], k)
        return np.asarray(outputs)

    parts = map_chunks(launch, finish, padded.shape[0], chunk)
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
