"""Gradient accumulation is exact: one step of a batch equals the step of its micro-batches (float32, Sinkhorn-Knopp
targets, iBOT masks and drop path on), and it is exact because the teacher's targets span the whole batch."""

import functools

import jax
import numpy as np
import pytest
from tiny_study import tiny_train

from anonjax.ssl import meta_arch, step
from anonjax.ssl.loop import backbone_config, ssl_config
from anonjax.ssl.masking import batch_masks
from anonjax.ssl.optimizer import make_optimizer
from anonjax.ssl.schedules import make_schedules
from anonjax.ssl.state import init_state, init_student

BATCH, GROUP = 8, 2


def _train():
    c = tiny_train()
    c.batch_size, c.group_size = BATCH, GROUP
    c.centering = "sinkhorn_knopp"
    c.drop_path_rate, c.drop_path_uniform = 0.4, True  # above 0.1: the official batch-subset drop path
    c.optim.warmup_epochs = 0.0  # a learning rate above 0 from the first step
    # Small heads: at the tiny study's own head sizes one element of 16,384 ended 3e-5 apart (AdamW makes a step of
    # about the learning rate of a gradient near zero, whatever order its float32 parts were summed in).
    for head in (c.dino, c.ibot):
        head.n_prototypes, head.hidden_dim, head.bottleneck_dim = 32, 32, 16
    return c


@pytest.fixture(scope="module")
def views():
    c = _train()
    rng = np.random.default_rng(0)
    g, side = c.crops.global_size, c.crops.global_size // 16
    masks = batch_masks((0, 0), 2 * BATCH, (side, side), group=2 * GROUP).reshape(BATCH, 2, -1)
    assert masks.any()
    return {
        "global": rng.normal(size=(BATCH, 2, g, g, 3)).astype(np.float32),
        "local": rng.normal(size=(BATCH, c.crops.local_number, c.crops.local_size, c.crops.local_size, 3)).astype(
            np.float32),
        "masks": masks,
    }


def _one_step(views, micro: int):
    c = _train()
    backbone = backbone_config(c)
    cfg = ssl_config(c, backbone, global_batch=BATCH, micro=micro)
    schedules = make_schedules(c, BATCH)
    student = init_student(jax.random.key(0), cfg)
    optimizer = make_optimizer(c, schedules, student, n_blocks=backbone.depth)
    state = init_state(student, cfg, optimizer, 0)
    fn = jax.jit(functools.partial(step.train_step, cfg=cfg, optimizer=optimizer, schedules=schedules))
    return state, jax.device_get(fn(state, views))


@pytest.fixture(scope="module")
def whole(views):
    return _one_step(views, 0)


def _assert_same(a, b):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6), a, b)


def test_four_micro_steps_equal_one_step_of_the_batch(whole, views):
    initial, (state, logged) = whole
    _, (micro_state, micro_logged) = _one_step(views, BATCH // 4)
    moved = jax.tree.map(lambda a, b: np.abs(np.asarray(a) - np.asarray(b)).max(), state["student"],
                         initial["student"])
    assert max(jax.tree.leaves(moved)) > 1e-4  # the step did update the student
    _assert_same(micro_state["student"], state["student"])
    _assert_same(micro_state["teacher"], state["teacher"])
    for key in ("loss", "dino_local", "dino_global", "koleo", "ibot", "grad_norm"):
        np.testing.assert_allclose(micro_logged[key], logged[key], rtol=1e-5, err_msg=key)


def test_sinkhorn_targets_per_micro_batch_would_break_it(whole, views, monkeypatch):
    """Sinkhorn-Knopp balances the prototypes over the samples it sees: over a quarter of the batch its targets,
    and so the step, differ from the whole batch's."""
    whole_targets = meta_arch.teacher_targets

    def per_micro_batch(teacher, centers, parts, temp, cfg, stacked=None):
        one = [whole_targets(teacher, centers, jax.tree.map(lambda x, m=m: x[m : m + 1], parts), temp, cfg)[0]
               for m in range(parts["global"].shape[0])]
        return jax.tree.map(lambda *t: jax.numpy.concatenate(t), *one), centers

    monkeypatch.setattr(step.meta_arch, "teacher_targets", per_micro_batch)
    _, (broken, _) = _one_step(views, BATCH // 4)
    state = whole[1][0]
    with pytest.raises(AssertionError):
        _assert_same(broken["student"], state["student"])
