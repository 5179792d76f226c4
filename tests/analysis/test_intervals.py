"""The closed-form intervals against values computed by hand."""

import math

import pytest

from anonjax.analysis.intervals import fisher_interval, wilson_interval


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
