"""An ordered ``map`` over worker processes that goes on when a worker is killed.

``multiprocessing.Pool`` waits forever for the result of a worker that died (the kernel's out-of-memory killer
sends SIGKILL), so a run would hang. ``concurrent.futures`` notices the death, but fails every task in flight
with ``BrokenProcessPool``, not only the dead worker's. Here at most two tasks per worker are in flight; when
the pool breaks, each of them that has no result yet runs again alone in a fresh process: one that kills its
process alone gives ``died(item)``, the others their results, and the map goes on in a fresh pool.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any


class WorkerPool:
    """``workers`` spawned processes, each prepared by ``initializer(*initargs)``; ``close`` ends them."""

    def __init__(self, workers: int, initializer: Callable[..., None], initargs: tuple,
                 died: Callable[[Any], Any]):
        self.workers, self._initializer, self._initargs, self._died = workers, initializer, initargs, died
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn(item)`` for every item, in order; ``died(item)`` for an item whose process was killed."""
        items = iter(items)
        window: deque[tuple[Any, Future]] = deque()
        while True:
            while len(window) < 2 * self.workers and (item := next(items, _END)) is not _END:
                window.append((item, self._running().submit(fn, item)))
            if not window:
                return
            if not isinstance(window[0][1].exception(), BrokenProcessPool):
                yield window.popleft()[1].result()
                continue
            self.close()  # a worker died: which task it held is unknown, so each unfinished one runs alone
            for item, future in window:
                yield future.result() if _finished(future) else self._alone(fn, item)
            window.clear()

    def close(self) -> None:
        """End the processes (each finishes the task it holds)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _running(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = self._start(self.workers)
        return self._pool

    def _start(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), self._initializer, self._initargs)

    def _alone(self, fn: Callable[[Any], Any], item: Any) -> Any:
        """``fn(item)`` in a process of its own, or ``died(item)`` when that process is killed."""
        with self._start(1) as pool:
            try:
                pool.submit(_ready).result()
            except BrokenProcessPool:  # the initializer failed (its traceback is logged): no item is to blame
                raise RuntimeError("a worker process could not start; see the error logged above") from None
            try:
                return pool.submit(fn, item).result()
            except BrokenProcessPool:
                return self._died(item)


_END = object()


def _finished(future: Future) -> bool:
    """Whether ``future`` holds a result (it ran to the end before its pool broke)."""
    return future.done() and not future.cancelled() and future.exception() is None


def _ready() -> None:
    """A task that only shows that a process started."""
