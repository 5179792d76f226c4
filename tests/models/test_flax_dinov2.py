"""The Flax face of the backbone: same parameter tree as the pure functions, same outputs, composable."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from anonjax.models import dinov2
from anonjax.models.flax_dinov2 import DINOv2


def _layout(tree) -> tuple:
    return jax.tree.structure(tree), jax.tree.leaves(jax.tree.map(lambda a: (a.shape, a.dtype), tree))


@pytest.mark.parametrize(("model", "masked"), [("tiny", False), ("tiny_reg", True)])
def test_apply_is_forward_features_bit_for_bit(model, masked, request, make_images):
    cfg, params = request.getfixturevalue(model)
    images = make_images(2, 56, 70)  # a 4 x 5 patch grid: the position embedding is resized
    kwargs = {"masks": np.random.default_rng(1).random((2, 20)) < 0.5} if masked else {}
    out = DINOv2(cfg).apply({"params": params}, images, **kwargs)
    ref = dinov2.forward_features(params, cfg, images, **kwargs)
    assert out.keys() == ref.keys()
    for key, value in ref.items():
        np.testing.assert_array_equal(out[key], value, err_msg=key)
    if not masked:
        emb = DINOv2(cfg).apply({"params": params}, images, method="embed")
        np.testing.assert_array_equal(emb, ref["x_norm_clstoken"])


@pytest.mark.parametrize("model", ["tiny", "tiny_reg"])
def test_init_has_the_pure_tree(model, request, make_images):
    cfg, params = request.getfixturevalue(model)
    variables = DINOv2(cfg).init(jax.random.key(3), make_images(1, 56, 56))
    assert list(variables) == ["params"]
    assert _layout(variables["params"]) == _layout(params)
    gammas = [variables["params"][f"blocks_{i}"]["ls1"]["gamma"] for i in range(cfg.depth)]
    np.testing.assert_array_equal(gammas, np.full((cfg.depth, cfg.embed_dim), cfg.layerscale_init))


def test_a_jitted_composed_model_trains_with_pure_weights(tiny, make_images):
    cfg, params = tiny

    class Classifier(nn.Module):
        @nn.compact
        def __call__(self, images):
            return nn.Dense(3, name="head")(DINOv2(cfg, name="backbone").embed(images))

    model, images, labels = Classifier(), make_images(2, 28, 28), jnp.array([0, 2])
    variables = model.init(jax.random.key(0), images)
    assert _layout(variables["params"]["backbone"]) == _layout(params)
    variables = {"params": {**variables["params"], "backbone": params}}  # pure weights load as they are

    @jax.jit
    def loss_and_grads(variables):
        loss = lambda v: optax.softmax_cross_entropy_with_integer_labels(model.apply(v, images), labels).mean()
        return jax.value_and_grad(loss)(variables)

    loss, grads = loss_and_grads(variables)
    assert np.isfinite(loss)
    for part in ("head", "backbone"):
        norms = [float(jnp.abs(g).sum()) for g in jax.tree.leaves(grads["params"][part])]
        assert all(np.isfinite(norms)) and sum(norms) > 0, part
    assert float(jnp.abs(grads["params"]["backbone"]["blocks_0"]["attn"]["qkv"]["kernel"]).sum()) > 0


def test_drop_path_draws_from_the_dropout_rng(tiny, make_images):
    cfg, params = tiny
    model, images = DINOv2(dataclasses.replace(cfg, drop_path_rate=0.5)), make_images(4, 56, 56)
    run = lambda seed: model.apply({"params": params}, images, train=True, rngs={"dropout": jax.random.key(seed)})
    np.testing.assert_array_equal(run(0)["x_prenorm"], run(0)["x_prenorm"])
    assert not np.array_equal(run(0)["x_prenorm"], run(1)["x_prenorm"])


def test_weights_of_another_architecture_are_refused(tiny, make_images):
    cfg, params = tiny
    images = make_images(1, 56, 56)
    with pytest.raises(ValueError, match=r"\['blocks_1'\] are not part of vit_tiny14 \(depth 1"):
        DINOv2(dataclasses.replace(cfg, depth=1)).apply({"params": params}, images)
    with pytest.raises(ValueError, match=r"params\['blocks_0'\] holds .*'mlp'\]\['fc1'\].* expects .*'w12'"):
        DINOv2(dataclasses.replace(cfg, ffn="swiglu", mlp_ratio=6.0)).apply({"params": params}, images)
