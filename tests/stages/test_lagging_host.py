"""A host whose file system lags behind follows the main process: one decides, all follow (``anonjax.hosts``)."""

import csv
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_study import tiny_demo

from anonjax.main import run

pytestmark = pytest.mark.slow  # two processes: the inner loop (-m 'not slow') skips this file

TIMEOUT_S = 240  # a deadlock shows as a timeout, never as a hung suite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_a_host_that_sees_a_stale_done_marker_follows_the_main_process(tmp_path):
    """Process 1 reads the evaluate stage's DONE.json as complete while process 0 finds none: both evaluate, exit
    0 and leave the results one process gives."""
    config = tiny_demo()
    config.stages = "evaluate"
    config.evaluate.embeddings = "builtin"
    run(config, tmp_path / "one")

    two = tmp_path / "two"
    worker = Path(__file__).with_name("multihost_worker.py")
    flags = re.sub(r"device_count=\d+", "device_count=4", os.environ["XLA_FLAGS"])
    tests = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(tests.parent), str(tests), *filter(None, [os.environ.get("PYTHONPATH")])])
    port = str(_free_port())
    workers = [subprocess.Popen([sys.executable, str(worker), "lagging", str(two), port, str(i), "2", "results"],
                                env={**os.environ, "XLA_FLAGS": flags, "PYTHONPATH": path}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = []
    try:
        for w in workers:
            logs.append(w.communicate(timeout=TIMEOUT_S)[0])
    except subprocess.TimeoutExpired:
        for w in workers:
            w.kill()
        logs = [w.communicate()[0] for w in workers]
        pytest.fail("the processes hung (killed after the timeout):\n" + "\n".join(log[-3000:] for log in logs))
    assert [w.returncode for w in workers] == [0, 0], "\n".join(log[-3000:] for log in logs)
    for log in logs:
        assert re.search(r"^stage evaluate: \d+ scenarios", log, re.MULTILINE), log[-3000:]
    one_rows, two_rows = _rows(tmp_path / "one" / "results" / "scenarios.csv"), _rows(two / "results" / "scenarios.csv")
    assert [r["model_name"] + r["method"] + r["queries"] for r in two_rows] == \
        [r["model_name"] + r["method"] + r["queries"] for r in one_rows]
    for a, b in zip(one_rows, two_rows, strict=True):
        for metric in ("map", "mndcg", "linkage"):
            assert float(b[metric] or 0) == pytest.approx(float(a[metric] or 0), abs=1e-5), (a, b)
