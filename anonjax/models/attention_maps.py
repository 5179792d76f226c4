"""Attention maps (paper section IV-B): where the CLS token of the last block looks, per head."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import jax
import numpy as np

from anonjax.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from anonjax.files import atomic_path
from anonjax.models.vit import cls_attention, compiler_options
from anonjax.models.vit_config import ViTConfig


@functools.cache
def _cls_attention():
    """``cls_attention`` jitted with the compiler options of the default backend."""
    return jax.jit(cls_attention, static_argnums=1, compiler_options=compiler_options())

def attention_maps(params: dict, cfg: ViTConfig, images) -> np.ndarray:
    """(N, heads, rows, cols) float32: last block's CLS-to-patch attention (registers excluded)."""
    return np.asarray(_cls_attention()(params, cfg, jax.numpy.asarray(images)))


def render_attention(image: np.ndarray, maps: np.ndarray, path: str | os.PathLike, *, title: str = "") -> None:
    """Save a PNG sheet: the image, then one panel per head with its attention map stretched over the image.

    ``image`` is HWC, uint8 RGB or ImageNet-normalized float; ``maps`` is (heads, rows, cols). ``title`` is
    drawn as plain text (it may hold an image id: ``$`` in a file name is not TeX).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip((image * IMAGENET_STD + IMAGENET_MEAN) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (heads, rows, cols), got shape {maps.shape}")
    panels = 1 + maps.shape[0]
    cols = min(panels, 4)
    panel_rows = -(-panels // cols)
    fig, axes = plt.subplots(panel_rows, cols, figsize=(3 * cols, 3 * panel_rows), squeeze=False)
    height, width = image.shape[:2]
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(image)
    axes.flat[0].set_title(title or "image", fontsize=9, parse_math=False)
    for head, amap in enumerate(maps):
        ax = axes.flat[head + 1]
        ax.imshow(image)
        ax.imshow(amap, cmap="inferno", alpha=0.6, extent=(0, width, height, 0), interpolation="nearest")
        ax.set_title(f"head {head}", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def draw_attention(params: dict, cfg: ViTConfig, images: Sequence[np.ndarray], paths: Sequence[str | os.PathLike],
                   titles: Sequence[str]) -> None:
    """One sheet per image (:func:`render_attention`) of its attention maps under this model, at its path with its
    title."""
    for image, path, title in zip(images, paths, titles, strict=True):
        render_attention(image, attention_maps(params, cfg, np.asarray(image)[None])[0], path, title=title)
