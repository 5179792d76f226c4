"""Seeded percentile-bootstrap confidence intervals of per-query means and of paired differences."""

from __future__ import annotations

import numpy as np

from anonjax.retrieval.inputs import check_positive_int

DRAWS_PER_BLOCK = 2**22  # query indices drawn at once, to bound memory for large query sets


def _resampled_means(per_query: list[np.ndarray], n_bootstrap: int, seed: int) -> np.ndarray:
    """[n_bootstrap, len(per_query)] means of each array over resamples of the queries with
    replacement, drawn in blocks of about ``DRAWS_PER_BLOCK`` indices. Every array takes the same
    resample, and the stream of indices does not depend on the block size."""
    n = per_query[0].shape[0]
    rng = np.random.default_rng(seed)
    means = np.empty((n_bootstrap, len(per_query)))
    block = max(1, DRAWS_PER_BLOCK // n)
    for start in range(0, n_bootstrap, block):
        draws = rng.integers(0, n, size=(min(block, n_bootstrap - start), n))
        for j, values in enumerate(per_query):
            means[start : start + draws.shape[0], j] = values[draws].mean(axis=1)
    return means


def _percentiles(means: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The (low, high) percentiles that bound the central ``level`` of ``means`` along axis 0."""
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail], axis=0)
    return low, high


def bootstrap_mean_cis(
    per_query: list[np.ndarray], n_bootstrap: int, seed: int, level: float = 0.95
) -> list[tuple[float, float]]:
    """A (low, high) percentile interval of the mean of each array, resampling queries with
    replacement. All arrays share the same resamples, so paired metrics stay paired."""
    low, high = _percentiles(_resampled_means(per_query, n_bootstrap, seed), level)
    return [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]


def paired_difference_ci(a, b, n_bootstrap: int, seed: int, level: float = 0.95) -> tuple[float, float, float]:
    """(mean of a - b, low, high): the mean difference of two per-query scores and its percentile
    interval, resampling queries with replacement.

    Both arrays are scored on the same queries, so each resample takes the same indices from both: the
    per-query variation they share cancels, and the interval is narrower than two unpaired ones when
    they are correlated. With the same ``seed`` the resamples are those of ``bootstrap_mean_cis``.
    """
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"a and b must be per-query scores of the same queries: two non-empty 1-D arrays of equal "
            f"length, got shapes {a.shape} and {b.shape}"
        )
    difference = a - b
    if not np.isfinite(difference).all():
        bad = int(np.flatnonzero(~np.isfinite(difference))[0])
        raise ValueError(f"query {bad}: a or b is NaN or inf, so the difference has no mean")
    (low,), (high,) = _percentiles(_resampled_means([difference], n_bootstrap, seed), level)
    return float(difference.mean()), float(low), float(high)
