"""Closed-form 95% intervals for the numbers the report compares besides retrieval scores: a proportion
(a probe's accuracy on n test images), a proportion pooled over images whose items are not independent (words
still read on anonymized pages) and a Pearson correlation over n points, alone or as one of a family."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def bonferroni_z(tests: int) -> float:
    """The normal quantile that makes ``tests`` two-sided intervals 95% intervals together (Bonferroni): each at
    level 1 - 0.05 / tests, so that a finding picked from several of them keeps its 5% error rate."""
    if tests < 1:
        raise ValueError(f"a family of intervals needs at least one, got {tests}")
    return NormalDist().inv_cdf(1 - 0.05 / (2 * tests))


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``: unlike the normal approximation it stays
    inside [0, 1] and is sensible near 0 and 1, where probe accuracies often lie. ``n`` may be an effective
    sample size, not a whole number."""
    if n < 1:
        raise ValueError(f"a proportion needs n >= 1 trials, got {n}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_interval(r: float, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Interval of a Pearson ``r`` over ``n`` points by Fisher's z transform (atanh(r) is nearly normal with
    standard error 1 / sqrt(n - 3)); None where it is undefined (n <= 3 or r not finite)."""
    if n <= 3 or not math.isfinite(r):
        return None
    if abs(r) >= 1:
        return r, r
    centre, half = math.atanh(r), z / math.sqrt(n - 3)
    return math.tanh(centre - half), math.tanh(centre + half)


def clustered_wilson_interval(hits: Sequence[float], totals: Sequence[float], z: float = Z95) -> tuple[float, float]:
    """Wilson interval of a proportion pooled over clusters: items ``totals[i]`` of image ``i``, ``hits[i]`` of
    them successes (or a sum of scores in [0, 1]). The items of one image share its fate (a page the detector
    missed leaks all its words), so they are not independent trials: the interval is Wilson's at Kish's
    effective sample size, the items divided by the design effect (the ratio estimator's variance between
    images over the variance of independent items), at most the items and at least the images. Where every
    item failed or every item succeeded, no variance is seen, and each image counts as one trial."""
    hits, totals = np.asarray(hits, np.float64), np.asarray(totals, np.float64)
    used = totals > 0
    hits, totals = hits[used], totals[used]
    if not len(totals):
        raise ValueError("a pooled proportion needs at least one image with items")
    n_items, images = float(totals.sum()), len(totals)
    p = float(hits.sum()) / n_items
    independent = p * (1 - p) / n_items
    if images < 2 or independent <= 0:
        effective = float(images)
    else:
        between = images / (images - 1) * float(np.sum((hits - p * totals) ** 2)) / n_items**2
        effective = min(n_items, max(float(images), n_items * independent / max(between, 1e-300)))
    return wilson_interval(p * effective, effective, z)
