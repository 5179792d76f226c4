"""The two attention implementations of the ViT give the same tokens.

``per_image`` (``jax.lax.map`` over the images of each group) is what the CPU backend runs by default, ``dot_product``
(``jax.nn.dot_product_attention``) what GPUs and TPUs run; forcing each through ``ViTConfig.attention`` tests
both on any backend. On an accelerator the default path is ``dot_product``, so there this compares the default
with the per-image form (``scripts/device_check.py`` runs it there).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anonjax.models import dinov2, vit

PATHS = ("per_image", "dot_product")


def _sharpened(params: dict, cfg: dinov2.ViTConfig, factor: float) -> dict:
    """``params`` with the query and key projections scaled by ``factor``: at random init the attention is
    nearly uniform, which would hide a wrong softmax; at 8 the largest CLS weight is about 6x the uniform one."""
    out = dict(params)
    d = cfg.embed_dim
    for i in range(cfg.depth):
        block = out[f"blocks_{i}"]
        qkv = block["attn"]["qkv"]
        qkv = {"kernel": qkv["kernel"].at[:, : 2 * d].multiply(factor),
               "bias": qkv["bias"].at[: 2 * d].multiply(factor)}
        out[f"blocks_{i}"] = {**block, "attn": {**block["attn"], "qkv": qkv}}
    return out


def _tokens(params: dict, cfg: dinov2.ViTConfig, images: np.ndarray, kind: str, dtype) -> np.ndarray:
    """Final normalized CLS and patch tokens, (N, 1 + patches, D) float32, computed in ``dtype`` with attention
    ``kind``; float32 matmuls at full precision (accelerators would otherwise round them to TF32 or bf16)."""
    cfg = dataclasses.replace(cfg, attention=kind)
    params = jax.tree_util.tree_map(lambda x: x.astype(dtype), params)
    with jax.default_matmul_precision("highest"):
        out = dinov2.forward_features(params, cfg, jnp.asarray(images, dtype))
    cls = np.asarray(out["x_norm_clstoken"][:, None], np.float32)
    return np.concatenate([cls, np.asarray(out["x_norm_patchtokens"], np.float32)], axis=1)


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def sharp(tiny, make_images):
    """The tiny ViT with peaked attention, two 56 px images (17 tokens), and the float32 per-image tokens as the
    reference."""
    cfg, params = tiny
    params = _sharpened(params, cfg, 8.0)
    images = make_images(2, 56, 56, seed=3)
    return cfg, params, images, _tokens(params, cfg, images, "per_image", jnp.float32)


def test_auto_picks_per_image_on_cpu_and_dot_product_elsewhere():
    cfg = dinov2.config("vit_tiny14")
    assert cfg.attention == "auto"
    assert vit.attention_kind(cfg) == ("per_image" if jax.default_backend() == "cpu" else "dot_product")
    for kind in PATHS:
        assert vit.attention_kind(dataclasses.replace(cfg, attention=kind)) == kind
    assert hash(dataclasses.replace(cfg, attention="dot_product")) != hash(cfg)  # a separate jit cache entry
    with pytest.raises(ValueError, match="attention must be one of"):
        dinov2.config("vit_tiny14", attention="flash")


def test_float32_paths_agree(sharp):
    cfg, params, images, reference = sharp
    other = _tokens(params, cfg, images, "dot_product", jnp.float32)
    np.testing.assert_allclose(other, reference, rtol=1e-5, atol=1e-5)
    # The tolerance is meaningful: 5% larger attention logits move the tokens far beyond it.
    moved = _tokens(_sharpened(params, cfg, 1.05**0.5), cfg, images, "per_image", jnp.float32)
    assert _relative(moved, reference) > 1e-3


def test_bfloat16_paths_agree(sharp):
    """In bfloat16 the network's own rounding (about 5e-3 of the tokens' norm against float32) exceeds 1e-3,
    so each path is measured against the float32 tokens: both must be equally accurate to 1e-3, and close
    to each other at the bfloat16 level."""
    cfg, params, images, reference = sharp
    per_image, dot = (_tokens(params, cfg, images, kind, jnp.bfloat16) for kind in PATHS)
    err_per_image, err_dot = _relative(per_image, reference), _relative(dot, reference)
    assert err_per_image < 2e-2 and err_dot < 2e-2
    assert abs(err_dot - err_per_image) < 1e-3, (err_per_image, err_dot)
    assert _relative(dot, per_image) < 1e-2
