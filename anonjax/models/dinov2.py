"""DINOv2 backbone: the public API in one namespace.

>>> from anonjax.models import dinov2
>>> cfg = dinov2.config("vitl14")
>>> params = dinov2.load_pretrained("vitl14")            # or dinov2.init(jax.random.key(0), cfg)
>>> feats = dinov2.forward_features(params, cfg, images)  # NHWC, ImageNet-normalized
>>> emb = dinov2.embed(params, cfg, images, mesh=parallel.make_mesh())
"""

from anonjax.models.attention_maps import attention_maps, draw_attention, render_attention
from anonjax.models.embedding import embed, embed_to_files
from anonjax.models.pretrained import RELEASES, checkpoint_config, load_pretrained
from anonjax.models.torch_weights import params_from_torch, params_to_torch
from anonjax.models.vit import cls_attention, forward_features, init
from anonjax.models.vit_config import NAMES, ViTConfig, config

__all__ = [
    "NAMES",
    "RELEASES",
    "ViTConfig",
    "attention_maps",
    "checkpoint_config",
    "cls_attention",
    "config",
    "draw_attention",
    "embed",
    "embed_to_files",
    "forward_features",
    "init",
    "load_pretrained",
    "params_from_torch",
    "params_to_torch",
    "render_attention",
]
