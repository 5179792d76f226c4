"""The ViT itself: configurations, parameter layout, forward outputs, masking, stochastic depth, bad inputs."""

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anonjax.models import dinov2, vit


def test_configs_match_the_released_models():
    sizes = {
        n: (c.embed_dim, c.depth, c.num_heads, c.hidden_dim)
        for n in ("vits14", "vitb14", "vitl14", "vitg14")
        for c in [dinov2.config(n)]
    }
    assert sizes == {
        "vits14": (384, 12, 6, 1536),
        "vitb14": (768, 12, 12, 3072),
        "vitl14": (1024, 24, 16, 4096),
        "vitg14": (1536, 40, 24, 4096),  # SwiGLU: 2/3 of 6144, rounded up to a multiple of 8
    }
    reg = dinov2.config("vitl14_reg4")
    assert (reg.num_registers, reg.interpolate_offset, reg.interpolate_antialias) == (4, 0.0, True)
    plain = dinov2.config("vitl14")
    assert (plain.pos_side, plain.interpolate_offset, plain.interpolate_antialias) == (37, 0.1, False)
    assert dinov2.config("vitb16").patch_size == 16 and dinov2.config("vit_tiny16").pos_side == 4
    assert hash(plain) == hash(dinov2.config("vitl14"))  # usable as a static jit argument
    with pytest.raises(ValueError, match="vitx14"):
        dinov2.config("vitx14")


def test_parameter_layout(tiny_reg):
    cfg, params = tiny_reg
    d = cfg.embed_dim
    assert params["patch_embed"]["kernel"].shape == (14, 14, 3, d)
    assert params["pos_embed"].shape == (cfg.pos_side**2 + 1, d)
    assert params["register_tokens"].shape == (4, d)
    assert sorted(k for k in params if k.startswith("blocks_")) == ["blocks_0", "blocks_1"]
    assert params["blocks_1"]["attn"]["qkv"]["kernel"].shape == (d, 3 * d)
    swiglu = dinov2.config("vit_tiny14", ffn="swiglu")
    assert swiglu.hidden_dim == 176  # int(256 * 2 / 3) = 170, rounded up to a multiple of 8
    mlp = dinov2.init(jax.random.key(0), swiglu)["blocks_0"]["mlp"]
    assert mlp["w12"]["kernel"].shape == (d, 2 * 176) and mlp["w3"]["kernel"].shape == (176, d)


def test_forward_features_keys_and_shapes(tiny_reg, make_images):
    cfg, params = tiny_reg
    out = dinov2.forward_features(params, cfg, make_images(2, 42, 70))
    assert set(out) == {"x_norm_clstoken", "x_norm_regtokens", "x_norm_patchtokens", "x_prenorm", "masks"}
    assert out["x_norm_clstoken"].shape == (2, 64)
    assert out["x_norm_regtokens"].shape == (2, 4, 64)
    assert out["x_norm_patchtokens"].shape == (2, 3 * 5, 64)
    assert out["x_prenorm"].shape == (2, 1 + 4 + 15, 64)
    assert out["masks"] is None


def test_masked_patches_become_the_mask_token(tiny, make_images):
    cfg, params = tiny
    params = dict(params, mask_token=jnp.arange(cfg.embed_dim, dtype=jnp.float32) / 10)
    masks = np.zeros((2, 16), bool)
    masks[:, :5] = True
    a = vit.embed_tokens(params, cfg, make_images(2, 56, 56, seed=1), jnp.asarray(masks))
    b = vit.embed_tokens(params, cfg, make_images(2, 56, 56, seed=2), jnp.asarray(masks))
    pos = params["pos_embed"][1:6]
    np.testing.assert_allclose(a[:, 1:6], jnp.broadcast_to(params["mask_token"] + pos, (2, 5, 64)), atol=1e-6)
    np.testing.assert_allclose(a[:, 1:6], b[:, 1:6])  # image content gone where masked
    assert not np.allclose(a[:, 6:], b[:, 6:])
    out = dinov2.forward_features(params, cfg, make_images(2, 56, 56), masks=jnp.asarray(masks))
    assert out["masks"].shape == (2, 16)
    with pytest.raises(ValueError, match="masks must have shape"):
        dinov2.forward_features(params, cfg, make_images(2, 56, 56), masks=jnp.zeros((2, 15), bool))


def test_batch_subset_stochastic_depth_follows_the_official_rule():
    x = jnp.arange(8 * 3 * 2, dtype=jnp.float32).reshape(8, 3, 2)
    out = vit._residual(x, lambda y: jnp.ones_like(y), 0.4, True, jax.random.key(3))
    changed = np.flatnonzero(np.any(np.asarray(out) != np.asarray(x), axis=(1, 2)))
    keep = int(8 * (1 - 0.4))  # the official subset size: int(b * (1 - rate)) = 4
    assert len(changed) == keep
    np.testing.assert_allclose(out[changed] - x[changed], 8 / keep)  # residual scaled by batch / subset
    again = vit._residual(x, lambda y: jnp.ones_like(y), 0.4, True, jax.random.key(3))
    np.testing.assert_array_equal(out, again)
    np.testing.assert_array_equal(vit._residual(x, jnp.ones_like, 0.4, False, None), x + 1)


def test_stochastic_depth_subsets_stay_within_their_groups():
    x = jnp.zeros((40, 3, 2))
    out = np.asarray(vit._residual(x, jnp.ones_like, 0.4, True, jax.random.key(0), groups=4))
    changed = np.any(out != 0, axis=(1, 2)).reshape(4, 10)
    np.testing.assert_array_equal(changed.sum(1), [6, 6, 6, 6])  # int(10 * (1 - 0.4)) rows of each group of 10
    np.testing.assert_allclose(out[out != 0], 10 / 6, rtol=1e-6)  # scaled by group / subset
    assert len({tuple(row) for row in changed}) == 4  # each group draws its own subset (of 210)


@pytest.mark.slow
def test_remat_recomputes_the_gradient_it_would_store(tiny, make_images):
    """Recomputing each block in the backward pass (drop path on batch subsets included: the recomputation
    draws the same subsets) gives the gradient of the stored activations."""
    cfg, params = tiny
    cfg = dataclasses.replace(cfg, drop_path_rate=0.4, drop_path_uniform=True)
    images = make_images(4, 28, 28)

    def loss(p, remat):
        out = vit.forward_features(p, cfg, images, train=True, rng=jax.random.key(0), groups=2, remat=remat)
        return jnp.sum(out["x_norm_clstoken"] ** 2) + jnp.mean(out["x_norm_patchtokens"])

    def checkpointed(remat):  # the primitive of jax.checkpoint is named remat2 or checkpoint
        return re.search(r"= (remat\w*|checkpoint)\[", str(jax.make_jaxpr(loss, static_argnums=1)(params, remat)))

    assert checkpointed(True) and not checkpointed(False)
    stored, recomputed = jax.grad(loss)(params, False), jax.grad(loss)(params, True)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), recomputed, stored)


def test_per_sample_drop_path_at_low_rates():
    x = jnp.zeros((64, 2, 2))
    out = np.asarray(vit._residual(x, jnp.ones_like, 0.1, True, jax.random.key(0)))
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.9], rtol=1e-6)  # dropped, or kept and rescaled
    assert np.all(out.reshape(64, -1).min(1) == out.reshape(64, -1).max(1))  # whole samples kept or dropped


def test_training_forward_needs_rng_and_is_reproducible(tiny, make_images):
    cfg, params = tiny
    cfg = dataclasses.replace(cfg, drop_path_rate=0.5, drop_path_uniform=True)
    x = make_images(4, 28, 28)
    with pytest.raises(ValueError, match="rng"):
        dinov2.forward_features(params, cfg, x, train=True)
    a = dinov2.forward_features(params, cfg, x, train=True, rng=jax.random.key(1))["x_prenorm"]
    b = dinov2.forward_features(params, cfg, x, train=True, rng=jax.random.key(1))["x_prenorm"]
    c = dinov2.forward_features(params, cfg, x)["x_prenorm"]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert cfg.drop_path_rates() == (0.5, 0.5) and dinov2.config("vits14", drop_path_rate=0.4).drop_path_rates()[0] == 0


@pytest.mark.parametrize(
    "shape,message",
    [
        ((2, 50, 56, 3), "not a positive multiple of the patch size 14"),
        ((2, 56, 56, 4), "4 channels"),
        ((56, 56, 3), "NHWC"),
    ],
)
def test_bad_images_are_refused(tiny, shape, message):
    cfg, params = tiny
    with pytest.raises(ValueError, match=message):
        dinov2.forward_features(params, cfg, np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match=message):
        dinov2.embed(params, cfg, np.zeros(shape, np.float32))


def test_init_follows_the_official_distributions():
    cfg = dinov2.config("vit_tiny14", layerscale_init=1e-5)
    params = dinov2.init(jax.random.key(0), cfg)
    qkv = np.asarray(params["blocks_1"]["attn"]["qkv"]["kernel"])
    assert abs(qkv.std() - 0.02) < 0.002 and abs(qkv.mean()) < 0.002
    assert abs(np.asarray(params["pos_embed"]).std() - 0.02) < 0.002
    bound = 1 / np.sqrt(14 * 14 * 3)
    patch = np.asarray(params["patch_embed"]["kernel"])
    assert patch.min() >= -bound and patch.max() <= bound and patch.std() > bound / 2
    assert np.abs(np.asarray(params["cls_token"])).max() < 1e-5
    assert not np.asarray(params["mask_token"]).any() and not np.asarray(params["blocks_0"]["mlp"]["fc1"]["bias"]).any()
    np.testing.assert_allclose(params["blocks_0"]["ls2"]["gamma"], 1e-5, rtol=1e-6)
    np.testing.assert_array_equal(params["norm"]["scale"], 1.0)
    assert not np.allclose(
        params["blocks_0"]["mlp"]["fc1"]["kernel"][:64], params["blocks_1"]["mlp"]["fc1"]["kernel"][:64]
    )


def test_unnormalized_uint8_images_are_refused(tiny):
    cfg, params = tiny
    with pytest.raises(ValueError, match="uint8; the model takes floats normalized"):
        dinov2.embed(params, cfg, np.zeros((1, 28, 28, 3), np.uint8))
