"""The training loop at a tiny size: an interrupted run resumes to the same parameters as an uninterrupted
one, metrics are written, a non-finite loss stops the run with a clear message."""

import json

import jax
import numpy as np
import pytest
from ssl_tiny_config import tiny_train

from anonjax.data import open_split
from anonjax.data.canvas import FittedImages
from anonjax.ssl import loop
from anonjax.ssl.pipeline import PairSource
from configs import data


@pytest.fixture(scope="module")
def source():
    split = open_split(data.synthetic(train=12, val=0, test=0), "train")
    return PairSource(FittedImages(split.dataset, tiny_train().canvas_size), np.arange(len(split.ids)))


@pytest.fixture(scope="module")
def uninterrupted(source, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("full")
    state = loop.train(tiny_train(), run_dir, source, progress=False)
    return run_dir, jax.device_get(state)


def test_resume_reaches_the_same_parameters(source, uninterrupted, tmp_path):
    _, full = uninterrupted
    c = tiny_train()
    loop.train(c, tmp_path, source, stop_at=3, progress=False)  # killed after step 3: checkpoint at 2
    assert loop.Checkpoints(tmp_path / "checkpoints").latest_step() == 2
    resumed = jax.device_get(loop.train(c, tmp_path, source, progress=False))
    assert int(resumed["step"]) == int(full["step"]) == 5
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), resumed, full)
    steps = [json.loads(r)["step"] for r in (tmp_path / "training_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]  # the rows of the lost step 3 were replaced, not duplicated


def test_metrics_and_export(uninterrupted):
    run_dir, full = uninterrupted
    rows = [json.loads(r) for r in (run_dir / "training_log.jsonl").read_text().splitlines()]
    for key in ("loss", "dino_local", "dino_global", "koleo", "ibot", "lr", "weight_decay", "teacher_momentum",
                "teacher_temp", "images_per_s"):
        assert all(np.isfinite(r[key]) for r in rows), key
    assert rows[0]["teacher_temp"] < rows[-1]["teacher_temp"]  # warming up from 0.04
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    params, cfg = loop.load_backbone(run_dir)
    assert cfg.name == "vit_tiny16"
    jax.tree.map(np.testing.assert_array_equal, params, full["teacher"]["backbone"])


def test_non_finite_loss_names_the_step_and_terms(tmp_path):
    checkpoints = loop.Checkpoints(tmp_path / "checkpoints")
    good = {"loss": 1.0, "dino_local": 0.5, "dino_global": 0.3, "koleo": 0.1, "ibot": 0.1, "lr": 0.1}
    loop.check_finite([(7, good)], checkpoints)
    bad = {**good, "loss": float("nan"), "ibot": float("inf")}
    with pytest.raises(loop.NonFiniteLoss, match=r"non-finite loss at step 8: .*ibot=inf.*loss=nan"):
        loop.check_finite([(7, good), (8, bad), (9, bad)], checkpoints)
    checkpoints.close()
