"""Chance levels: the expected AP and nDCG of a uniformly random ranking, in closed form.

A metric value means little alone: because nDCG's relevance is the raw ground-truth cosine, a random
ranking already scores high. These are the exact expectations over all orderings of the ranked items,
against the same ground truth as the scenario, so that they can stand beside every table.
"""

from __future__ import annotations

import math

import numpy as np

ROWS_PER_BLOCK = 2**14  # query rows converted to float64 at once, to bound memory


def expected_average_precision(n_ranked: int, k: int) -> float:
    """E[AP] over uniformly random rankings of ``n_ranked`` = N items, ``k`` of them relevant:

        E[AP] = H_N / N + (k - 1)(N - H_N) / (N (N - 1)),   H_N = 1 + 1/2 + ... + 1/N (1 when N = 1).

    Why: AP = (1/k) sum_i rel_i P@i = (1/k) sum_i (1/i) (rel_i + sum_{j<i} rel_i rel_j). In a random
    permutation E[rel_i] = k/N and E[rel_i rel_j] = k(k - 1)/(N(N - 1)) for i != j, and
    sum_i (i - 1)/i = N - H_N. The value is the same for every query.
    """
    if isinstance(n_ranked, bool) or not isinstance(n_ranked, int | np.integer) or n_ranked < 1:
        raise ValueError(f"n_ranked must be a positive integer, got {n_ranked!r}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= n_ranked:
        raise ValueError(f"k must be an integer in [1, n_ranked={n_ranked}], got {k!r}")
    n = int(n_ranked)
    if n == 1:
        return 1.0
    harmonic = math.fsum(1.0 / np.arange(1, n + 1))
    return harmonic / n + (int(k) - 1) * (n - harmonic) / (n * (n - 1))


def mean_relevance(gt_queries: np.ndarray, gt_database: np.ndarray, exclude_self: bool) -> np.ndarray:
    """Per query q, the mean of S0[q, j] = cos(gt_queries[q], gt_database[j]) over the ranked items j,
    in float64, from unit rows: q . (sum of the database rows) / N, less the self term S0[q, q] (and
    over N - 1 items) when ``exclude_self``: one matrix-vector product, no score matrix."""
    n = gt_database.shape[0]
    total = gt_database.sum(axis=0, dtype=np.float64)
    out = np.empty(gt_queries.shape[0])
    for start in range(0, out.shape[0], ROWS_PER_BLOCK):
        rows = slice(start, start + ROWS_PER_BLOCK)
        q = gt_queries[rows].astype(np.float64)
        sums = q @ total
        if exclude_self:
            sums -= (q * gt_database[rows]).sum(axis=1)
        out[rows] = sums / (n - 1 if exclude_self else n)
    return out


def expected_ndcg(row_means: np.ndarray, idcg: np.ndarray, k: int) -> np.ndarray:
    """E[nDCG_q] over uniformly random rankings: row_means_q * sum_{i<=k} 1/log2(i + 1) / IDCG_q.

    Why: in a random permutation the item at every rank is uniform over the ranked items, so the
    expected relevance S0[q, item at rank i] at each of the k ranks is the row's mean ground-truth
    cosine over those items (``row_means``, from ``mean_relevance``); IDCG_q does not depend on the
    ranking.
    """
    discount_sum = (1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))).sum()
    return np.asarray(row_means, np.float64) * discount_sum / np.asarray(idcg, np.float64)
