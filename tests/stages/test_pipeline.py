"""The whole study at a tiny size: anonymize -> train -> embed -> evaluate -> report, then a rerun that redoes
nothing, through the same entry point as ``python -m anonjax.main``."""

import csv
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_study import tiny_demo

from anonjax.main import run

pytestmark = pytest.mark.slow  # the inner loop (-m 'not slow') skips this file


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    run(tiny_demo(), workdir)
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
                 "## Scale of this study", "trained from scratch for 20 steps of 8 images", "toy scale",
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
        run(tiny_demo(), workdir)
    for message in ("anonymize: outputs for this config and these files exist", "train: every model is finished",
                    "embed: embeddings in", "evaluate: results in"):
        assert message in caplog.text
    assert before == {p: p.stat().st_mtime_ns for p in (workdir / "embeddings").rglob("*.npy")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _arrays(root: Path, pattern: str) -> dict[str, np.ndarray]:
    return {str(p.relative_to(root)): np.load(p) for p in sorted(root.rglob(pattern))}


def _rows(path: Path, models: set[str]) -> list[dict]:
    """The rows of the CSV file ``path`` whose ``model`` is one of ``models``."""
    with open(path) as f:
        return [r for r in csv.DictReader(f) if r["model"] in models]


def test_two_processes_give_what_one_process_gives(workdir, tmp_path):
    """Two processes of 4 devices each (``jax.distributed`` over localhost, CPU collectives) train, embed,
    evaluate, measure privacy and report as this process with 8 devices did: the Unadapted model and Adaptation A
    (its images anonymized on the devices at every step) with the same batches, masks and crops for 20 steps, the
    same rows, the same scores; the linear probe is fitted by the main process alone and the privacy sample is
    split over both, with the same measures as one process took."""
    import jax
    from multihost_worker import IMAGE_MEASURED, PROBE_FITTED

    assert jax.device_count() == 8
    two = tmp_path / "two"
    shutil.copytree(workdir / "anonymize", two / "anonymize")
    flags = re.sub(r"device_count=\d+", "device_count=4", os.environ["XLA_FLAGS"])
    command = [sys.executable, str(Path(__file__).with_name("multihost_worker.py")), str(two), str(_free_port())]
    # The workers import this checkout's anonjax and the tiny study beside this file's folder.
    tests = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(tests.parent), str(tests), *filter(None, [os.environ.get("PYTHONPATH")])])
    workers = [subprocess.Popen([*command, str(i), "2", "train", "embed", "evaluate", "privacy", "report"],
                                env={**os.environ, "XLA_FLAGS": flags, "PYTHONPATH": path}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [w.communicate(timeout=900)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(log[-3000:] for log in logs)

    two_backbones = _arrays(two / "train", "teacher_backbone.npz")
    assert sorted(two_backbones) == ["A_mask_100/teacher_backbone.npz", "unadapted/teacher_backbone.npz"]
    for name, trained in two_backbones.items():
        with np.load(workdir / "train" / name) as one:
            for key in one.files:
                # atol: Adam turns rounding noise in a zero gradient (the attention's key bias) into steps of
                # the learning rate's size; every parameter with a real gradient agrees to rtol 1e-5.
                np.testing.assert_allclose(trained[key], one[key], rtol=1e-5, atol=1e-5, err_msg=f"{name} {key}")
    two_embeddings = _arrays(two / "embeddings", "*.npy")
    assert len(two_embeddings) == 10  # 2 models x 2 variants x 2 splits, and the labels of each split
    for name, embedded in two_embeddings.items():
        np.testing.assert_allclose(embedded, np.load(workdir / "embeddings" / name), rtol=1e-4, atol=1e-5,
                                   err_msg=name)
    for ids in (two / "embeddings").rglob("*.ids.json"):
        assert ids.read_text() == (workdir / ids.relative_to(two)).read_text()
    models = {"unadapted", "A"}  # the control is left out of the two-process run
    one_rows, two_rows = (_rows(w / "results" / "scenarios.csv", models) for w in (workdir, two))
    assert [r["model_name"] + r["method"] + r["queries"] for r in two_rows] == \
        [r["model_name"] + r["method"] + r["queries"] for r in one_rows]
    for a, b in zip(one_rows, two_rows, strict=True):
        for metric in ("map", "mndcg", "linkage"):
            assert float(b[metric] or 0) == pytest.approx(float(a[metric] or 0), abs=1e-5), (a, b)
    one_probes, two_probes = (_rows(w / "results" / "downstream.csv", models) for w in (workdir, two))
    assert len(two_probes) == 2 and two_probes == one_probes
    assert [log.count(PROBE_FITTED) for log in logs] == [2, 0]  # once, by the main process

    assert [log.count(IMAGE_MEASURED) for log in logs] == [1, 1]  # the sample of 2 images split over both
    one_measures, two_measures = (json.loads((w / "privacy" / "measures.json").read_text()) for w in (workdir, two))
    assert two_measures == one_measures
    one_privacy, two_privacy = (_rows(w / "results" / "privacy.csv", models) for w in (workdir, two))
    assert len(two_privacy) == 2
    for a, b in zip(one_privacy, two_privacy, strict=True):
        linkage = [c for c in a if c.startswith("linkage")]
        assert {c: b[c] for c in b if c not in linkage} == {c: a[c] for c in a if c not in linkage}
        for c in linkage:
            assert float(b[c] or 0) == pytest.approx(float(a[c] or 0), abs=1e-5), (c, a, b)
    assert (two / "report" / "index.html").is_file()
