"""A full disk while the pairs are written stops the anonymize stage: one line, no done marker, and the
rerun on a freed disk writes every image."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_anonymize_materialize import full_disk_at

from anonjax.anonymize.materialize import file_name
from anonjax.errors import DatasetError
from anonjax.main import load_config, run
from configs import data as presets

CONFIG = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "anonymize.py"


def study(root: Path):
    config = load_config(CONFIG)
    config.data = presets.folder(str(root), split_ratios=(1.0, 0.0, 0.0))
    a = config.anonymize
    a.splits, a.detectors, a.methods, a.degrees = ("train",), ("codes",), ("mask",), (0.5, 1.0)
    a.keep_empty, a.materialize, a.stats_images, a.workers = True, True, 1, 1
    return config


@pytest.fixture
def cases(tmp_path):
    root = tmp_path / "cases"
    (root / "letters").mkdir(parents=True)
    for i in range(6):
        Image.fromarray(np.full((32, 48, 3), 30 * i, np.uint8)).save(root / "letters" / f"{i}.png")
    return root


def test_a_full_disk_stops_the_stage_and_the_rerun_completes(cases, tmp_path, monkeypatch):
    workdir, config = tmp_path / "work", study(cases)
    with monkeypatch.context() as faulty:
        full_disk_at(faulty, file_name("letters/3.png"))
        with pytest.raises(DatasetError) as stopped:
            run(config, workdir)
    message = str(stopped.value)
    assert "\n" not in message and message.startswith("cannot write ")
    assert "letters%2F3.png.png: No space left on device; free space" in message
    assert not (workdir / "anonymize" / "DONE.json").exists()
    assert run(config, workdir) != "up to date"
    assert (workdir / "anonymize" / "DONE.json").is_file()
    listing = json.loads((workdir / "anonymize" / "pairs" / "pairs_train.json").read_text())
    assert len(listing["ids"]) == 6 and not listing["excluded"]
    assert len(list((workdir / "anonymize" / "pairs" / "mask_50" / "train").glob("*.png"))) == 6
