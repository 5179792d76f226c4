"""Where a run's log records go, and the summary that closes the run.

The console keeps what a person watches: one line per stage, the progress bars, warnings (one line each)
and a closing summary. Every record from INFO up, from anonjax and the libraries (orbax, absl, JAX), goes
with a timestamp to ``<workdir>/logs/run.log`` (process ``i > 0`` of a multi-host run: ``run.<i>.log``),
appended run after run. absl's ``--verbosity`` (``-v``)
brings them back to the console as well.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from absl import logging as absl_logging
from tqdm import tqdm

from anonjax.layout import WorkDir
from anonjax.paths import as_path, copy_file, is_local

_NAMES = WorkDir(Path())  # paths relative to the work directory
LOG_FILE = _NAMES.log()


def log_file(process: int = 0) -> Path:
    """The run log of a process, relative to the work directory: ``logs/run.log`` for the main process."""
    return _NAMES.log(process)

REPORT = _NAMES.report_html
UP_TO_DATE = "up to date"  # what a stage returns when it skipped all its work
_SAID = "anonjax_console"  # set on the records of say(): shown whatever the verbosity, as the bare message
_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(filename)s:%(lineno)d] %(message)s"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageRun:
    """One stage of a run: its name, what it did (one line) and its wall time in seconds."""

    name: str
    result: str
    seconds: float


def console_level(verbosity: int) -> int:
    """The lowest level shown on the console: 0 warnings, 1 info, 2 and up debug, below 0 errors only."""
    return max(logging.DEBUG, min(logging.ERROR, logging.WARNING - 10 * verbosity))


class _Console(logging.Handler):
    """One line per record on stderr, written above any open progress bar."""

    def __init__(self, threshold: int, log_file: Path):
        super().__init__()
        self.threshold = threshold
        self.log_file = log_file

    def filter(self, record: logging.LogRecord) -> bool:
        return (record.levelno >= self.threshold or getattr(record, _SAID, False)) and bool(super().filter(record))

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, _SAID, False):
            return record.getMessage()
        first, *more = record.getMessage().splitlines() or [""]
        if more or record.exc_info:
            first += f" (more in {self.log_file})"
        return f"{record.levelname.lower()}: {first}"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def routed_logs(workdir: str | os.PathLike, verbosity: int, name: Path = LOG_FILE) -> Iterator[os.PathLike]:
    """For the duration of a run, send every log record to ``<workdir>/<name>`` and those at the console level
    to the console; yields the log file's path and restores the previous set-up after. On an object store, where
    a file cannot be appended to, the log is kept in a local temporary file and uploaded when the run ends."""
    target = as_path(workdir) / name
    with contextlib.ExitStack() as stack:
        if is_local(target):
            path = Path(target)
        else:
            path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="anonjax-log-"))) / target.name
            stack.callback(copy_file, path, target)
        with _routed(path, verbosity):
            yield target


@contextlib.contextmanager
def _routed(path: Path, verbosity: int) -> Iterator[None]:
    """Log records to the file ``path`` and, at the console level, to the console, for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = console_level(verbosity)
    kept = min(logging.INFO, shown)
    file = logging.FileHandler(path, encoding="utf-8")
    file.setLevel(kept)
    file.setFormatter(logging.Formatter(_FILE_FORMAT))
    root, absl_logger = logging.getLogger(), absl_logging.get_absl_logger()
    saved = root.handlers[:], root.level, absl_logger.level
    for handler in saved[0]:  # e.g. the stderr handler absl installs when a library logs before this
        root.removeHandler(handler)
    root.addHandler(file)
    root.addHandler(_Console(shown, path))
    root.setLevel(kept)
    # absl's --verbosity also sets the level of the logger orbax writes through; let the handlers decide.
    absl_logger.setLevel(logging.NOTSET)
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        file.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        absl_logger.setLevel(saved[2])


def say(line: str) -> None:
    """Show a line on the console whatever the verbosity, and keep it in the run log."""
    log.info("%s", line, extra={_SAID: True}, stacklevel=2)


def duration(seconds: float) -> str:
    """A wall time for people: ``4.2 s``, ``3 min 07 s``, ``2 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def summary(stages: Sequence[StageRun], workdir: str | os.PathLike, log_name: Path = LOG_FILE) -> list[str]:
    """The closing lines of a run: wall time and result per stage (stages skipped because their outputs
    were up to date say so), the total, and where the report and the log are."""
    workdir = as_path(workdir)
    width = max(len("total"), *(len(s.name) for s in stages))
    lines = [f"summary ({workdir}):"]
    for s in stages:
        result = f"skipped, {UP_TO_DATE}" if s.result == UP_TO_DATE else s.result
        lines.append(f"  {s.name:<{width}}  {duration(s.seconds):>11}  {result}")
    lines.append(f"  {'total':<{width}}  {duration(sum(s.seconds for s in stages)):>11}")
    if (workdir / REPORT).exists():
        lines.append(f"report: {workdir / REPORT}")
    lines.append(f"log: {workdir / log_name}")
    return lines
