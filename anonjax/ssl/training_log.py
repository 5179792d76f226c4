"""The training log: losses and schedules per logged step, to a JSONL file and TensorBoard event files."""

from __future__ import annotations

import json
from pathlib import Path

from tensorboardX import SummaryWriter

from anonjax.paths import as_path


class TrainingLog:
    """Appends one JSON row per logged step to ``<run_dir>/training_log.jsonl`` and the same scalars to
    TensorBoard under ``<run_dir>/tensorboard``. Rows past ``resume_step`` (written by a run that was
    interrupted before its next checkpoint) are dropped first, so the file tells one consistent history."""

    def __init__(self, run_dir: str | Path, *, resume_step: int = 0):
        run_dir = as_path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "training_log.jsonl"
        if self.path.exists():
            rows = [r for r in self.path.read_text().splitlines() if r.strip()]
            kept = [r for r in rows if json.loads(r)["step"] <= resume_step]
            self.path.write_text("".join(r + "\n" for r in kept))
        self._file = self.path.open("a", encoding="utf-8")
        self._tb = SummaryWriter(str(run_dir / "tensorboard"))

    def write(self, step: int, scalars: dict[str, float]) -> None:
        row = {"step": int(step), **{k: float(v) for k, v in scalars.items()}}
        self._file.write(json.dumps(row, sort_keys=True) + "\n")
        self._file.flush()
        for key, value in scalars.items():
            self._tb.add_scalar(f"train/{key}", float(value), int(step))

    def close(self) -> None:
        self._file.close()
        self._tb.close()
