"""The whole study at a tiny size: anonymize -> train -> embed -> evaluate -> report, then a rerun that redoes
nothing, through the same entry point as ``python -m anonjax.main``."""

import csv
import logging
from pathlib import Path

import pytest

from anonjax.main import load_config, run

DEMO = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "demo.py"


def _tiny_demo():
    config = load_config(DEMO)
    config.data.sizes = {"train": 24, "val": 22, "test": 0}
    config.grid.methods = ("mask",)
    config.grid.degrees = (1.0,)
    config.grid.adaptations = ("A",)
    config.anonymize.stats_images = 2
    config.anonymize.workers = 1
    config.train.batch_size = 8
    config.train.epochs = 2
    config.train.steps_per_epoch = 2
    config.train.checkpoint_every = 2
    config.train.canvas_size = 64
    config.embed.image_size = 64
    config.embed.batch_size = 8
    config.embed.attention_images = 1
    config.evaluate.n_bootstrap = 20
    return config


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    run(_tiny_demo(), workdir)
    return workdir


def test_contract_files(workdir):
    assert (workdir / "report" / "index.html").is_file()
    assert (workdir / "report" / "report.md").is_file()
    with open(workdir / "results" / "scenarios.csv") as f:
        rows = list(csv.DictReader(f))
    # Unadapted, the control and Adaption A, one method, one degree, two query kinds; then each model without
    # anonymization.
    assert [(r["model"], r["method"], r["queries"]) for r in rows] == [
        ("unadapted", "mask", "original"), ("unadapted", "mask", "anonymized"), ("control", "mask", "original"),
        ("control", "mask", "anonymized"), ("A", "mask", "original"), ("A", "mask", "anonymized"),
        ("unadapted", "none", "original"), ("control", "none", "original"), ("A", "none", "original")]
    assert [float(r["degree"]) for r in rows] == [1.0] * 6 + [0.0] * 3
    assert all(0.0 <= float(r[key]) <= 1.0 for r in rows for key in ("map", "mndcg", "map_chance"))
    unadapted = rows[6]
    assert float(unadapted["map"]) == float(unadapted["mndcg"]) == 1.0  # its own ground truth, exactly
    assert float(rows[7]["map"]) < 1.0  # the control, trained with another seed, retrieves differently
    assert len({r["map_chance"] for r in rows}) == 1  # one ground truth, one chance level


def test_report_holds_every_part(workdir):
    text = (workdir / "report" / "report.md").read_text()
    for part in ("## What this means", "## Results", "With anonymized query images", "## Anonymization",
                 "## Attention maps", "## Training", "Reference, keep the original embeddings",
                 "## Scale of this study", "trained from scratch for 4 steps of 8 images", "toy scale",
                 "*Random ranking (chance)*", "Retraining alone moves a model"):
        assert part in text
    html = (workdir / "report" / "index.html").read_text()
    figures = [line.split('src="')[1].split('"')[0] for line in html.splitlines() if '<img src="' in line]
    assert figures and all((workdir / "report" / f).is_file() for f in figures)


def test_embeddings_rows_align_across_variants(workdir):
    import json

    root = workdir / "embeddings"
    ids = json.loads((root / "unadapted" / "original" / "val.ids.json").read_text())
    for variant in ("original", "mask_100"):
        assert json.loads((root / "A_mask_100" / variant / "val.ids.json").read_text()) == ids


def test_rerun_redoes_nothing(workdir, caplog):
    before = {p: p.stat().st_mtime_ns for p in (workdir / "embeddings").rglob("*.npy")}
    with caplog.at_level(logging.INFO):
        run(_tiny_demo(), workdir)
    for message in ("anonymize: outputs for this config and these files exist", "train: every model is finished",
                    "embed: embeddings in", "evaluate: results in"):
        assert message in caplog.text
    assert before == {p: p.stat().st_mtime_ns for p in (workdir / "embeddings").rglob("*.npy")}
