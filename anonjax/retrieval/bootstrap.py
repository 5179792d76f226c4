"""Seeded percentile-bootstrap confidence intervals of per-query means."""

from __future__ import annotations

import numpy as np

DRAWS_PER_BLOCK = 2**22  # query indices drawn at once, to bound memory for large query sets


def bootstrap_mean_cis(
    per_query: list[np.ndarray], n_bootstrap: int, seed: int, level: float = 0.95
) -> list[tuple[float, float]]:
    """A (low, high) percentile interval of the mean of each array, resampling queries with
    replacement. All arrays share the same resamples, so paired metrics stay paired."""
    n = per_query[0].shape[0]
    rng = np.random.default_rng(seed)
    means = np.empty((n_bootstrap, len(per_query)))
    block = max(1, DRAWS_PER_BLOCK // n)
    for start in range(0, n_bootstrap, block):
        draws = rng.integers(0, n, size=(min(block, n_bootstrap - start), n))
        for j, values in enumerate(per_query):
            means[start : start + draws.shape[0], j] = values[draws].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail], axis=0)
    return [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]
