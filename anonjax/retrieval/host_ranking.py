"""Exact top-k, ranks, AP and nDCG of score rows on the CPU, with numpy's vectorized partition and sort.

On the CPU, XLA's ``top_k`` and ``sort`` call a comparator per comparison: at k = 1,000 over 20,000
columns, a top-k takes about 3 times and a row sort 6 times as long as numpy's SIMD ``partition`` and
``sort`` on the same data. So where the chunks would be ranked on CPUs of this one process
(:func:`on_host`), the jitted kernel stops at the ranking keys and these functions do the rest; on
accelerators, and over the hosts of a pod, XLA keeps the whole chunk. (A
``pure_callback`` inside the kernel would be tidier, but can deadlock when concurrent chunks wait
for the same XLA thread.)

Rows are int32 ranking keys (``exact_topk.ranking_keys``): ascending key is descending score, and
equal keys go by lower column index, the order used everywhere in anonjax. The functions are the
numpy twins of ``exact_topk.exact_topk`` and ``metrics.average_precision``/``metrics.ndcg``, and the
tests hold them to the same results.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh


def on_host(mesh: Mesh | None) -> bool:
    """Whether numpy ranks the chunks: in a single process whose devices that would rank them (``mesh``'s,
    or the default device) are CPUs. A mesh of CPU devices in one process shares this host's cores anyway."""
    devices = [jax.devices()[0]] if mesh is None else list(mesh.devices.flat)
    return jax.process_count() == 1 and all(d.platform == "cpu" for d in devices)


def scores_of_keys(keys: np.ndarray) -> np.ndarray:
    """The float32 scores whose ranking keys are ``keys`` (the key map is its own inverse on the bits)."""
    bits = ~np.asarray(keys, np.int32)
    return np.where(bits < 0, bits ^ 0x7FFFFFFF, bits).view(np.float32)


def topk_columns(keys: np.ndarray, k: int) -> np.ndarray:
    """Columns of the k smallest keys of every row, in ranking order: int32 [rows, k].

    One partition finds each row's k-th key; the columns at or below it are the top k, except where
    the k-th key is shared beyond the k-th place, and there the highest columns holding it drop out.
    """
    rows, n = keys.shape
    kth = np.partition(keys, k - 1, axis=1)[:, k - 1 : k]
    chosen = keys <= kth
    flat = np.flatnonzero(chosen)
    if flat.size > rows * k:  # every row has at least k: some row's k-th key is shared beyond the k-th place
        surplus = chosen.sum(axis=1) - k
        for row in np.flatnonzero(surplus):
            equal = np.flatnonzero(keys[row] == kth[row, 0])
            chosen[row, equal[len(equal) - surplus[row] :]] = False
        flat = np.flatnonzero(chosen)
    columns = (flat % n).reshape(rows, k)
    picked = np.take_along_axis(keys, columns, axis=1).astype(np.int64)
    order = np.sort((picked << 32) | columns, axis=1)  # (key, column) in one int64 sort
    return (order & 0xFFFFFFFF).astype(np.int32)


def sorted_ranks(keys: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The 1-based ranks of ``items`` (distinct columns per row) in their row's order, ascending: int64.

    A rank is 1 + the keys below the item's + the equal keys at lower columns. One sort per row and a
    search of the items' keys, in ranking order, count the first; the second is counted only where keys tie.
    """
    n = keys.shape[1]
    ordered = np.sort(keys, axis=1)
    picked = np.take_along_axis(keys, items, axis=1).astype(np.int64)
    in_order = np.sort((picked << 32) | items, axis=1)  # (key, column): ranking order, so ranks come out ascending
    needles, columns = (in_order >> 32).astype(keys.dtype), in_order & 0xFFFFFFFF
    ranks = np.empty(items.shape, np.int64)
    for row in range(keys.shape[0]):  # ascending needles: each search starts where the last ended
        ranks[row] = np.searchsorted(ordered[row], needles[row])
    tied = (ranks + 1 < n) & (np.take_along_axis(ordered, np.minimum(ranks + 1, n - 1), axis=1) == needles)
    for row, j in zip(*np.nonzero(tied), strict=True):
        ranks[row, j] += np.count_nonzero(keys[row, : columns[row, j]] == needles[row, j])
    return ranks + 1


def scenario_metrics(gt_keys: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(AP, nDCG, IDCG) per row, float64, from the ranking keys of S0 (ground truth) and S (evaluated).

    The definitions of ``scenario.evaluate_scenario``: the relevant set is the top k of S0, AP runs
    over the whole ranking of S, nDCG over its top k with the S0 scores as gains.
    """
    relevant = topk_columns(gt_keys, k)
    ranks = sorted_ranks(keys, relevant)
    ap = (np.arange(1, k + 1) / ranks).mean(axis=1)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = scores_of_keys(np.take_along_axis(gt_keys, relevant, axis=1)).astype(np.float64)
    gains = scores_of_keys(np.take_along_axis(gt_keys, topk_columns(keys, k), axis=1)).astype(np.float64)
    idcg = ideal @ discounts
    with np.errstate(divide="ignore", invalid="ignore"):  # padding rows score 0: dropped by the caller
        return ap, gains @ discounts / idcg, idcg
