"""Recipe pieces without a backbone compile: schedules, optimizer rules, iBOT masking, DINO head."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from anonjax.ssl.heads import HeadConfig, apply_head, init_head
from anonjax.ssl.masking import batch_masks, block_mask, max_masked
from anonjax.ssl.optimizer import make_optimizer, multipliers
from anonjax.ssl.schedules import cosine_schedule, make_schedules, scaled_lr
from configs.training import get_config


def _official_cosine(base, final, total, warmup=0, start=0.0, freeze=0):
    """The official CosineScheduler's table, transcribed in numpy."""
    freeze_part = np.zeros(freeze)
    warm = np.linspace(start, base, warmup)
    iters = np.arange(total - warmup - freeze)
    cos = final + 0.5 * (base - final) * (1 + np.cos(np.pi * iters / len(iters)))
    return np.concatenate([freeze_part, warm, cos])


@pytest.mark.parametrize(("warmup", "start", "freeze"), [(0, 0.0, 0), (7, 0.04, 0), (5, 0.0, 3)])
def test_cosine_schedule_matches_official_table(warmup, start, freeze):
    table = _official_cosine(0.5, 0.01, 40, warmup, start, freeze)
    schedule = cosine_schedule(0.5, 0.01, 40, warmup_steps=warmup, start=start, freeze_steps=freeze)
    got = np.asarray(jax.vmap(schedule)(jnp.arange(40)))
    np.testing.assert_allclose(got, table, rtol=1e-5, atol=1e-7)
    assert float(schedule(1000)) == pytest.approx(0.01)


def test_training_schedules_follow_the_config():
    c = get_config()
    c.epochs, c.steps_per_epoch = 10, 100
    c.optim.warmup_epochs, c.teacher.warmup_temp_epochs = 1.0, 3.0
    s = make_schedules(c, global_batch=2048)
    peak = 0.004 * 2048 / 1024
    assert float(s.lr(100)) == pytest.approx(peak, rel=1e-5)  # end of the warmup
    assert float(s.lr(0)) == 0.0 and float(s.last_layer_lr(99)) == 0.0 and float(s.last_layer_lr(100)) > 0
    assert float(s.weight_decay(0)) == pytest.approx(0.04) and float(s.weight_decay(999)) == pytest.approx(0.4, 1e-3)
    assert float(s.teacher_momentum(0)) == pytest.approx(0.992)
    assert float(s.teacher_temp(0)) == pytest.approx(0.04) and float(s.teacher_temp(300)) == pytest.approx(0.07)
    assert scaled_lr(0.004, 256, "sqrt_wrt_1024") == pytest.approx(0.002)


def test_optimizer_rules_per_parameter():
    tree = {
        "backbone": {
            "patch_embed": {"kernel": 0, "bias": 0}, "cls_token": 0,
            "blocks_0": {"norm1": {"scale": 0}, "attn": {"qkv": {"kernel": 0}}, "ls1": {"gamma": 0}},
            "blocks_1": {"mlp": {"fc1": {"kernel": 0, "bias": 0}}},
            "norm": {"scale": 0},
        },
        "dino_head": {"mlp": {"layer0": {"kernel": 0}}, "last_layer": {"v": 0, "g": 0}},
    }
    lr, wd, last = multipliers(tree, n_blocks=2, layerwise_decay=0.5, patch_embed_lr_mult=0.2)
    b = lr["backbone"]
    assert b["patch_embed"]["kernel"] == pytest.approx(0.5**3 * 0.2)
    assert b["cls_token"] == pytest.approx(0.5**3)
    assert b["blocks_0"]["attn"]["qkv"]["kernel"] == pytest.approx(0.5**2)
    assert b["blocks_1"]["mlp"]["fc1"]["kernel"] == pytest.approx(0.5)
    assert b["norm"]["scale"] == 1.0 and lr["dino_head"]["mlp"]["layer0"]["kernel"] == 1.0
    w = wd["backbone"]
    assert w["blocks_0"]["norm1"]["scale"] == 0 and w["blocks_0"]["ls1"]["gamma"] == 0
    assert w["blocks_1"]["mlp"]["fc1"]["bias"] == 0 and w["blocks_1"]["mlp"]["fc1"]["kernel"] == 1
    assert w["cls_token"] == 1 and wd["dino_head"]["last_layer"]["v"] == 1
    assert last["dino_head"]["last_layer"]["v"] and not last["dino_head"]["mlp"]["layer0"]["kernel"]


def test_ibot_masks_follow_the_collate_rules():
    rng = np.random.default_rng(0)
    n_crops, grid = 16, (8, 8)
    masks = batch_masks(rng, n_crops, grid, probability=0.5, ratio_range=(0.1, 0.5))
    counts = masks.sum(1)
    assert (counts > 0).sum() == 8 and (counts == 0).sum() == 8  # half the crops are masked
    assert counts.max() <= 0.5 * 64 and counts.sum() <= max_masked(n_crops, 64)
    one = block_mask(rng, grid, 20, max_patches=32)
    assert 0 < one.sum() <= 20
    rows, cols = np.nonzero(one)
    assert one[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].mean() > 0.3  # blocks, not noise


def test_dino_head_matches_a_numpy_transcription():
    cfg = HeadConfig(in_dim=6, n_prototypes=5, hidden_dim=7, bottleneck_dim=4, n_layers=3)
    params = jax.jit(init_head, static_argnums=1)(jax.random.key(0), cfg)
    np.testing.assert_array_equal(params["last_layer"]["g"], 1.0)
    x = np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32)
    p = jax.tree.map(np.asarray, params)
    from scipy.special import erf

    def gelu(z):
        return 0.5 * z * (1 + erf(z / np.sqrt(2)))

    h = gelu(x @ p["mlp"]["layer0"]["kernel"] + p["mlp"]["layer0"]["bias"])
    h = gelu(h @ p["mlp"]["layer1"]["kernel"] + p["mlp"]["layer1"]["bias"])
    h = h @ p["mlp"]["layer2"]["kernel"] + p["mlp"]["layer2"]["bias"]
    h = h / np.linalg.norm(h, axis=-1, keepdims=True)
    v = p["last_layer"]["v"]
    expected = h @ (v / np.linalg.norm(v, axis=0))  # weight norm with g = 1: unit-norm prototypes
    np.testing.assert_allclose(apply_head(params, jnp.asarray(x)), expected, rtol=1e-4, atol=1e-6)


def test_head_warmup_freezes_the_backbone_and_last_layer_freeze_holds_the_prototypes():
    c = get_config("tiny")
    c.epochs, c.steps_per_epoch = 1, 10
    c.optim.warmup_epochs, c.optim.freeze_last_layer_epochs = 0.0, 0.4  # last layer frozen for 4 steps
    schedules = make_schedules(c, global_batch=1024)
    params = {"backbone": {"blocks_0": {"kernel": jnp.ones((2, 2))}},
              "dino_head": {"mlp": {"layer0": {"kernel": jnp.ones((2, 2))}}, "last_layer": {"v": jnp.ones((2, 2))}}}
    optimizer = make_optimizer(c, schedules, params, n_blocks=1, head_warmup_steps=2)
    opt_state = optimizer.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    history = []
    for _ in range(5):
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        history.append(jax.tree.map(lambda x: float(x[0, 0]), params))
    backbone = [h["backbone"]["blocks_0"]["kernel"] for h in history]
    head = [h["dino_head"]["mlp"]["layer0"]["kernel"] for h in history]
    last = [h["dino_head"]["last_layer"]["v"] for h in history]
    assert backbone[0] == backbone[1] == 1.0 and backbone[2] < 1.0  # frozen for the first 2 steps only
    assert head[0] < 1.0
    assert last[3] == 1.0 and last[4] < 1.0  # the prototypes wait for the last-layer freeze to end
