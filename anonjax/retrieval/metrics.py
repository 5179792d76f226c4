"""Per-query AP and nDCG of one chunk of queries, as pure jittable functions of score matrices.

S0 holds the ground-truth scores (cosine under the Unadapted model on original data), S the
evaluated ones; row q of each is query q, column i database item i. Orders are by score
descending, ties by lower item index, everywhere.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from anonjax.retrieval.keys import ranking_keys

COARSE_PIVOTS = 32  # relevant items compared by broadcast before the binary search
MAX_TIED = 8  # tied relevant items per row that the fast rank count resolves itself
MAX_TIE_MEMBERS = 32  # and the items sharing their scores


def accurate_sum(x: jax.Array) -> jax.Array:
    """Sum over the last axis, nearly as accurate as float64: a pairwise tree that carries each
    addition's rounding error (Knuth's TwoSum) and adds the errors back at the end."""
    errors = jnp.zeros(x.shape[:-1], x.dtype)
    while x.shape[-1] > 1:
        if x.shape[-1] % 2:
            x = jnp.concatenate([x, jnp.zeros_like(x[..., :1])], axis=-1)
        a, b = x[..., 0::2], x[..., 1::2]
        s = a + b
        b_part = s - a
        errors = errors + ((a - (s - b_part)) + (b - b_part)).sum(axis=-1)
        x = s
    return x[..., 0] + errors


def discounts(k: int) -> jax.Array:
    """1 / log2(i + 1) for ranks i = 1..k."""
    return 1.0 / jnp.log2(jnp.arange(2, k + 2, dtype=jnp.float32))


def ndcg(gt_top_scores: jax.Array, gt_scores: jax.Array, eval_top_items: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(nDCG, IDCG) per row.

    DCG sums the ground-truth score S0[q, item] of the evaluated top-k items (``eval_top_items``,
    rank order) over log2(rank + 1); IDCG is the same sum over the ground truth's own top-k scores
    (``gt_top_scores``, descending), so nDCG <= 1 whenever IDCG > 0.
    """
    d = discounts(gt_top_scores.shape[1])
    dcg = accurate_sum(jnp.take_along_axis(gt_scores, eval_top_items, axis=1) * d)
    idcg = accurate_sum(gt_top_scores * d)
    return dcg / idcg, idcg


def count_ahead(scores: jax.Array, rel_scores: jax.Array, rel_items: jax.Array) -> jax.Array:
    """For every item i of every row, how many relevant items rank strictly ahead of it.

    ``rel_scores``/``rel_items`` list a row's relevant items in ranking order (score descending,
    index ascending). Item m is ahead of item i when its score is higher, or equal with a lower
    index; that is monotone along the list, so the count is a search: first against
    ``COARSE_PIVOTS`` evenly spaced relevant items by broadcast comparison (memory
    O(rows x N x COARSE_PIVOTS), whatever k), then a binary search inside the bracket found.
    """
    k = rel_scores.shape[1]
    items = lax.broadcasted_iota(jnp.int32, scores.shape, 1)

    def ahead(m_score, m_item, s, i):
        return (m_score > s) | ((m_score == s) & (m_item < i))

    stride = -(-k // COARSE_PIVOTS)  # ceil: at most COARSE_PIVOTS pivots
    pivot_scores = rel_scores[:, stride - 1 :: stride]
    pivot_items = rel_items[:, stride - 1 :: stride]
    coarse = ahead(pivot_scores[:, None, :], pivot_items[:, None, :], scores[:, :, None], items[:, :, None]).sum(
        axis=2, dtype=jnp.int32
    )
    lo = coarse * stride
    hi = jnp.minimum(lo + stride - 1, k)
    flat_scores, flat_items = rel_scores.reshape(-1), rel_items.reshape(-1)
    row_start = lax.broadcasted_iota(jnp.int32, scores.shape, 0) * k
    for _ in range((stride - 1).bit_length()):
        open_ = lo < hi
        mid = (lo + hi) // 2
        probe = row_start + jnp.minimum(mid, k - 1)
        m_score = jnp.take(flat_scores, probe, mode="clip")
        m_item = jnp.take(flat_items, probe, mode="clip")
        is_ahead = open_ & ahead(m_score, m_item, scores, items)
        lo, hi = jnp.where(is_ahead, mid + 1, lo), jnp.where(open_ & ~is_ahead, mid, hi)
    return lo


def _ranks_by_sorted_keys(scores: jax.Array, relevant: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(ranks of the relevant items, whether they are exact), from one key-only sort per row.

    A relevant item's rank is 1 + the number of strictly smaller keys + the number of items with an
    equal key and a lower index. Float32 scores do tie now and then. For up to ``MAX_TIED`` tied
    relevant items per row, the items sharing their keys (up to ``MAX_TIE_MEMBERS``) are pulled
    out with one small top-k and the last term is counted among them; rows with more are flagged.
    """
    keys = ranking_keys(scores)
    sorted_keys = lax.sort(keys, dimension=1)
    rel_keys = jnp.take_along_axis(keys, relevant, axis=1)
    search = jax.vmap(functools.partial(jnp.searchsorted, method="scan"), in_axes=(0, 0, None))
    first = search(sorted_keys, rel_keys, "left")
    tied = search(sorted_keys, rel_keys, "right") - first > 1

    n_tied = min(MAX_TIED, relevant.shape[1])
    _, picked = lax.top_k(tied.astype(jnp.float32), n_tied)  # the tied ones first (float: fast on CPU)
    picked_tied = jnp.take_along_axis(tied, picked, axis=1)
    picked_keys = jnp.take_along_axis(rel_keys, picked, axis=1)
    picked_items = jnp.take_along_axis(relevant, picked, axis=1)
    in_group = ((keys[:, :, None] == picked_keys[:, None, :]) & picked_tied[:, None, :]).any(axis=2)
    n_members = min(MAX_TIE_MEMBERS, scores.shape[1])
    _, members = lax.top_k(in_group.astype(jnp.float32), n_members)
    member_valid = jnp.take_along_axis(in_group, members, axis=1)
    member_keys = jnp.take_along_axis(keys, members, axis=1)
    equal_before = (
        member_valid[:, None, :]
        & (member_keys[:, None, :] == picked_keys[:, :, None])
        & (members[:, None, :] < picked_items[:, :, None])
    ).sum(axis=2, dtype=jnp.int32)
    rows = lax.broadcasted_iota(jnp.int32, picked.shape, 0)
    ranks = (first + 1).at[rows, picked].add(jnp.where(picked_tied, equal_before, 0))
    exact = (tied.sum(axis=1) <= n_tied).all() & (in_group.sum(axis=1) <= n_members).all()
    return ranks, exact


def _ranks_with_ties(scores: jax.Array, relevant: jax.Array) -> jax.Array:
    """Ranks of the relevant items in ranking order, ties by lower index: the m-th has rank
    r_m = #{items with at most m-1 relevant items ahead}, counted by bucketing every item."""
    k = relevant.shape[1]
    rel_scores = jnp.take_along_axis(scores, relevant, axis=1)
    neg_scores, rel_items = lax.sort((-rel_scores, relevant), dimension=1, num_keys=2)
    ahead = count_ahead(scores, -neg_scores, rel_items)
    bins = lax.broadcasted_iota(jnp.int32, ahead.shape, 0) * (k + 1) + ahead
    histogram = jax.ops.segment_sum(
        jnp.ones(bins.size, jnp.int32), bins.reshape(-1), num_segments=relevant.shape[0] * (k + 1)
    ).reshape(-1, k + 1)
    return jnp.cumsum(histogram[:, :k], axis=1)


def average_precision(scores: jax.Array, relevant: jax.Array) -> jax.Array:
    """AP per row over the full ranking of ``scores``: (1/k) sum over relevant items of P@rank.

    ``relevant`` [rows, k] holds distinct item indices. With the relevant ranks sorted,
    r_1 < ... < r_k, P@r_m = m / r_m. The ranks come from one key-only sort per row; where a
    row has more than ``MAX_TIED`` relevant scores tied with other items, the chunk takes the
    tie-aware bucket count instead.
    """
    k = relevant.shape[1]
    ranks, exact = _ranks_by_sorted_keys(scores, relevant)
    ranks = lax.cond(exact, lambda s, r: lax.sort(ranks, dimension=1), _ranks_with_ties, scores, relevant)
    found = jnp.arange(1, k + 1, dtype=jnp.float32)
    return accurate_sum(found / ranks.astype(jnp.float32)) / k
