"""The training loop at a tiny size: an interrupted run resumes, on another device layout, to the same parameters
as an uninterrupted one, metrics are written, a non-finite loss stops the run with a clear message."""

import json

import jax
import numpy as np
import pytest
from tiny_study import tiny_train

from anonjax import parallel
from anonjax.data import open_split
from anonjax.data.canvas import FittedImages
from anonjax.ssl import loop
from anonjax.ssl.pipeline import PairSource
from configs import data


@pytest.fixture(scope="module")
def source():
    split = open_split(data.synthetic(train=12, val=0, test=0), "train")
    return PairSource(FittedImages(split.dataset, tiny_train().canvas_size), np.arange(len(split.ids)))


def _fsdp8():
    c = tiny_train()
    c.fsdp = 8
    return c


@pytest.fixture(scope="module")
def uninterrupted(source, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("full")
    state = loop.train(_fsdp8(), run_dir, source, progress=False)
    return run_dir, jax.device_get(state)


@pytest.mark.slow
def test_resume_on_another_layout_reaches_the_same_parameters(source, uninterrupted, tmp_path):
    """Checkpointed with fsdp=8 on 8 devices, resumed with fsdp=4 on 4: the state is restored into the new
    shardings, the data reader continues from its saved state, and the run ends where an uninterrupted one
    does."""
    _, full = uninterrupted
    c = _fsdp8()
    first = loop.train(c, tmp_path, source, stop_at=3, progress=False)  # killed after step 3: checkpoint at 2
    assert any(parallel.FSDP in tuple(x.sharding.spec) for x in jax.tree.leaves(first)), "nothing was split"
    checkpoints = loop.Checkpoints(tmp_path / "checkpoints")
    assert checkpoints.latest_step() == 2
    assert checkpoints.restore(2, first)[1]["reader"] == {"next_index": 2}
    c.fsdp = 4
    mesh = parallel.make_mesh(fsdp=4, devices=jax.devices()[:4])
    resumed = jax.device_get(loop.train(c, tmp_path, source, mesh=mesh, progress=False))
    assert int(resumed["step"]) == int(full["step"]) == 5
    close = lambda rtol, atol: lambda a, b: np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    jax.tree.map(close(1e-5, 1e-8), resumed["teacher"]["backbone"], full["teacher"]["backbone"])  # the export
    # Adam divides each gradient by its running scale, so tiny gradients summed in another order move a
    # parameter by up to ~1e-6 of the learning rate's size; the teacher averages that away.
    jax.tree.map(close(1e-5, 1e-5), resumed, full)
    steps = [json.loads(r)["step"] for r in (tmp_path / "training_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]  # the rows of the lost step 3 were replaced, not duplicated


@pytest.mark.slow
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
