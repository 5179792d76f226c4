"""The numpy backend of ranking: exact top-k, ranks, AP and nDCG of rows of ranking keys.

A jitted kernel computes each chunk's cosines and their ranking keys (``keys.ranking_keys``); these functions
select, sort and sum them on the host with numpy's vectorized partition and sort, the fastest on a CPU (see
``anonjax.backend``). Ascending key is descending score, and equal keys go by lower column index. The results
are those of the xla backend (``topk``, ``scenario``), which the tests hold them to. (A ``pure_callback``
inside the kernel would keep one kernel, but can deadlock when concurrent chunks wait for the same XLA thread.)
"""

from __future__ import annotations

import numpy as np

from anonjax.retrieval.keys import scores_of_keys


def _kth_bound(keys: np.ndarray, k: int) -> np.ndarray:
    """A key at or after each row's k-th smallest, as a [rows, 1] column.

    Where a row has 4k or more columns: the k-th smallest of the minima of 2k or more disjoint column
    groups (the k groups of the smallest minima hold k keys at or below it). Partitioning the minima costs
    a tenth of partitioning the row, and only a few k keys pass the bound. Otherwise the exact k-th key.
    """
    rows, n = keys.shape
    size = n // (2 * k)
    if size < 2:
        return np.partition(keys, k - 1, axis=1)[:, k - 1 : k]
    groups = n // size
    minima = keys[:, : groups * size].reshape(rows, size, groups).min(axis=1)  # group g: columns g, g + groups, ...
    if groups * size < n:
        minima = np.concatenate([minima, keys[:, groups * size :].min(axis=1, keepdims=True)], axis=1)
    return np.partition(minima, k - 1, axis=1)[:, k - 1 : k]


def _smallest(keys: np.ndarray, bound: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest (key, column) pairs of every row, in ranking order, from the keys at or below
    ``bound`` (at least k in every row): (keys, columns), int32 [rows, k] each."""
    rows, n = keys.shape
    flat = np.flatnonzero(keys <= bound)
    row = flat // n
    starts = np.searchsorted(row, np.arange(rows + 1))
    width = int(np.diff(starts).max())
    pairs = np.full((rows, width), np.iinfo(np.int64).max)  # padding sorts last
    slots = row * width + np.arange(flat.size) - starts[row]
    pairs.ravel()[slots] = (keys.ravel()[flat].astype(np.int64) << 32) | (flat - row * n)  # (key, column)
    if width > k:
        pairs = np.partition(pairs, k - 1, axis=1)[:, :k]
    pairs.sort(axis=1)
    return (pairs >> 32).astype(np.int32), (pairs & 0xFFFFFFFF).astype(np.int32)


def topk(keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest keys of every row and their columns, in ranking order (ties by lower column):
    (keys, columns), int32 [rows, k] each."""
    return _smallest(keys, _kth_bound(keys, k), k)


def _rows_take(keys: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``keys[r, columns[r, j]]`` by one flat take (``take_along_axis`` builds index grids, several times slower)."""
    return keys.ravel()[columns + keys.shape[1] * np.arange(keys.shape[0])[:, None]]


def sorted_ranks(keys: np.ndarray, items: np.ndarray, ordered: np.ndarray | None = None) -> np.ndarray:
    """The 1-based ranks of ``items`` (distinct columns per row) in their row's order, ascending: int64.

    A rank is 1 + the keys below the item's + the equal keys at lower columns. One sort per row
    (``ordered``, if the caller has it) and a search of the items' keys, in ranking order, count the
    first; the second is counted only where keys tie.
    """
    n = keys.shape[1]
    ordered = np.sort(keys, axis=1) if ordered is None else ordered
    in_order = np.sort((_rows_take(keys, items).astype(np.int64) << 32) | items, axis=1)  # ranking order
    needles, columns = (in_order >> 32).astype(keys.dtype), in_order & 0xFFFFFFFF
    ranks = np.empty(items.shape, np.int64)
    for row in range(keys.shape[0]):  # ascending needles: each search starts where the last ended
        ranks[row] = np.searchsorted(ordered[row], needles[row])
    tied = (ranks + 1 < n) & (_rows_take(ordered, np.minimum(ranks + 1, n - 1)) == needles)
    for row, j in zip(*np.nonzero(tied), strict=True):
        ranks[row, j] += np.count_nonzero(keys[row, : columns[row, j]] == needles[row, j])
    return ranks + 1


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ground_truth(gt_keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(relevant, IDCG) per row from the ranking keys of S0: the top k columns in ranking order, int32 [rows, k],
    and the discounted sum of their scores, float64 [rows]. What every scenario of the same queries shares."""
    ideal_keys, relevant = topk(gt_keys, k)
    return relevant, scores_of_keys(ideal_keys).astype(np.float64) @ _discounts(k)


def scenario_metrics(gt_keys: np.ndarray, keys: np.ndarray, relevant: np.ndarray,
                     idcg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AP, nDCG) per row, float64, from the ranking keys of S0 (ground truth) and S (evaluated), and the
    ground truth's ``relevant`` sets and ``idcg`` (:func:`ground_truth`).

    The definitions of ``scenario.evaluate_scenario``: the relevant set is the top k of S0, AP runs
    over the whole ranking of S, nDCG over its top k with the S0 scores as gains. The one row sort of S
    that AP needs also gives S's k-th key, so its top k costs no partition.
    """
    k = relevant.shape[1]
    ordered = np.sort(keys, axis=1)
    ranks = sorted_ranks(keys, relevant, ordered)
    _, top = _smallest(keys, ordered[:, k - 1 : k], k)
    ap = (np.arange(1, k + 1) / ranks).mean(axis=1)
    gains = scores_of_keys(_rows_take(gt_keys, top)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # padding rows score 0: dropped by the caller
        return ap, gains @ _discounts(k) / idcg
