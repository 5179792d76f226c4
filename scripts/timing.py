"""Wall-clock timing shared by the benchmark scripts."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(*fns: Callable[[], object], rounds: int, warmup: int = 0) -> tuple[list[float], list[object]]:
    """Each function's best wall time over ``rounds`` rounds and its output of the last one. The functions
    alternate within a round, so that a shared machine's load falls on all of them alike, and the best round is
    each one's least disturbed run. ``warmup`` untimed calls of each come first (compilation, caches)."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    best, outputs = [float("inf")] * len(fns), [None] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            outputs[i] = fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best, outputs
