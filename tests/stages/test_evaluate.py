"""The evaluate stage on the built-in embedding set and on a user's directory."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from anonjax import layout
from anonjax.main import load_config, run
from anonjax.retrieval import evaluate_scenario
from anonjax.synthetic_embeddings import write_synthetic_embeddings

CONFIG = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "evaluate.py"


def _config(embeddings="builtin", degrees=(1.0,), methods=("pixel", "mask")):
    config = load_config(CONFIG)
    config.evaluate.embeddings = embeddings
    config.evaluate.n_bootstrap = 50
    config.grid.degrees = degrees
    config.grid.methods = methods
    return config


@pytest.fixture(scope="module")
def builtin_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("evaluate")
    run(_config(), workdir)
    return workdir


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_scenarios_csv_contract(builtin_run):
    rows = _rows(builtin_run / "results" / "scenarios.csv")
    # 4 models (Unadapted, A, B, C) x 2 methods x 1 degree x 2 query kinds.
    assert len(rows) == 16
    assert {r["model"] for r in rows} == {"unadapted", "A", "B", "C"}
    assert {r["queries"] for r in rows} == {"original", "anonymized"}
    for r in rows:
        for key in ("map", "mndcg", "linkage"):
            assert 0.0 <= float(r[key]) <= 1.0
        assert float(r["map_low"]) <= float(r["map"]) <= float(r["map_high"])
    assert (builtin_run / "results" / "correlation_100.png").is_file()
    assert "With anonymized query images" in (builtin_run / "results" / "tables.md").read_text()


def test_rows_equal_direct_evaluation(builtin_run):
    """A row of the CSV is the metric computed directly from the embedding files."""
    root = builtin_run / "builtin_embeddings"
    gt, _ = layout.load_embeddings(root, "unadapted", "original", "val")
    db, _ = layout.load_embeddings(root, "A_mask_100", "mask_100", "val")
    queries, _ = layout.load_embeddings(root, "A_mask_100", "original", "val")
    direct = evaluate_scenario(gt, gt, queries, db, n_bootstrap=50)
    row = next(r for r in _rows(builtin_run / "results" / "scenarios.csv")
               if (r["model"], r["method"], r["queries"]) == ("A", "mask", "original"))
    assert float(row["map"]) == pytest.approx(direct.map, abs=1e-9)
    assert float(row["mndcg"]) == pytest.approx(direct.mndcg, abs=1e-9)


def test_rerun_is_skipped_and_changed_config_recomputes(builtin_run, caplog):
    before = (builtin_run / "results" / "scenarios.csv").stat().st_mtime_ns
    with caplog.at_level("INFO"):
        run(_config(), builtin_run)
    assert "up to date" in caplog.text
    assert (builtin_run / "results" / "scenarios.csv").stat().st_mtime_ns == before
    config = _config()
    config.evaluate.fraction = 0.1
    run(config, builtin_run)
    assert (builtin_run / "results" / "scenarios.csv").stat().st_mtime_ns != before


def test_user_directory_with_missing_model_and_misaligned_rows(tmp_path):
    root = tmp_path / "emb"
    write_synthetic_embeddings(root, methods=("blur",), adaptations=("A", "B"), splits=(("train", 60), ("val", 40)))
    shutil.rmtree(root / "B_blur_100")
    config = _config(str(root), methods=("blur",))
    config.evaluate.probes = False
    run(config, tmp_path / "w")
    rows = _rows(tmp_path / "w" / "results" / "scenarios.csv")
    assert {r["model"] for r in rows} == {"unadapted", "A"}

    ids = layout.ids_path(layout.embedding_path(root, "A_blur_100", "blur_100", "val"))
    ids.write_text(json.dumps(list(reversed(json.loads(ids.read_text())))))
    config.evaluate.fraction = 0.2  # a new fingerprint, so the stage runs again
    with pytest.raises(ValueError, match="not the images of the Unadapted original embeddings"):
        run(config, tmp_path / "w")


def test_unadapted_required(tmp_path):
    root = tmp_path / "emb"
    write_synthetic_embeddings(root, methods=("blur",), adaptations=(), splits=(("val", 30),))
    shutil.rmtree(root / "unadapted" / "blur_100")
    config = _config(str(root), methods=("blur",))
    with pytest.raises(FileNotFoundError, match="Unadapted model has no blur_100 embeddings of val"):
        run(config, tmp_path / "w")


def test_builtin_set_is_deterministic(tmp_path):
    write_synthetic_embeddings(tmp_path / "a", methods=("mask",), splits=(("val", 20),))
    write_synthetic_embeddings(tmp_path / "b", methods=("mask",), splits=(("val", 20),))
    a, _ = layout.load_embeddings(tmp_path / "a", "C_mask_100", "mask_100", "val")
    b, _ = layout.load_embeddings(tmp_path / "b", "C_mask_100", "mask_100", "val")
    np.testing.assert_array_equal(a, b)
