"""Queries whose ground truth ties across the top-k boundary, and scenarios scored without them."""

import numpy as np
import pytest

from anonjax.retrieval import evaluate_scenario
from anonjax.retrieval.inputs import relevant_count, unit_rows
from anonjax.retrieval.ties import tied_queries


def reference_ties(gt: np.ndarray, fraction: float, exclude_self: bool) -> np.ndarray:
    """k-th and (k+1)-th cosines equal, one query at a time in float64."""
    s0 = unit_rows(gt, "").astype(np.float64) @ unit_rows(gt, "").T.astype(np.float64)
    k = relevant_count(fraction, len(gt) - exclude_self)
    out = []
    for row in range(len(s0)):
        scores = np.delete(s0[row], row) if exclude_self else s0[row]
        ordered = np.sort(scores)[::-1]
        out.append(ordered[k - 1] == ordered[k])
    return np.array(out)


@pytest.mark.parametrize("exclude_self", [False, True])
@pytest.mark.parametrize("fraction", [0.05, 0.1])
def test_tied_queries_match_the_definition(exact, exclude_self, fraction):
    """Cosines that are multiples of 1/4 tie often, and exactly: some queries tie at the boundary, some do not."""
    gt = exact(np.random.default_rng(3), 60)
    tied = tied_queries(gt, gt, fraction=fraction, exclude_self=exclude_self, chunk_size=16)
    expected = reference_ties(gt, fraction, exclude_self)
    np.testing.assert_array_equal(tied, expected)
    assert 0 < expected.sum() < len(gt)


def test_distinct_rows_and_duplicates_inside_the_relevant_set_do_not_tie():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(50, 8)).astype(np.float32)
    assert not tied_queries(gt, gt, fraction=0.1).any()
    gt[1] = gt[0]  # query 0's top 5 holds itself and its copy; the 6th is another image
    assert not tied_queries(gt, gt, fraction=0.1)[[0, 1]].any()


def test_identical_rows_and_dimension_one_tie_everywhere():
    rng = np.random.default_rng(0)
    same = np.tile(rng.normal(size=(1, 8)), (30, 1))
    assert tied_queries(same, same, exclude_self=True).all()
    flat = rng.normal(size=(100, 1))
    assert tied_queries(flat, flat).all()


def test_a_relevant_set_of_every_ranked_item_has_no_boundary():
    x = np.random.default_rng(0).normal(size=(2, 4))
    with pytest.raises(ValueError, match="each query ranks 1 item"):
        tied_queries(x, x, exclude_self=True)


def test_scored_queries_alone_make_the_means_intervals_and_chance(exact):
    rng = np.random.default_rng(1)
    gt, q = exact(rng, 40), exact(rng, 40)
    scored = np.arange(40) % 3 != 0
    full = evaluate_scenario(gt, gt, q, q, n_bootstrap=20)
    part = evaluate_scenario(gt, gt, q, q, n_bootstrap=20, scored=scored)
    np.testing.assert_array_equal(part.ap, full.ap[scored])
    np.testing.assert_array_equal(part.ndcg, full.ndcg[scored])
    assert part.map == pytest.approx(full.ap[scored].mean(), abs=1e-12)
    assert part.map_chance == full.map_chance
    alone = evaluate_scenario(gt[scored], gt, q[scored], q, n_bootstrap=20)  # the same queries, nothing left out
    assert (part.map, part.mndcg, part.mndcg_chance) == pytest.approx((alone.map, alone.mndcg, alone.mndcg_chance),
                                                                      abs=1e-12)
    assert part.map_ci != full.map_ci


@pytest.mark.parametrize(("scored", "message"), [(np.zeros(40, bool), "leaves no query"),
                                                 (np.ones(39, bool), "one bool per query")])
def test_scored_must_name_some_queries(exact, scored, message):
    x = exact(np.random.default_rng(0), 40)
    with pytest.raises(ValueError, match=message):
        evaluate_scenario(x, x, x, x, n_bootstrap=5, scored=scored)


def test_a_near_tie_at_float32_resolution_is_decided_by_the_embeddings():
    """Query 0's 2nd and 3rd cosines are two float32 ulps apart: a float32 candidate, distinct in float64."""
    angles = np.linspace(1.4, 1.55, 40)  # every other row far from query 0
    rows = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    a = np.float32(0.6)
    b = np.nextafter(np.nextafter(a, np.float32(0)), np.float32(0))
    rows[0], rows[1], rows[2] = (1, 0), (a, np.sqrt(1 - a * a)), (b, np.sqrt(1 - b * b))
    gq = unit_rows(rows, "")
    assert 0 < gq[0] @ gq[1] - gq[0] @ gq[2] <= 4 * np.spacing(np.float32(a))
    assert not tied_queries(rows, rows)[0]  # k = 2: itself, then row 1 before row 2
    rows[2] = rows[1]
    assert tied_queries(rows, rows)[0]
