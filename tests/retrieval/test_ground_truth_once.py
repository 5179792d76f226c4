"""Scenarios scored together share one ground truth: each chunk's S0 and top-k are computed once, whatever the
number of scenarios, and every scenario scores exactly as when scored alone."""

import numpy as np
import pytest

from anonjax.retrieval import evaluate_scenario, evaluate_scenarios, numpy_ranking, scenario


def _embeddings(seed: int, n: int = 120, dim: int = 24) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


@pytest.mark.parametrize("backend", ["numpy", "xla"])
@pytest.mark.parametrize("exclude_self", [False, True])
def test_scenarios_together_score_as_each_alone(backend, exclude_self):
    gt = _embeddings(0)
    database = [gt + 0.5 * _embeddings(s) for s in (1, 2)]
    pairs = [(gt, database[0]), (database[0], database[0]), (database[1], database[1]), (gt, gt)]
    options = dict(fraction=0.1, exclude_self=exclude_self, chunk_size=32, n_bootstrap=50, backend=backend)
    together = evaluate_scenarios(gt, gt, pairs, **options)
    for (queries, db), shared in zip(pairs, together, strict=True):
        alone = evaluate_scenario(gt, gt, queries, db, **options)
        np.testing.assert_array_equal(shared.ap, alone.ap)
        np.testing.assert_array_equal(shared.ndcg, alone.ndcg)
        assert (shared.map, shared.mndcg, shared.map_ci, shared.mndcg_ci, shared.k, shared.map_chance,
                shared.mndcg_chance) == (alone.map, alone.mndcg, alone.map_ci, alone.mndcg_ci, alone.k,
                                         alone.map_chance, alone.mndcg_chance)


def test_the_ground_truth_is_computed_once_per_chunk(monkeypatch):
    calls = {"numpy": 0, "xla": 0}
    ground_truth, chunk = numpy_ranking.ground_truth, scenario._ground_truth_chunk

    def counted_numpy(*args, **kwargs):
        calls["numpy"] += 1
        return ground_truth(*args, **kwargs)

    def counted_xla(*args, **kwargs):
        calls["xla"] += 1
        return chunk(*args, **kwargs)

    monkeypatch.setattr(numpy_ranking, "ground_truth", counted_numpy)
    monkeypatch.setattr(scenario, "_ground_truth_chunk", counted_xla)
    gt = _embeddings(0)
    pairs = [(gt + 0.3 * _embeddings(s), gt + 0.3 * _embeddings(s)) for s in range(1, 9)]
    evaluate_scenarios(gt, gt, pairs, fraction=0.1, chunk_size=40, n_bootstrap=10, backend="numpy")
    assert calls["numpy"] == 3  # 120 queries in chunks of 40
    evaluate_scenarios(gt, gt, pairs, fraction=0.1, chunk_size=40, n_bootstrap=10, backend="xla")
    assert calls["xla"] == 3
