"""Splitting the query rows into chunks so that memory stays O(chunk x database), never Q x N."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

SCORE_BUDGET = 2**22  # score-matrix entries per chunk when chunk_size is None (16 MiB of float32)
MAX_WORKERS = 4

T = TypeVar("T")


def rows_per_chunk(n_queries: int, n_database: int, chunk_size: int | None) -> int:
    """The chunk height: ``chunk_size``, or as many rows as fit the score budget (a multiple of 8)."""
    if chunk_size is None:
        chunk_size = max(8, SCORE_BUDGET // n_database // 8 * 8)
    return max(1, min(chunk_size, n_queries))


def map_chunks(fn: Callable[[int], T], n_rows: int, chunk: int, *, concurrent: bool = True) -> list[T]:
    """``fn(start)`` for every chunk start, in order.

    After the first chunk (which compiles), a few chunks run at once from a small thread pool: on
    CPU ``lax.top_k`` and ``lax.sort`` run on one core, so one chunk's selection overlaps another's
    matrix product. Memory grows with the number of workers. ``concurrent=False`` runs them one after
    the other, as computations over a mesh must: every process has to launch them in the same order.
    """
    starts = range(0, n_rows, chunk)
    first = [fn(starts[0])]
    workers = min(len(starts) - 1, os.cpu_count() or 1, MAX_WORKERS) if concurrent else 1
    if workers <= 1:
        return first + [fn(start) for start in starts[1:]]
    with ThreadPoolExecutor(workers) as pool:
        return first + list(pool.map(fn, starts[1:]))
