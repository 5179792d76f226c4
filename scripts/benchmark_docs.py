"""docs/benchmarks.md, written by the benchmark scripts: with ``--write-docs`` a script replaces its own section
with what it printed, the machine, the date and its command line, so that every figure there says where it
came from and none is edited by hand."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import io
import os
import platform
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

from anonjax.files import save_text

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Written by the benchmark scripts in `scripts/`: each section is replaced by its script run with `--write-docs`,
and gives the machine, the date and the command line that produced it. Do not edit it by hand; rerun the command
on your hardware instead. Where a full-size run takes too long on the machine that wrote a section, the command
line shows the smaller sizes it used. Each script runs anonjax and a well-known peer in the same process, the
sides alternating round by round, and keeps each side's best round; on a shared or virtual machine, ratios within
about 15 % of 1 are ties.
"""
PACKAGES = ("jax", "jaxlib", "numpy", "faiss-cpu", "torch", "opencv-python-headless", "onnxruntime")


def add_flag(parser: argparse.ArgumentParser) -> None:
    """The ``--write-docs`` option every benchmark script takes."""
    parser.add_argument("--write-docs", action="store_true",
                        help=f"replace this script's section of {DOCS.relative_to(DOCS.parents[1])} with this run")


def machine() -> str:
    """CPU model, cores, memory, OS, Python and the versions of the packages that compute."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        model = found.group(1).strip() if found else model
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = []
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{name} {importlib.metadata.version(name)}")
    return (f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}; {', '.join(versions)}")


def section(name: str, title: str, command: str, output: str, load: tuple[float, float]) -> str:
    """One section of the page: its markers, title, provenance (with the 1-minute load average at the run's start
    and end: other work on the machine slows either side) and the output as printed."""
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!-- begin {name} -->\n## {title}\n\n- machine: {machine()}\n- date: {date}\n"
            f"- load average at start and end: {load[0]:.1f}, {load[1]:.1f}\n"
            f"- command: `{command}`\n\n```text\n{output.rstrip()}\n```\n<!-- end {name} -->\n")


def replace_section(page: str, name: str, text: str) -> str:
    """``page`` with section ``name`` replaced by ``text``, or ``text`` appended where there was none."""
    pattern = re.compile(rf"<!-- begin {re.escape(name)} -->\n.*?<!-- end {re.escape(name)} -->\n", re.S)
    if pattern.search(page):
        return pattern.sub(lambda _: text, page, count=1)
    return page.rstrip("\n") + "\n\n" + text


@contextlib.contextmanager
def recorded(name: str, title: str, write: bool, path: Path = DOCS) -> Iterator[None]:
    """Print as usual; with ``write``, also replace section ``name`` of ``path`` with what was printed once the
    block finishes (a run that fails writes nothing)."""
    if not write:
        yield
        return
    buffer = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, text: str) -> int:
            buffer.write(text)
            return stdout.write(text)

        def flush(self) -> None:
            stdout.flush()

    stdout = sys.stdout
    start_load = os.getloadavg()[0]
    with contextlib.redirect_stdout(Tee()):
        yield
    args = [arg for arg in sys.argv[1:] if arg != "--write-docs"]
    command = shlex.join(["python", "-m", f"scripts.{name}", *args])
    page = path.read_text() if path.exists() else HEADER
    text = section(name, title, command, buffer.getvalue(), (start_load, os.getloadavg()[0]))
    save_text(path, replace_section(page, name, text))
