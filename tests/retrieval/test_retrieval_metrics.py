"""mAP and mnDCG against the pseudo ground truth: hand-made answers, scikit-learn, a direct numpy
transcription of the definitions, ties, exclude_self, chunks, the bootstrap and paired differences."""

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from anonjax.retrieval import bootstrap, evaluate_scenario, paired_difference_ci
from anonjax.retrieval.bootstrap import bootstrap_mean_cis
from anonjax.retrieval.inputs import unit_rows
from anonjax.retrieval.metrics import average_precision, ndcg


def reference_metrics(gt_q, gt_db, q, db, k: int, exclude_self: bool = False):
    """The definitions, one query at a time in float64: rankings by stable sort of -score."""
    s0 = unit_rows(gt_q, "").astype(np.float64) @ unit_rows(gt_db, "").T.astype(np.float64)
    s = unit_rows(q, "").astype(np.float64) @ unit_rows(db, "").T.astype(np.float64)
    discounts = 1 / np.log2(np.arange(2, k + 2))
    ap, nd = [], []
    for row in range(len(s)):
        items = np.array([i for i in range(s.shape[1]) if not (exclude_self and i == row)])
        gt_row, row_scores = s0[row, items], s[row, items]
        relevant = np.zeros(len(items), bool)
        relevant[np.argsort(-gt_row, kind="stable")[:k]] = True
        ranking = np.argsort(-row_scores, kind="stable")
        hits = relevant[ranking]
        precision = np.cumsum(hits) / np.arange(1, len(items) + 1)
        ap.append((precision * hits).sum() / k)
        ideal = np.sort(gt_row)[::-1][:k]
        nd.append((gt_row[ranking[:k]] * discounts).sum() / (ideal * discounts).sum())
    return np.array(ap), np.array(nd)


def test_average_precision_by_hand():
    # Row 0 ranks items 1, 4, 2, 3, 0; the relevant items 2 and 0 sit at ranks 3 and 5:
    # AP = (1/2)(1/3 + 2/5) = 0.3667.
    # Row 1 ties everywhere, so the ranking is 0, 1, 2, 3, 4; relevant 3 and 1 sit at ranks 2 and 4:
    # AP = (1/2)(1/2 + 2/4) = 0.5.
    # Row 2 has item 0 at -inf (a removed self-match): the ranking is 2, 3, 4, 1, 0 and relevant 4 and
    # 3 sit at ranks 3 and 2: AP = (1/2)(1/2 + 2/3) = 7/12.
    scores = jnp.array([[0.1, 0.9, 0.5, 0.3, 0.7], [0.5, 0.5, 0.5, 0.5, 0.5], [-jnp.inf, 0.1, 0.9, 0.6, 0.3]])
    relevant = jnp.array([[0, 2], [3, 1], [4, 3]], jnp.int32)
    np.testing.assert_allclose(average_precision(scores, relevant), [11 / 30, 0.5, 7 / 12], rtol=1e-6)


def test_ndcg_by_hand():
    # S0 row 0.9, 0.1, 0.5, 0.3; the evaluated top-2 is items 3 then 0:
    # DCG = 0.3/log2(2) + 0.9/log2(3) = 0.8678, IDCG = 0.9 + 0.5/log2(3) = 1.2155, nDCG = 0.7140.
    gt_scores = jnp.array([[0.9, 0.1, 0.5, 0.3]])
    values, idcg = ndcg(jnp.array([[0.9, 0.5]]), gt_scores, jnp.array([[3, 0]], jnp.int32))
    np.testing.assert_allclose(values, [(0.3 + 0.9 / np.log2(3)) / (0.9 + 0.5 / np.log2(3))], rtol=1e-6)
    np.testing.assert_allclose(idcg, [0.9 + 0.5 / np.log2(3)], rtol=1e-6)


def unit_at(degrees):
    angles = np.deg2rad(degrees)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def test_scenario_by_hand():
    # One query at angle 0. Ground truth: items at 10, 50, 20, 80 degrees, so S0 = cos of those and,
    # with fraction 0.5 of 4 items, k = 2 and R = {0, 2}. Evaluated items at 70, 5, 60, 30 degrees:
    # the ranking is 1, 3, 2, 0, so the relevant items sit at ranks 3 and 4:
    # AP = (1/2)(1/3 + 2/4) = 5/12.
    # DCG = cos 50 + cos 80 / log2(3); IDCG = cos 10 + cos 20 / log2(3).
    query = unit_at([0])
    result = evaluate_scenario(query, unit_at([10, 50, 20, 80]), query, unit_at([70, 5, 60, 30]), fraction=0.5)
    cos = lambda d: np.cos(np.deg2rad(d))
    expected_ndcg = (cos(50) + cos(80) / np.log2(3)) / (cos(10) + cos(20) / np.log2(3))
    assert result.k == 2
    assert isinstance(result.map, float) and isinstance(result.mndcg, float)
    np.testing.assert_allclose(result.ap, [5 / 12], rtol=1e-6)
    np.testing.assert_allclose(result.ndcg, [expected_ndcg], rtol=1e-6)
    assert result.map == pytest.approx(5 / 12, rel=1e-6)
    assert result.map_ci[0] == result.map_ci[1] == result.map  # one query: every resample is the same


@pytest.fixture(scope="module")
def random_case():
    """Random embeddings where every row's scores are at least 1e-6 apart: no ties, even after
    float32 rounding, so scikit-learn's tie handling never comes into play."""
    rng = np.random.default_rng(37)  # a seed whose scores pass the gap check below
    gt_db = rng.standard_normal((200, 16)).astype(np.float32)
    db = (gt_db + 0.8 * rng.standard_normal(gt_db.shape)).astype(np.float32)
    gt_q, q = gt_db[:20], db[:20]
    for a, b in ((gt_q, gt_db), (q, db)):
        gaps = np.diff(np.sort(unit_rows(a, "") @ unit_rows(b, "").T, axis=1), axis=1)
        assert gaps.min() > 1e-6
    return gt_q, gt_db, q, db


def test_ap_equals_scikit_learn_and_ndcg_the_transcription(random_case):
    gt_q, gt_db, q, db = random_case
    result = evaluate_scenario(gt_q, gt_db, q, db, fraction=0.05)
    assert result.k == 10
    s0 = unit_rows(gt_q, "") @ unit_rows(gt_db, "").T
    s = unit_rows(q, "") @ unit_rows(db, "").T
    for row in range(len(q)):
        labels = np.isin(np.arange(200), np.argsort(-s0[row])[:10])
        assert result.ap[row] == pytest.approx(average_precision_score(labels, s[row]), abs=1e-6)
    ref_ap, ref_ndcg = reference_metrics(gt_q, gt_db, q, db, 10)
    np.testing.assert_allclose(result.ap, ref_ap, atol=1e-6)
    np.testing.assert_allclose(result.ndcg, ref_ndcg, atol=1e-6)
    assert result.map == pytest.approx(ref_ap.mean(), abs=1e-6)
    assert result.mndcg == pytest.approx(ref_ndcg.mean(), abs=1e-6)
    assert 0 < result.map < 1 and 0 < result.mndcg < 1


@pytest.fixture(scope="module")
def tied_case(exact):
    """1280 items with k = 64, and heavy exact ties everywhere."""
    rng = np.random.default_rng(1)
    gt_db = exact(rng, 1280)
    db = gt_db.copy()
    swap = rng.random(1280) < 0.5
    db[swap] = exact(rng, int(swap.sum()))
    return gt_db[:24], gt_db, db[:24], db


def test_ties_and_fast_path_match_the_transcription(tied_case):
    result = evaluate_scenario(*tied_case, fraction=0.05)
    assert result.k == 64
    ref_ap, ref_ndcg = reference_metrics(*tied_case, 64)
    np.testing.assert_allclose(result.ap, ref_ap, atol=1e-6)
    np.testing.assert_allclose(result.ndcg, ref_ndcg, atol=1e-6)


def test_chunked_equals_unchunked(tied_case):
    whole = evaluate_scenario(*tied_case, chunk_size=24)
    chunked = evaluate_scenario(*tied_case, chunk_size=5)
    np.testing.assert_array_equal(chunked.ap, whole.ap)
    np.testing.assert_array_equal(chunked.ndcg, whole.ndcg)


def test_exclude_self(exact):
    rng = np.random.default_rng(2)
    gt = exact(rng, 41)
    evaluated = np.where(rng.random((41, 1)) < 0.5, exact(rng, 41), gt)
    result = evaluate_scenario(gt, gt, evaluated, evaluated, fraction=0.1, exclude_self=True, chunk_size=8)
    assert result.k == 4  # floor(0.1 * (41 - 1)): each query ranks the 40 other items
    ref_ap, ref_ndcg = reference_metrics(gt, gt, evaluated, evaluated, 4, exclude_self=True)
    np.testing.assert_allclose(result.ap, ref_ap, atol=1e-6)
    np.testing.assert_allclose(result.ndcg, ref_ndcg, atol=1e-6)
    kept = evaluate_scenario(gt, gt, evaluated, evaluated, fraction=0.1, chunk_size=8)
    assert kept.k == 4 and not np.array_equal(kept.ap, result.ap)
    for exclude_self in (False, True):  # unchanged embeddings retrieve exactly the ground truth
        same = evaluate_scenario(gt, gt, gt, gt, fraction=0.1, exclude_self=exclude_self, chunk_size=8)
        np.testing.assert_allclose(same.ap, 1.0, atol=1e-6)
        np.testing.assert_allclose(same.ndcg, 1.0, atol=1e-6)


def test_bootstrap_is_seeded_and_contains_the_estimate(random_case):
    first = evaluate_scenario(*random_case, n_bootstrap=200, seed=7)
    again = evaluate_scenario(*random_case, n_bootstrap=200, seed=7)
    other = evaluate_scenario(*random_case, n_bootstrap=200, seed=8)
    assert first.map_ci == again.map_ci and first.mndcg_ci == again.mndcg_ci
    assert first.map_ci != other.map_ci
    assert first.map_ci[0] < first.map < first.map_ci[1]
    assert first.mndcg_ci[0] < first.mndcg < first.mndcg_ci[1]
    assert first.map_ci[1] - first.map_ci[0] < 0.5
    with pytest.raises(ValueError, match="read-only"):
        first.ap[0] = 0


def test_undefined_ndcg_is_an_error():
    # Without itself, query 0 only sees items pointing away from it: every relevance is negative.
    gt = np.array([[1.0, 0.0], [-1.0, 0.1], [-1.0, -0.1]])
    with pytest.raises(ValueError, match=r"gt_queries row 0: .* nDCG is undefined"):
        evaluate_scenario(gt, gt, gt, gt, fraction=0.5, exclude_self=True)


def reference_ap(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """AP by the definition: stable sort of -score ranks ties by lower index."""
    out = []
    for row, rel in zip(scores, relevant, strict=True):
        hits = np.isin(np.argsort(-row, kind="stable"), rel)
        out.append((np.cumsum(hits) / np.arange(1, len(row) + 1) * hits).sum() / len(rel))
    return np.array(out)


@pytest.mark.parametrize(("copies", "fast"), [(3, True), (60, False)])
def test_tied_scores_on_both_rank_paths(copies, fast):
    """Items copied within a row tie exactly. A few ties are resolved on the key-sort path; many
    (more than MAX_TIED relevant items tied in a row) send the chunk to the bucket count, whose
    binary search takes 3 steps for k = 160 (brackets of 5 after 32 pivots)."""
    from anonjax.retrieval.metrics import _ranks_by_sorted_keys

    rng = np.random.default_rng(3)
    scores = rng.uniform(-1, 1, (6, 600)).astype(np.float32)
    relevant = rng.permuted(np.tile(np.arange(600), (6, 1)), axis=1)[:, :160].astype(np.int32)
    for row, rel in zip(scores, relevant, strict=True):  # copy relevant scores onto other items
        row[rng.choice(600, copies, replace=False)] = row[rel[rng.choice(160, copies)]]
    _, exact = _ranks_by_sorted_keys(jnp.asarray(scores), jnp.asarray(relevant))
    assert bool(exact) is fast
    np.testing.assert_allclose(
        average_precision(jnp.asarray(scores), jnp.asarray(relevant)), reference_ap(scores, relevant), atol=1e-6
    )


def reference_difference_ci(a, b, n_bootstrap: int, seed: int, paired: bool = True) -> tuple[float, float]:
    """The 95% percentile interval of mean(a) - mean(b), one resample at a time: the same query
    indices for both arrays, or (unpaired) independent ones."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(n_bootstrap):
        rows = rng.integers(0, len(a), len(a))
        other = rows if paired else rng.integers(0, len(b), len(b))
        differences.append(a[rows].mean() - b[other].mean())
    low, high = np.quantile(differences, [0.025, 0.975])
    return float(low), float(high)


def test_paired_difference_of_identical_and_shifted_scores():
    a = np.random.default_rng(5).integers(0, 1024, 50) / 1024  # dyadic: a + c - a is exactly c
    assert paired_difference_ci(a, a, 200, seed=0) == (0.0, 0.0, 0.0)
    assert paired_difference_ci(a, a + 0.125, 200, seed=0) == (-0.125, -0.125, -0.125)


def test_paired_difference_matches_the_reference_loop(monkeypatch):
    rng = np.random.default_rng(6)
    a, b = rng.random(40), rng.random(40)
    monkeypatch.setattr(bootstrap, "DRAWS_PER_BLOCK", 7 * 40)  # blocks of 7 resamples: several, the last short
    mean, low, high = paired_difference_ci(a, b, 300, seed=11)
    assert mean == pytest.approx(a.mean() - b.mean(), rel=1e-12)
    np.testing.assert_allclose((low, high), reference_difference_ci(a, b, 300, seed=11), rtol=1e-12)
    assert low < mean < high


def test_paired_difference_is_narrower_for_correlated_scores():
    rng = np.random.default_rng(7)
    shared = rng.random(100)  # the query's difficulty, common to both rows
    a = shared + 0.02 * rng.standard_normal(100)
    b = shared + 0.05 + 0.02 * rng.standard_normal(100)
    _, low, high = paired_difference_ci(a, b, 500, seed=3)
    unpaired_low, unpaired_high = reference_difference_ci(a, b, 500, seed=3, paired=False)
    (a_low, a_high), (b_low, b_high) = bootstrap_mean_cis([a, b], 500, seed=3)
    assert high - low < 0.25 * min(unpaired_high - unpaired_low, a_high - a_low, b_high - b_low)
    assert high < 0 < unpaired_high  # the paired interval resolves the 0.05 gap; the unpaired one does not


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ([0.1, 0.2], [0.1], {}, "same queries"),
        ([], [], {}, "same queries"),
        ([0.1, np.nan], [0.1, 0.2], {}, "query 1"),
        ([0.1, 0.2], [0.1, 0.2], {"level": 1.0}, "level"),
        ([0.1, 0.2], [0.1, 0.2], {"n_bootstrap": 0}, "n_bootstrap"),
    ],
)
def test_paired_difference_rejects_bad_input(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_difference_ci(a, b, **{"n_bootstrap": 10, "seed": 0, **kwargs})
