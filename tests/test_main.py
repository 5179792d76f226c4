"""The command line: wrong flags and config values stop with one message that names them."""

import subprocess
import sys
from pathlib import Path

import pytest

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
def test_bad_config_stops_before_work(tmp_path, override, message):
    result = _cli(f"--config={CONFIG}", override, workdir=tmp_path / "w")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w" / "results").exists()


def test_missing_config_file(tmp_path):
    result = _cli("--config=ml_collections_configs/nope.py", workdir=tmp_path)
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


@pytest.mark.parametrize(("case", "message"), [
    ("empty val split", "split 'val' is empty: data.split_ratios (0.8, 0.1, 0.1) give it no image of the 2 classes"),
    ("damaged box cache", "is missing or unreadable: run the anonymize stage for split 'train'"),
])
def test_bad_data_stops_with_one_line_naming_it(tmp_path, case, message):
    root = _folder(tmp_path / "cases", 6)
    overrides = [f"--config.data.root={root}", "--config.anonymize.detectors=codes"]
    if case == "damaged box cache":
        overrides += ["--config.stages=embed", "--config.embed.splits=train"]
    result = _cli("--config=ml_collections_configs/folder.py", *overrides, workdir=tmp_path / "w")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
