"""The command line: wrong flags and config values stop with one message that names them. The error cases call
``anonjax.main.main`` in this process; one pair of ``python -m anonjax.main`` runs checks the command line
itself."""

import subprocess
import sys
from pathlib import Path

import pytest

from anonjax import main

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "ml_collections_configs/evaluate.py"


def _cli(*args, workdir):
    return subprocess.run([sys.executable, "-m", "anonjax.main", *args, f"--workdir={workdir}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--config.evaluate.fraction=1.5", "config.evaluate.fraction: must be a fraction in (0, 1], got 1.5"),
        ("--config.evaluate.fraction=0.0", "config.evaluate.fraction: must be a fraction in (0, 1]"),
        ("--config.grid.methods=pixel,smudge", "config.grid.methods: 'smudge' is not one of"),
        ("--config.grid.degrees=0.5,2", "config.grid.degrees: every value must be a fraction in (0, 1], got 2"),
        ("--config.stages=evaluate,dance", "config.stages: unknown stage(s) ['dance']"),
        ("--config.evaluate.embeddings=/no/such/dir", "config.evaluate.embeddings: directory '/no/such/dir' does not"),
        ("--config.evaluate.nope=1", "unknown config key 'nope' in --config.evaluate.nope=1"),
    ],
)
def test_bad_config_stops_before_work(in_process, tmp_path, override, message):
    result = in_process(f"--config={CONFIG}", override, workdir=tmp_path / "w")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w" / "results").exists()


def test_missing_config_file(in_process, tmp_path):
    result = in_process("--config=ml_collections_configs/nope.py", workdir=tmp_path)
    assert result.returncode != 0
    assert "No such file or directory" in result.stderr and "Traceback" not in result.stderr


def _folder(root: Path, per_class: int) -> Path:
    import numpy as np
    from PIL import Image

    for c in ("letters", "forms"):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((40, 30, 3), 20 * i, np.uint8)).save(root / c / f"{i}.png")
    return root


@pytest.mark.slow
@pytest.mark.parametrize(("case", "message"), [
    ("empty val split", "split 'val' is empty: data.split_ratios (0.8, 0.1, 0.1) give it no image of the 2 classes"),
    ("missing box cache", "split 'train' has no detections with anonymize.detectors=('codes',)"),
])
def test_bad_data_stops_with_one_line_naming_it(in_process, tmp_path, case, message):
    root = _folder(tmp_path / "cases", 6)
    overrides = [f"--config.data.root={root}", "--config.anonymize.detectors=codes"]
    if case == "missing box cache":
        overrides += ["--config.stages=embed", "--config.embed.splits=train"]
    result = in_process("--config=ml_collections_configs/folder.py", *overrides, workdir=tmp_path / "w")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The evaluate study run twice in one work directory: quiet, then up to date with ``--verbosity=1``."""
    workdir = tmp_path_factory.mktemp("console") / "w"
    first = _cli(f"--config={CONFIG}", workdir=workdir)
    second = _cli(f"--config={CONFIG}", "--verbosity=1", workdir=workdir)
    return workdir, first, second


@pytest.mark.slow
def test_quiet_console_keeps_stage_lines_warnings_and_summary(two_runs):
    workdir, first, _ = two_runs
    assert first.returncode == 0, first.stderr[-2000:]
    shown = (first.stdout + first.stderr).splitlines()
    assert not [line for line in shown if "INFO" in line or line.startswith(("info:", "I0", "I1"))]
    assert not [line for line in shown if line.startswith("evaluate: ")]  # stage INFO lines are in the run log
    assert "stage 1/2: evaluate" in shown and "stage 2/2: report" in shown
    assert f"summary ({workdir}):" in shown
    timed = {line.split()[0]: line.split()[1:3] for line in shown if line.startswith("  ")}
    assert set(timed) == {"evaluate", "report", "total"}
    assert all(float(t[0]) >= 0 and t[1] == "s" for t in timed.values())
    assert f"report: {workdir / 'report' / 'index.html'}" in shown
    assert shown[-1] == f"log: {workdir / 'logs' / 'run.log'}"


@pytest.mark.slow
def test_run_log_keeps_the_info_lines_of_every_run(two_runs):
    workdir, _, _ = two_runs
    kept = (workdir / "logs" / "run.log").read_text()
    assert kept.count("INFO anonjax main.py") == 2  # one "run with arguments" line per run
    assert "INFO anonjax.retrieval.study_grid" in kept and " mAP " in kept
    assert kept.count("stage 1/2: evaluate") == 2


def test_second_run_is_up_to_date_and_verbosity_shows_info(two_runs):
    _, _, second = two_runs
    assert second.returncode == 0, second.stderr[-2000:]
    shown = second.stderr.splitlines()
    assert any(line.split()[:1] == ["evaluate"] and line.endswith("skipped, up to date") for line in shown)
    assert [line for line in shown if line.startswith("info: evaluate: results in")]


def test_stage_results_are_optional(monkeypatch, tmp_path):
    import types

    import ml_collections

    for name, result in (("evaluate", None), ("report", "wrote 3 tables")):
        stage = types.SimpleNamespace(validate=lambda config: None, run=lambda config, workdir, r=result: r)
        monkeypatch.setitem(sys.modules, f"anonjax.stages.{name}", stage)
    done = main.run(ml_collections.ConfigDict({"stages": "evaluate,report"}), tmp_path)
    assert [(s.name, s.result) for s in done] == [("evaluate", "done"), ("report", "wrote 3 tables")]
