"""The numpy selection of the CPU path: the same top-k, ranks and metrics as XLA's, ties included."""

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from anonjax.parallel import make_mesh
from anonjax.retrieval import evaluate_scenario, host_ranking, topk_cosine
from anonjax.retrieval.exact_topk import ranking_keys
from anonjax.retrieval.scenario import _keys_chunk, _scenario_chunk


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
def test_topk_equals_lax_top_k(seed):
    scores = score_rows(seed)
    keys = np.asarray(ranking_keys(jnp.asarray(scores)))
    for k in sorted({1, scores.shape[1] // 3 + 1, scores.shape[1]}):
        _, want = lax.top_k(jnp.asarray(scores), k)
        np.testing.assert_array_equal(host_ranking.topk(keys, k)[1], np.asarray(want))


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
        top_keys, columns = host_ranking.topk(keys, k)
        want = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(columns, want)
        np.testing.assert_array_equal(top_keys, np.take_along_axis(keys, want, axis=1))
        assert (host_ranking._kth_bound(keys, k) >= np.sort(keys, axis=1)[:, k - 1 : k]).all()


@pytest.mark.parametrize("seed", range(12))
def test_sorted_ranks_equal_a_stable_sort(seed):
    scores = score_rows(seed)
    rng = np.random.default_rng(seed + 100)
    m = int(rng.integers(1, scores.shape[1] + 1))
    items = np.stack([rng.permutation(scores.shape[1])[:m] for _ in scores])
    keys = np.asarray(ranking_keys(jnp.asarray(scores)))
    want = np.sort(np.take_along_axis(brute_force_ranks(scores), items, axis=1), axis=1)
    np.testing.assert_array_equal(host_ranking.sorted_ranks(keys, items), want)


def test_scores_of_keys_inverts_the_keys():
    scores = score_rows(3)
    keys = np.asarray(ranking_keys(jnp.asarray(scores)))
    np.testing.assert_array_equal(host_ranking.scores_of_keys(keys), scores)


@pytest.mark.parametrize("seed", [0, 1])
def test_scenario_metrics_equal_the_xla_kernel(seed):
    """Tie-heavy unit embeddings: both paths give the same AP, nDCG and IDCG (float64 sums against float32)."""
    rng = np.random.default_rng(seed)
    gt = rng.integers(-2, 3, (40, 6)).astype(np.float32)
    gt /= np.maximum(np.linalg.norm(gt, axis=1, keepdims=True), 1e-6)
    evaluated = np.where(rng.random((40, 1)) < 0.5, gt[rng.permutation(40)], gt)
    gt[np.linalg.norm(gt, axis=1) < 0.5] = 1 / np.sqrt(6)
    evaluated[np.linalg.norm(evaluated, axis=1) < 0.5] = 1 / np.sqrt(6)
    for exclude_self in (False, True):
        arrays = (gt[:16], gt, evaluated[:16], evaluated, np.int32(0))
        want = _scenario_chunk(*arrays, k=7, exclude_self=exclude_self)
        gt_keys, keys = _keys_chunk(*arrays, exclude_self=exclude_self)
        got = host_ranking.scenario_metrics(np.asarray(gt_keys), np.asarray(keys), 7)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, np.asarray(b), rtol=0, atol=2e-7)


def test_the_cpu_path_is_the_one_taken(monkeypatch):
    """Without a mesh on the CPU, top-k and scenarios go through the numpy selection."""
    calls = []
    original = host_ranking._smallest
    monkeypatch.setattr(host_ranking, "_smallest", lambda *a: calls.append(1) or original(*a))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4)).astype(np.float32)
    evaluate_scenario(x, x, x, x, fraction=0.2, n_bootstrap=2)
    assert len(calls) == 2  # the relevant sets and the evaluated top k of the one chunk
    topk_cosine(x, x, 3)
    assert len(calls) == 3
    assert host_ranking.on_host(make_mesh())  # CPU devices of one process: the mesh is not needed
    topk_cosine(x, x, 3, mesh=make_mesh())
    assert len(calls) == 4
