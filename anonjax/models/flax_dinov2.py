"""The DINOv2 backbone as a Flax module whose parameters are the pure tree of ``anonjax.models.vit``.

Flax linen, not NNX: a linen module holds no weights, so ``module.apply({"params": p}, images)`` takes the very
nested dict that ``vit.init``, the checkpoint converters and the trainer produce and hands it to
``vit.forward_features`` unchanged; inside a bigger linen model the backbone's weights are that same tree under
the submodule's name. NNX keeps weights in mutable objects, which would need a conversion to and from every
pure path (training, sharding rules, checkpoints) and could drift from it.

>>> from anonjax.models import dinov2
>>> from anonjax.models.flax_dinov2 import DINOv2
>>> model = DINOv2(dinov2.config("vitl14"))
>>> feats = model.apply({"params": params}, images)            # == dinov2.forward_features(params, cfg, images)
>>> emb = model.apply({"params": params}, images, method="embed")  # (N, D) CLS embeddings
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from anonjax.models.vit import forward_features, init
from anonjax.models.vit_config import ViTConfig


@functools.cache
def _shapes(cfg: ViTConfig) -> dict:
    """Shapes and dtypes of the pure parameter tree of ``cfg``, without drawing it."""
    return jax.eval_shape(lambda rng: init(rng, cfg), jax.random.key(0))


def _paths(tree) -> set[str]:
    return {jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(tree)}


def _check_tree(cfg: ViTConfig, params, expected: dict) -> None:
    """Refuse entries ``cfg`` would ignore or not find: linen itself checks only the names it asks for and
    leaf shapes, so a deeper checkpoint under a shallower config would otherwise lose blocks silently."""
    extra = sorted(set(params) - set(expected))
    if extra:
        raise ValueError(
            f"parameters {extra} are not part of {cfg.name} (depth {cfg.depth}, {cfg.num_registers} registers); "
            "build the module with the config the weights were made for (dinov2.checkpoint_config)"
        )
    for name, shapes in expected.items():
        if name in params and _paths(params[name]) != _paths(shapes):
            raise ValueError(
                f"params[{name!r}] holds {sorted(_paths(params[name]))}; {cfg.name} (ffn {cfg.ffn!r}) expects "
                f"{sorted(_paths(shapes))}"
            )


class DINOv2(nn.Module):
    """The DINOv2 ViT of ``cfg``: each call runs ``vit.forward_features`` on this module's parameters.

    ``init`` draws the whole tree with ``vit.init`` (one key from the ``params`` rng), so its values follow the
    official initialization and its structure and shapes are those of ``vit.init(rng, cfg)``.
    """

    cfg: ViTConfig

    def setup(self) -> None:
        expected = _shapes(self.cfg)
        if self.is_initializing():
            drawn = init(self.make_rng("params"), self.cfg)
            entry = lambda name: lambda _: drawn[name]
        else:
            _check_tree(self.cfg, self.variables.get("params", {}), expected)
            # Only evaluated abstractly by linen's shape check, so nothing is allocated.
            entry = lambda name: lambda _: jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), expected[name])
        self.tree = {name: self.param(name, entry(name)) for name in expected}

    def __call__(self, images: jax.Array, *, masks: jax.Array | None = None, train: bool = False) -> dict:
        """``vit.forward_features`` outputs for NHWC ImageNet-normalized images; ``masks`` (N, patches) bool
        puts the mask token on those patches; ``train`` turns on drop path, drawing from the ``dropout`` rng."""
        needs_rng = train and max(self.cfg.drop_path_rates(), default=0.0) > 0.0
        rng = self.make_rng("dropout") if needs_rng else None
        return forward_features(self.tree, self.cfg, images, masks=masks, train=train, rng=rng)

    def embed(self, images: jax.Array) -> jax.Array:
        """(N, D) CLS embeddings (``x_norm_clstoken``), the retrieval descriptor."""
        return self(images)["x_norm_clstoken"]
