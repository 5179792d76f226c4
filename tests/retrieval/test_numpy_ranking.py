"""The numpy backend of ranking against stable sorts, ties included (``test_ranking_backends``: against xla)."""

import jax.numpy as jnp
import numpy as np
import pytest

from anonjax.retrieval import numpy_ranking
from anonjax.retrieval.keys import ranking_keys, scores_of_keys


def score_rows(seed: int) -> np.ndarray:
    """Rows with many ties (quarter steps), -inf entries (removed self-matches) and signed zeros."""
    rng = np.random.default_rng(seed)
    rows, n = int(rng.integers(1, 12)), int(rng.integers(2, 200))
    scores = rng.integers(-4, 5, (rows, n)).astype(np.float32) / 4 if seed % 2 else rng.standard_normal((rows, n))
    scores = scores.astype(np.float32)
    scores[:, :: int(rng.integers(3, 9))] = -np.inf
    return np.where(scores == 0, np.float32(0), scores)


def brute_force_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every column: a stable sort of -score."""
    order = np.array([np.argsort(-row, kind="stable") for row in scores])
    return np.argsort(order, axis=1) + 1


@pytest.mark.parametrize("seed", range(12))
def test_topk_equals_a_stable_sort(seed):
    """Rows of every width, up to k = all columns, with ties, -inf and signed zeros."""
    scores = score_rows(seed)
    keys = np.asarray(ranking_keys(jnp.asarray(scores)))
    for k in sorted({1, scores.shape[1] // 3 + 1, scores.shape[1]}):
        want = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(numpy_ranking.topk(keys, k)[1], want)


@pytest.mark.parametrize("layout", ["ties", "gaussian", "best_in_one_group", "ascending", "constant"])
def test_topk_with_the_group_bound_equals_a_stable_sort(layout):
    """Rows wide enough (>= 4k columns) for the bound from group minima, with ragged tails, where the best
    columns share one group (columns 0, 126, ...: group 0 at k = 60) or the whole row ties: the top k in the
    order of a stable sort (ties by lower column), and a bound at or after the k-th key."""
    rng = np.random.default_rng(len(layout))
    rows, n = 6, 1013
    scores = {
        "ties": rng.integers(-3, 4, (rows, n)) / 4,
        "gaussian": rng.standard_normal((rows, n)),
        "best_in_one_group": np.where(np.arange(n) % 126 == 0, 1.0 + np.arange(n) / n, rng.random((rows, n))),
        "ascending": np.tile(np.arange(n) / n, (rows, 1)),
        "constant": np.zeros((rows, n)),
    }[layout].astype(np.float32)
    keys = np.asarray(ranking_keys(jnp.asarray(scores)))
    for k in (1, 7, 60, 250):
        top_keys, columns = numpy_ranking.topk(keys, k)
        want = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(columns, want)
        np.testing.assert_array_equal(top_keys, np.take_along_axis(keys, want, axis=1))
        assert (numpy_ranking._kth_bound(keys, k) >= np.sort(keys, axis=1)[:, k - 1 : k]).all()


@pytest.mark.parametrize("seed", range(12))
def test_sorted_ranks_equal_a_stable_sort(seed):
    scores = score_rows(seed)
    rng = np.random.default_rng(seed + 100)
    m = int(rng.integers(1, scores.shape[1] + 1))
    items = np.stack([rng.permutation(scores.shape[1])[:m] for _ in scores])
    keys = np.asarray(ranking_keys(jnp.asarray(scores)))
    want = np.sort(np.take_along_axis(brute_force_ranks(scores), items, axis=1), axis=1)
    np.testing.assert_array_equal(numpy_ranking.sorted_ranks(keys, items), want)


def test_scores_of_keys_inverts_the_keys():
    scores = score_rows(3)
    keys = np.asarray(ranking_keys(jnp.asarray(scores)))
    np.testing.assert_array_equal(scores_of_keys(keys), scores)
