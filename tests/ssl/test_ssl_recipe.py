"""Recipe pieces without a backbone compile: presets, schedules, optimizer rules, iBOT masking, DINO head."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from anonjax.main import load_config
from anonjax.models import dinov2
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


def test_official_preset_is_vitl14_yaml_on_the_default_config():
    """dinov2/configs/train/vitl14.yaml over dinov2/configs/ssl_default_config.yaml."""
    c = get_config("official")
    assert (c.model, c.drop_path_rate, c.drop_path_uniform, c.layerscale_init) == ("vitl14", 0.4, True, 1e-5)
    assert dinov2.config(c.model).patch_size == 14 and dinov2.config(c.model).ffn == "mlp"  # the released weights
    assert (c.epochs, c.steps_per_epoch) == (500, 1250)
    assert c.dino.to_dict() == {"loss_weight": 1.0, "koleo_loss_weight": 0.1,
                                "n_prototypes": 131072, "hidden_dim": 2048, "bottleneck_dim": 384, "n_layers": 3}
    assert c.ibot.to_dict() == {"loss_weight": 1.0, "mask_probability": 0.5, "mask_ratio": (0.1, 0.5),
                                "separate_head": True, "n_prototypes": 131072, "hidden_dim": 2048,
                                "bottleneck_dim": 256, "n_layers": 3}
    assert c.centering == "sinkhorn_knopp"
    assert c.teacher.to_dict() == {"momentum": 0.994, "final_momentum": 1.0, "warmup_temp": 0.04, "temp": 0.07,
                                   "warmup_temp_epochs": 30.0}
    assert c.optim.to_dict() == {
        "base_lr": 2e-4, "scaling_rule": "sqrt_wrt_1024", "min_lr": 1e-6, "warmup_epochs": 80.0,
        "weight_decay": 0.04, "weight_decay_end": 0.2, "clip_grad": 3.0, "freeze_last_layer_epochs": 1.0,
        "layerwise_decay": 1.0, "patch_embed_lr_mult": 0.2, "adamw_beta1": 0.9, "adamw_beta2": 0.999,
    }
    assert c.crops.to_dict() == {"global_size": 224, "global_scale": (0.32, 1.0), "local_number": 8,
                                 "local_size": 98, "local_scale": (0.05, 0.32)}
    assert c.crops.local_size % dinov2.config(c.model).patch_size == 0  # no border is cut away
    assert c.group_size == 32 and c.batch_size % c.group_size == 0  # the official batch_size_per_gpu


def test_tiny_preset_keeps_its_values():
    """The tests and the demo study run on these numbers."""
    assert get_config("tiny").to_dict() == {
        "augment": {"blur_kernel": 5, "blur_prob": (1.0, 0.1, 0.5), "blur_sigma": (0.1, 2.0), "brightness": 0.4,
                    "contrast": 0.4, "flip_prob": 0.5, "grayscale_prob": 0.2, "hue": 0.1, "jitter_prob": 0.8,
                    "saturation": 0.2, "solarize_prob": 0.2, "solarize_threshold": 128},
        "batch_size": 32, "cache_mb": 2048, "canvas_size": 64, "center_momentum": 0.9, "centering": "centering",
        "checkpoint_every": 100, "compute_dtype": "float32", "coordinator_address": "",
        "crops": {"global_scale": (0.32, 1.0), "global_size": 32, "local_number": 2, "local_scale": (0.05, 0.32),
                  "local_size": 16},
        "dino": {"bottleneck_dim": 64, "hidden_dim": 128, "koleo_loss_weight": 0.1, "loss_weight": 1.0,
                 "n_layers": 3, "n_prototypes": 256},
        "distributed": False, "drop_path_rate": 0.0, "drop_path_uniform": True, "epochs": 10, "fsdp": 1,
        "group_size": 0, "head_warmup_steps": 0,  # group_size 0: KoLeo, drop path and masks over the whole batch
        "ibot": {"bottleneck_dim": 64, "hidden_dim": 128, "loss_weight": 1.0, "mask_probability": 0.5,
                 "mask_ratio": (0.1, 0.5), "n_layers": 3, "n_prototypes": 256, "separate_head": False},
        "keep_checkpoints": 2, "layerscale_init": 1.0, "log_every": 10, "micro_batch": 0, "model": "vit_tiny16",
        "num_processes": -1,
        "optim": {"adamw_beta1": 0.9, "adamw_beta2": 0.999, "base_lr": 0.02, "clip_grad": 3.0,
                  "freeze_last_layer_epochs": 0.5, "layerwise_decay": 0.9, "min_lr": 1e-06,
                  "patch_embed_lr_mult": 0.2, "scaling_rule": "linear_wrt_1024", "warmup_epochs": 1.0,
                  "weight_decay": 0.04, "weight_decay_end": 0.4},
        "pretrained": "", "process_id": -1, "remat": False, "seed": 0, "steps_per_epoch": 30, "student_temp": 0.1,
        "teacher": {"final_momentum": 1.0, "momentum": 0.992, "temp": 0.07, "warmup_temp": 0.04,
                    "warmup_temp_epochs": 3.0},
        "workers": 0,
    }


@pytest.mark.parametrize("study", ["celeba", "rvl_cdip"])
def test_studies_continue_from_the_released_weights(study):
    train = load_config(Path(__file__).resolve().parents[2] / "ml_collections_configs" / f"{study}.py").train
    assert train.pretrained in dinov2.RELEASES and dinov2.config(train.pretrained) == dinov2.config(train.model)
    assert 0 < train.head_warmup_steps < train.epochs * train.steps_per_epoch
    official = get_config("official")
    assert (train.epochs, train.optim.to_dict(), train.teacher.to_dict()) == (
        official.epochs, official.optim.to_dict(), official.teacher.to_dict())  # the official schedule's shape

def test_training_schedules_follow_the_config():
    c = get_config()
    c.epochs, c.steps_per_epoch = 10, 100
    c.optim.warmup_epochs, c.teacher.warmup_temp_epochs = 1.0, 3.0
    s = make_schedules(c, global_batch=2048)
    peak = 2e-4 * 2**0.5  # sqrt_wrt_1024
    assert float(s.lr(100)) == pytest.approx(peak, rel=1e-5)  # end of the warmup
    assert float(s.lr(0)) == 0.0 and float(s.last_layer_lr(99)) == 0.0 and float(s.last_layer_lr(100)) > 0
    assert float(s.weight_decay(0)) == pytest.approx(0.04) and float(s.weight_decay(999)) == pytest.approx(0.2, 1e-3)
    assert float(s.teacher_momentum(0)) == pytest.approx(0.994)
    assert float(s.teacher_temp(0)) == pytest.approx(0.04) and float(s.teacher_temp(300)) == pytest.approx(0.07)
    assert scaled_lr(0.004, 256, "sqrt_wrt_1024") == pytest.approx(0.002)
    assert scaled_lr(0.004, 256, "linear_wrt_1024") == pytest.approx(0.001)


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
    masks = batch_masks((0, 3), n_crops, grid, probability=0.5, ratio_range=(0.1, 0.5))
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


def test_head_last_layer_runs_in_float32_under_bfloat16():
    cfg = HeadConfig(in_dim=8, n_prototypes=32, hidden_dim=16, bottleneck_dim=8, n_layers=2)
    params = init_head(jax.random.key(0), cfg)
    params["last_layer"]["g"] = jnp.linspace(0.5, 2.0, 32)
    x = jax.random.normal(jax.random.key(1), (5, 8))
    logits = apply_head(params, x, jnp.bfloat16)
    assert logits.dtype == jnp.float32
    # The same bfloat16 MLP output, then the normalization and last layer in float64 as the reference.
    h = _bf16_mlp(params, x)
    assert h.dtype == jnp.bfloat16
    h = np.asarray(h, np.float64)
    h /= np.linalg.norm(h, axis=-1, keepdims=True)
    v, g = np.asarray(params["last_layer"]["v"], np.float64), np.asarray(params["last_layer"]["g"], np.float64)
    expected = h @ (v * g / np.linalg.norm(v, axis=0))
    np.testing.assert_allclose(logits, expected, rtol=1e-6, atol=1e-6)  # float32 precision
    coarse = np.asarray(expected.astype(jnp.bfloat16), np.float64)  # what bfloat16 logits would be
    assert np.abs(np.asarray(logits) - expected).max() < np.abs(coarse - expected).max() / 100


def _bf16_mlp(params: dict, x: jax.Array) -> jax.Array:
    """The head's MLP (2 layers) in bfloat16."""
    l0, l1 = params["mlp"]["layer0"], params["mlp"]["layer1"]
    bf = jnp.bfloat16
    h = jax.nn.gelu(x.astype(bf) @ l0["kernel"].astype(bf) + l0["bias"].astype(bf), approximate=False)
    return h @ l1["kernel"].astype(bf) + l1["bias"].astype(bf)

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
