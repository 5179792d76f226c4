"""Closed-form 95% intervals for the numbers the report compares besides retrieval scores: a proportion
(a probe's accuracy on n test images) and a Pearson correlation over n points."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``: unlike the normal approximation it stays
    inside [0, 1] and is sensible near 0 and 1, where probe accuracies often lie."""
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
