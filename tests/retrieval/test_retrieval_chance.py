"""Chance levels of a random ranking: the AP formula against every permutation, the scenario's
levels against every permutation of small cases and against many random ones, all scored by the
definitions in the ``evaluate_scenario`` docstring."""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from anonjax.retrieval import chance, evaluate_scenario, expected_average_precision
from anonjax.retrieval.inputs import unit_rows


def exact_formula(n: int, k: int) -> Fraction:
    """H_N/N + (k-1)(N-H_N)/(N(N-1)) in rational arithmetic."""
    if n == 1:
        return Fraction(1)
    harmonic = sum(Fraction(1, i) for i in range(1, n + 1))
    return harmonic / n + (k - 1) * (n - harmonic) / (n * (n - 1))


def test_ap_formula_equals_every_permutation():
    # A permutation of the ranks 1..N, read as the rank of item i, is one ordering of the items.
    # Items 0..k-1 are relevant; AP = (1/k) sum_m m / r_m over their sorted ranks r_m.
    for n in range(1, 8):
        ranks_of = list(itertools.permutations(range(1, n + 1)))
        for k in range(1, n + 1):
            total = Fraction(0)
            for ranks in ranks_of:
                total += sum(Fraction(m, r) for m, r in enumerate(sorted(ranks[:k]), start=1)) / k
            mean = total / len(ranks_of)
            assert mean == exact_formula(n, k), (n, k)
            assert expected_average_precision(n, k) == pytest.approx(float(mean), rel=1e-14, abs=0)


@pytest.mark.parametrize(("n", "k"), [(0, 1), (5, 0), (5, 6), (3.0, 1), (True, 1)])
def test_ap_formula_rejects_impossible_counts(n, k):
    with pytest.raises(ValueError, match="must be"):
        expected_average_precision(n, k)


def permutation_metrics(s0_row: np.ndarray, k: int, rankings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AP and nDCG of each ranking (a row of item indices, best first) by the definitions, in float64:
    the relevant set is the top k of ``s0_row`` by stable sort, relevance the ground-truth cosine."""
    n = s0_row.size
    relevant = np.zeros(n, bool)
    relevant[np.argsort(-s0_row, kind="stable")[:k]] = True
    hits = relevant[rankings]
    ap = (np.cumsum(hits, axis=1) / np.arange(1, n + 1) * hits).sum(axis=1) / k
    discounts = 1 / np.log2(np.arange(2, k + 2))
    idcg = (np.sort(s0_row)[::-1][:k] * discounts).sum()
    return ap, (s0_row[rankings[:, :k]] * discounts).sum(axis=1) / idcg


def ranked_rows(gt: np.ndarray, exclude_self: bool) -> list[np.ndarray]:
    """Row q of S0 in float64 over the items query q ranks."""
    u = unit_rows(gt, "").astype(np.float64)
    s0 = u @ u.T
    return [np.delete(row, q) if exclude_self else row for q, row in enumerate(s0)]


def mixed_sign_embeddings(seed: int, n: int) -> np.ndarray:
    """Points in 3 dimensions: many pairs point away from each other, so S0 holds negative cosines."""
    return np.random.default_rng(seed).normal(size=(n, 3))


@pytest.mark.parametrize("exclude_self", [False, True])
def test_scenario_chance_equals_every_permutation(exclude_self):
    # N = 6 ranked items, k = 2: the mean over all 720 orderings of every query is the expectation.
    n = 7 if exclude_self else 6
    gt = mixed_sign_embeddings(1, n)
    result = evaluate_scenario(gt, gt, gt, gt, fraction=2 / 6, exclude_self=exclude_self, n_bootstrap=10)
    assert result.k == 2
    rows = ranked_rows(gt, exclude_self)
    assert min(row.min() for row in rows) < -0.5
    rankings = np.array(list(itertools.permutations(range(6))))
    ap, nd = zip(*(permutation_metrics(row, 2, rankings) for row in rows), strict=True)
    assert result.map_chance == pytest.approx(np.mean(ap), rel=1e-12)
    assert result.mndcg_chance == pytest.approx(np.mean(nd), abs=1e-6)  # IDCG comes from float32 scores
    # The chance levels depend on the ground truth alone, not on the embeddings being evaluated.
    other = evaluate_scenario(gt, gt, gt[::-1], gt[::-1], fraction=2 / 6, exclude_self=exclude_self, n_bootstrap=10)
    assert (other.map_chance, other.mndcg_chance) == (result.map_chance, result.mndcg_chance)


@pytest.mark.parametrize("exclude_self", [False, True])
def test_scenario_chance_matches_random_permutations(exclude_self):
    """N = 12, k = 3, 20,000 random orderings per query: each sample is the mean over queries of one
    ordering each, and the estimate must lie within 5 standard errors of the closed form."""
    n_perms = 20_000
    n = 13 if exclude_self else 12
    gt = mixed_sign_embeddings(2, n)
    result = evaluate_scenario(gt, gt, gt, gt, fraction=0.25, exclude_self=exclude_self, n_bootstrap=10)
    assert result.k == 3
    rows = ranked_rows(gt, exclude_self)
    assert sum((row < 0).sum() for row in rows) > n
    rng = np.random.default_rng(3)
    samples = [permutation_metrics(row, 3, rng.permuted(np.tile(np.arange(12), (n_perms, 1)), axis=1)) for row in rows]
    for j, closed_form in enumerate([result.map_chance, result.mndcg_chance]):
        per_perm = np.mean([s[j] for s in samples], axis=0)
        standard_error = per_perm.std(ddof=1) / np.sqrt(n_perms)
        assert abs(per_perm.mean() - closed_form) < 5 * standard_error


def test_one_ranked_item_is_always_found():
    gt = np.array([[1.0, 0.0], [1.0, 1.0]])
    assert expected_average_precision(1, 1) == 1.0
    alone = evaluate_scenario(gt[:1], gt[:1], gt[:1], gt[:1], n_bootstrap=10)
    others = evaluate_scenario(gt, gt, gt, gt, exclude_self=True, n_bootstrap=10)
    for result in (alone, others):
        assert result.map_chance == 1.0
        assert result.mndcg_chance == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("exclude_self", [False, True])
def test_mean_relevance_in_blocks(monkeypatch, exclude_self):
    gt = mixed_sign_embeddings(5, 11)
    unit = unit_rows(gt, "")
    whole = chance.mean_relevance(unit, unit, exclude_self)
    monkeypatch.setattr(chance, "ROWS_PER_BLOCK", 4)
    np.testing.assert_array_equal(chance.mean_relevance(unit, unit, exclude_self), whole)
    np.testing.assert_allclose(whole, [row.mean() for row in ranked_rows(gt, exclude_self)], rtol=0, atol=1e-15)
