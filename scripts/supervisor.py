"""Named parts run in worker processes, each under its own time budget, so that a hang or a crash in one part costs
that part only and the results of the others still come back.

A worker is any command that writes event lines, prefixed with :data:`MARK`, on its stdout (:func:`emit`):
``info`` once it has started (with any fields), then for each part ``start``, any number of ``partial`` results
and ``done`` with the part's result. Its other output goes to this process's stderr.

:func:`run_parts` starts a worker for the parts left; a part that overruns its budget, or whose worker ends,
keeps its last partial result with the reason under ``stopped`` (``skipped`` if it had none), and a fresh
worker takes over the parts after it.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

MARK = "@@device_check "  # prefix of a worker's event lines on stdout

_EMIT_LOCK = threading.Lock()


def emit(event: str, **fields) -> None:
    """One event line for the parent on stdout (flushed at once: the parent reads it while the worker runs)."""
    with _EMIT_LOCK:
        sys.stdout.write(MARK + json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


def kill(proc: subprocess.Popen) -> None:
    """End a process started in its own session, and what it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@dataclasses.dataclass
class Worker:
    """A worker process, its event queue and the tail of its stderr."""

    proc: subprocess.Popen
    events: queue.Queue
    stderr_tail: collections.deque
    stderr_reader: threading.Thread


def start_worker(command: list[str], cwd: Path, env: dict[str, str]) -> Worker:
    """Start ``command`` in its own session, its events read into a queue (None once its stdout closes)."""
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    events: queue.Queue = queue.Queue()
    tail: collections.deque = collections.deque(maxlen=20)

    def read_stdout() -> None:
        for line in proc.stdout:
            if line.startswith(MARK):
                events.put(json.loads(line[len(MARK):]))
            else:
                sys.stderr.write(line)
        events.put(None)  # the worker closed its stdout: it ended

    def read_stderr() -> None:
        for line in proc.stderr:
            sys.stderr.write(line)
            tail.append(line.rstrip())

    threading.Thread(target=read_stdout, daemon=True).start()
    stderr_reader = threading.Thread(target=read_stderr, daemon=True)
    stderr_reader.start()
    return Worker(proc, events, tail, stderr_reader)


def _next_event(worker: Worker, until: float) -> dict | None:
    """The worker's next event; None if it ended first; TimeoutError if none came before ``until``."""
    try:
        return worker.events.get(timeout=max(until - time.time(), 0.0))
    except queue.Empty:
        raise TimeoutError from None


def _crash_reason(worker: Worker) -> str:
    worker.proc.wait()
    worker.stderr_reader.join(timeout=5)  # its last lines say why
    tail = " | ".join(list(worker.stderr_tail)[-3:])
    return f"the worker process ended (exit code {worker.proc.returncode}): {tail[-400:]}"


@dataclasses.dataclass(frozen=True)
class Budgets:
    """Seconds: per part, to start a worker, and the least left for a part to be started at all."""

    parts: dict[str, float]
    startup: float
    min_part: float


def run_parts(command: Callable[[list[str]], list[str]], parts: list[str], deadline: float, budgets: Budgets,
              cwd: Path, env: dict[str, str], spent_reason: str) -> tuple[dict | None, dict[str, dict]]:
    """Run ``parts`` in order in workers (``command(parts)`` starts one for the parts given) until ``deadline``
    (epoch seconds); returns the first worker's ``info`` fields and each part's result, with ``wall_s``.
    Parts not started before the deadline are skipped with ``spent_reason``."""
    info: dict | None = None
    results: dict[str, dict] = {}
    pending = list(parts)
    while pending:
        if deadline - time.time() < budgets.min_part:
            for part in pending:
                results[part] = {"skipped": spent_reason, "wall_s": 0.0}
            break
        worker = start_worker(command(pending), cwd, env)
        try:
            started = _follow(worker, pending, deadline, budgets, results)
        finally:
            if worker.proc.poll() is None:
                kill(worker.proc)
        if started is not None:
            info = info or started
        pending = [part for part in pending if part not in results]
    return info, results


def _follow(worker: Worker, pending: list[str], deadline: float, budgets: Budgets,
            results: dict[str, dict]) -> dict | None:
    """Collect a worker's events into ``results`` until it ends, a part overruns or every part is done; returns
    its ``info`` fields (None, and every pending part skipped, if it did not start)."""
    try:
        info = _next_event(worker, min(time.time() + budgets.startup, deadline))
    except TimeoutError:
        info = {"event": "timeout"}
    if info is None or info.get("event") != "info":
        reason = _crash_reason(worker) if info is None else "the worker did not start in time"
        for part in pending:
            results[part] = {"skipped": reason, "wall_s": 0.0}
        return None
    fields = {key: value for key, value in info.items() if key != "event"}
    part, started, partial = None, 0.0, None
    while any(p not in results for p in pending):
        until = deadline if part is None else min(started + budgets.parts[part], deadline)
        try:
            event = _next_event(worker, until)
        except TimeoutError:
            reason = f"ran past its time budget of {until - started:.0f} s"
            stopped = {"stopped": reason} if partial else {"skipped": reason}  # finished pieces are kept
            results[part] = {**(partial or {}), **stopped, "wall_s": time.time() - started}
            return fields
        if event is None:
            if part is not None:
                reason = _crash_reason(worker)
                stopped = {"stopped": reason} if partial else {"skipped": reason}
                results[part] = {**(partial or {}), **stopped, "wall_s": time.time() - started}
            return fields
        if event["event"] == "start":
            part, started, partial = event["part"], time.time(), None
        elif event["event"] == "partial":
            partial = event["result"]
        elif event["event"] == "done":
            results[part] = event["result"]
            part = None
    return fields
