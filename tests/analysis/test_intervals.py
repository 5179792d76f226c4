"""The closed-form intervals against values computed by hand."""

import math

import pytest

from anonjax.analysis.intervals import Z95, bonferroni_z, clustered_wilson_interval, fisher_interval, wilson_interval


def test_wilson_interval_by_hand():
    # 7 of 10: centre (0.7 + 1.96^2/20) / (1 + 1.96^2/10), half-width z/(1+z^2/n) sqrt(p(1-p)/n + z^2/(4n^2)).
    assert wilson_interval(7, 10) == pytest.approx((0.3968, 0.8922), abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == 0 and high == pytest.approx(0.1611, abs=1e-4)  # stays inside [0, 1] at the edge
    assert wilson_interval(20, 20)[1] == 1
    with pytest.raises(ValueError, match="n >= 1"):
        wilson_interval(0, 0)


def test_fisher_interval_by_hand():
    low, high = fisher_interval(0.5, 28)  # atanh(0.5) = 0.5493, standard error 1/5
    assert (low, high) == pytest.approx((math.tanh(0.5493 - 0.392), math.tanh(0.5493 + 0.392)), abs=1e-4)
    assert fisher_interval(-0.5, 28) == pytest.approx((-high, -low))
    assert fisher_interval(0.5, 3) is None and fisher_interval(float("nan"), 30) is None
    assert fisher_interval(1.0, 10) == (1.0, 1.0)


def test_bonferroni_z_splits_the_error_rate():
    assert bonferroni_z(1) == pytest.approx(Z95, abs=1e-12)
    assert bonferroni_z(8) == pytest.approx(2.7344, abs=1e-4)  # the 1 - 0.05 / 16 quantile of the normal
    with pytest.raises(ValueError, match="at least one"):
        bonferroni_z(0)


def test_clustered_interval_counts_images_whose_items_share_their_fate():
    # 10 pages of 10 words: 2 pages leak every word, 8 none. By hand: p = 0.2; between-page variance
    # 10/9 * (2 * 8**2 + 8 * 2**2) / 100**2 = 0.01778; independent words 0.2 * 0.8 / 100 = 0.0016; design effect
    # 11.1, so 9 effective trials instead of 100, raised to the 10 pages (each page is at least one trial).
    hits, totals = [10, 10] + [0] * 8, [10] * 10
    assert clustered_wilson_interval(hits, totals) == pytest.approx(wilson_interval(2, 10))
    # 20 pages of 10 words, 30 leaked: 2 pages whole, 2 half, 16 none. Between-page variance
    # 20/19 * (2 * 8.5**2 + 2 * 3.5**2 + 16 * 1.5**2) / 200**2 = 0.005395, independent 0.15 * 0.85 / 200: 23.6
    # effective trials, between the 20 pages and the 200 words.
    hits, totals = [10, 10, 5, 5] + [0] * 16, [10] * 20
    effective = 200 * (0.15 * 0.85 / 200) / (20 / 19 * 205 / 200**2)
    assert 23.5 < effective < 23.7
    assert clustered_wilson_interval(hits, totals) == pytest.approx(wilson_interval(0.15 * effective, effective))
    lo, hi = clustered_wilson_interval(hits, totals)
    pooled_lo, pooled_hi = wilson_interval(30, 200)
    assert lo < pooled_lo and hi > pooled_hi
    # Pages that each leak their share: no more spread than independent words, so the items count.
    assert clustered_wilson_interval([2] * 10, [10] * 10) == pytest.approx(wilson_interval(20, 100))
    # Nothing leaked anywhere: no spread to see, so each page is one trial; pages without items do not count.
    assert clustered_wilson_interval([0, 0, 0, 0], [10, 12, 8, 0]) == pytest.approx(wilson_interval(0, 3))
    with pytest.raises(ValueError, match="at least one image"):
        clustered_wilson_interval([0], [0])
