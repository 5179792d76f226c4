"""Architecture settings of the DINOv2 vision transformers, by name."""

from __future__ import annotations

import dataclasses
import re

_WIDTHS = {  # size letter -> (embed_dim, depth, num_heads, feed-forward)
    "s": (384, 12, 6, "mlp"),
    "b": (768, 12, 12, "mlp"),
    "l": (1024, 24, 16, "mlp"),
    "g": (1536, 40, 24, "swiglu"),
    "_tiny": (64, 2, 4, "mlp"),
}
ATTENTION_KINDS = ("auto", "per_image", "dot_product")


@dataclasses.dataclass(frozen=True)
class ViTConfig:
    """Static description of one DINOv2 ViT; hashable so it can be a ``jax.jit`` static argument.

    ``img_size`` fixes the stored position-embedding table (``img_size // patch_size`` positions per side);
    inputs of any size that is a multiple of ``patch_size`` are accepted and the table is resized the
    way the official model does it: bicubic with ``scale_factor = (n + interpolate_offset) / pos_side``
    when the offset is non-zero, otherwise size-based, antialiased if ``interpolate_antialias``.
    """

    name: str
    patch_size: int
    embed_dim: int
    depth: int
    num_heads: int
    ffn: str = "mlp"  # "mlp" (GELU) or "swiglu" (ViT-g, official SwiGLUFFNFused)
    mlp_ratio: float = 4.0
    num_registers: int = 0
    img_size: int = 518
    in_chans: int = 3
    layerscale_init: float = 1.0
    drop_path_rate: float = 0.0
    drop_path_uniform: bool = False
    interpolate_offset: float = 0.1
    interpolate_antialias: bool = False
    # How attention is computed (same results, different speed): "per_image" runs one image of each group at a
    # time with ``jax.lax.map``, "dot_product" the whole batch in one ``jax.nn.dot_product_attention``; "auto"
    # picks the first on the CPU backend and the second on accelerators (``vit.attention_kind``).
    attention: str = "auto"

    def __post_init__(self) -> None:
        if self.ffn not in ("mlp", "swiglu"):
            raise ValueError(f"ViTConfig.ffn must be 'mlp' or 'swiglu', got {self.ffn!r}")
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f"ViTConfig.attention must be one of {ATTENTION_KINDS}, got {self.attention!r}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"ViTConfig.embed_dim={self.embed_dim} is not divisible by num_heads={self.num_heads}")
        if self.img_size % self.patch_size:
            raise ValueError(f"ViTConfig.img_size={self.img_size} is not a multiple of patch_size={self.patch_size}")

    @property
    def pos_side(self) -> int:
        """Positions per side of the stored position-embedding table."""
        return self.img_size // self.patch_size

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def hidden_dim(self) -> int:
        """Feed-forward width; SwiGLU keeps 2/3 of it rounded up to a multiple of 8, as the official model."""
        hidden = int(self.embed_dim * self.mlp_ratio)
        return (int(hidden * 2 / 3) + 7) // 8 * 8 if self.ffn == "swiglu" else hidden

    def drop_path_rates(self) -> tuple[float, ...]:
        """Per-block drop-path rate: uniform, or rising linearly from 0 to ``drop_path_rate``."""
        if self.drop_path_uniform or self.depth == 1:
            return (self.drop_path_rate,) * self.depth
        step = self.drop_path_rate / (self.depth - 1)
        return tuple(step * i for i in range(self.depth))


NAMES = tuple(
    f"vit{size}{patch}{reg}" for size in ("s", "b", "l", "g", "_tiny") for patch in (14, 16) for reg in ("", "_reg4")
)


def config(name: str, **overrides) -> ViTConfig:
    """The configuration called ``name`` (e.g. ``vitl14``, ``vitg14_reg4``, ``vit_tiny16``).

    Released-model settings: 518 px position table (37 x 37 for patch 14), LayerScale 1.0, and for ``_reg4``
    four registers with antialiased size-based position-embedding resizing. The tiny sizes (2 blocks of
    width 64, 64 px position table) exist for tests and CPU demos. ``overrides`` replace fields
    (e.g. ``drop_path_rate``).
    """
    match = re.fullmatch(r"vit(s|b|l|g|_tiny)(14|16)(_reg4)?", name)
    if match is None:
        raise ValueError(f"unknown model name {name!r}; known: {', '.join(NAMES)}")
    size, patch, reg = match.group(1), int(match.group(2)), bool(match.group(3))
    dim, depth, heads, ffn = _WIDTHS[size]
    img_size = (4 if size == "_tiny" else 37) * patch
    cfg = ViTConfig(
        name=name,
        patch_size=patch,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        ffn=ffn,
        num_registers=4 if reg else 0,
        img_size=img_size,
        interpolate_offset=0.0 if reg else 0.1,
        interpolate_antialias=reg,
    )
    return dataclasses.replace(cfg, **overrides)
