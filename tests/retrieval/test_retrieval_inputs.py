"""Bad inputs are refused with a ValueError that names the argument (and the row) at fault."""

import numpy as np
import pytest

from anonjax.retrieval import evaluate_scenario, linkage_rate, topk_cosine
from anonjax.retrieval.inputs import relevant_count, unit_rows

RNG = np.random.default_rng(0)
GOOD = RNG.standard_normal((6, 4)).astype(np.float32)


def with_value(row: int, col: int, value: float) -> np.ndarray:
    x = GOOD.copy()
    x[row, col] = value
    return x


def test_relevant_count_is_floor_of_fraction_times_n():
    assert relevant_count(0.05, 39_972) == 1998  # the paper's mnDCG1998 on RVL-CDIP validation
    assert relevant_count(0.05, 19_792) == 989  # and mnDCG989 on CelebA
    assert relevant_count(0.29, 100) == 29  # 0.29 * 100 is 28.999999999999996 in floating point
    assert relevant_count(0.05, 10) == 1  # never below one
    assert relevant_count(1, 7) == 7


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, float("nan"), True, "0.05"])
def test_fraction_outside_unit_interval(fraction):
    with pytest.raises(ValueError, match="fraction must be in"):
        evaluate_scenario(GOOD, GOOD, GOOD, GOOD, fraction=fraction)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (with_value(3, 1, np.nan), r"database: row 3 holds NaN or inf \(1 such rows"),
        (with_value(2, 0, np.inf), "database: row 2 holds NaN or inf"),
        (np.where(np.arange(6)[:, None] == 4, 0, GOOD), "database: row 4 is a zero vector"),
        (GOOD[0], r"database: expected a 2-D array .* got shape \(4,\)"),
        (GOOD[None], "database: expected a 2-D array"),
        (np.zeros((0, 4)), "database: expected at least one row"),
        (GOOD.astype(np.complex64), "database: expected real numbers"),
        (GOOD > 0, "database: expected real numbers, got dtype bool"),
        (GOOD.astype(str), "database: expected real numbers"),
        (GOOD.astype(object), "database: expected real numbers, got dtype object"),
    ],
)
def test_bad_database_named_with_row(array, message):
    with pytest.raises(ValueError, match=message):
        topk_cosine(GOOD, array, 1)


def test_nan_in_each_argument_of_evaluate_is_named():
    for position, name in enumerate(["gt_queries", "gt_database", "queries", "database"]):
        args = [GOOD] * 4
        args[position] = with_value(5, 2, np.nan)
        with pytest.raises(ValueError, match=f"^{name}: row 5 holds NaN"):
            evaluate_scenario(*args)


def test_k_larger_than_database_or_not_positive():
    with pytest.raises(ValueError, match=r"k=7 is larger than the database \(6 rows\)"):
        topk_cosine(GOOD, GOOD, 7)
    for k in (0, -1, 2.0, None):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            topk_cosine(GOOD, GOOD, k)


def test_dimension_mismatch():
    with pytest.raises(ValueError, match="queries has 4 dimensions but database has 3"):
        topk_cosine(GOOD, GOOD[:, :3], 1)
    with pytest.raises(ValueError, match="gt_queries has 4 dimensions but gt_database has 3"):
        evaluate_scenario(GOOD, GOOD[:, :3], GOOD, GOOD)
    with pytest.raises(ValueError, match="anonymized has 4 dimensions but originals has 3"):
        linkage_rate(GOOD, GOOD[:, :3])


def test_row_count_mismatch_between_ground_truth_and_evaluated():
    with pytest.raises(ValueError, match="gt_queries has 6 rows but queries has 5"):
        evaluate_scenario(GOOD, GOOD, GOOD[:5], GOOD)
    with pytest.raises(ValueError, match="gt_database has 6 rows but database has 5"):
        evaluate_scenario(GOOD, GOOD, GOOD, GOOD[:5])
    with pytest.raises(ValueError, match="anonymized has 5 rows but originals has 6"):
        linkage_rate(GOOD[:5], GOOD)


def test_exclude_self_needs_the_same_image_set():
    with pytest.raises(ValueError, match="queries has 3 rows but database has 6; exclude_self"):
        evaluate_scenario(GOOD[:3], GOOD, GOOD[:3], GOOD, exclude_self=True)
    with pytest.raises(ValueError, match="exclude_self needs at least 2 database rows"):
        evaluate_scenario(GOOD[:1], GOOD[:1], GOOD[:1], GOOD[:1], exclude_self=True)


def test_bad_chunk_size_and_bootstrap_count():
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        topk_cosine(GOOD, GOOD, 1, chunk_size=0)
    with pytest.raises(ValueError, match="n_bootstrap must be a positive integer"):
        evaluate_scenario(GOOD, GOOD, GOOD, GOOD, n_bootstrap=0)


def test_tiny_and_huge_rows_are_normalized_not_refused():
    x = np.array([[1e-30, 2e-30], [1e30, 2e30]], np.float32)  # squares under/overflow float32
    scores, indices = topk_cosine(x, x, 2)
    np.testing.assert_allclose(scores, 1.0, rtol=1e-6)
    assert indices[:, 0].tolist() == [0, 0]  # both rows point the same way: a tie, lower index first


def test_huge_float64_rows_are_normalized_not_refused():
    # Finite in float64, inf in float32: the rows are scaled in float64 before the float32 result.
    x = np.array([[1e300, 2e300], [3e300, -1e300], [1.7e308, 1.7e308]])
    expected = np.array([[1, 2] / np.sqrt(5), [3, -1] / np.sqrt(10), [1, 1] / np.sqrt(2)], np.float32)
    rows = unit_rows(x, "database")
    assert rows.dtype == np.float32
    np.testing.assert_allclose(rows, expected, rtol=1e-6)
    scores, indices = topk_cosine(x, x, 1)
    np.testing.assert_allclose(scores[:, 0], 1.0, rtol=1e-6)
    assert indices[:, 0].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="database: row 1 holds NaN or inf"):
        unit_rows(np.array([[1e300, 1.0], [np.inf, 1.0]]), "database")
