"""Splitting the query rows into chunks so that memory stays O(chunk x database), never Q x N."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

SCORE_BUDGET = 2**22  # score-matrix entries per chunk when chunk_size is None (16 MiB of float32)
MAX_WORKERS = 4

L = TypeVar("L")
T = TypeVar("T")


def rows_per_chunk(n_queries: int, n_database: int, chunk_size: int | None) -> int:
    """The chunk height: ``chunk_size``, or as many rows as fit the score budget (a multiple of 8)."""
    if chunk_size is None:
        chunk_size = max(8, SCORE_BUDGET // n_database // 8 * 8)
    return max(1, min(chunk_size, n_queries))


def map_chunks(launch: Callable[[int], L], finish: Callable[[int, L], T], n_rows: int, chunk: int, *,
               concurrent: bool = True) -> list[T]:
    """``finish(start, launch(start))`` for every chunk start, in order.

    ``launch`` starts a chunk's jitted kernel (JAX runs it asynchronously) and ``finish`` takes its outputs to
    the host. The first launch runs alone, since it compiles; then a few chunks run at once from a small thread
    pool, the first chunk's finish among them: on the CPU, numpy's selection of one chunk overlaps another's
    matrix product. Memory grows with the number of workers. ``concurrent=False`` runs them one after the
    other, as computations over a mesh must: every process has to launch them in the same order.
    """
    starts = range(0, n_rows, chunk)
    first = launch(starts[0])
    workers = min(len(starts), os.cpu_count() or 1, MAX_WORKERS) if concurrent else 1
    if workers <= 1:
        return [finish(starts[0], first)] + [finish(start, launch(start)) for start in starts[1:]]
    with ThreadPoolExecutor(workers) as pool:
        head = pool.submit(finish, starts[0], first)
        rest = pool.map(lambda start: finish(start, launch(start)), starts[1:])
        return [head.result(), *rest]
