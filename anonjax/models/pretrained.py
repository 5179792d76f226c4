"""Released DINOv2 weights: download once into a cache, verify the checksum, load safely.

Files are read with ``torch.load(weights_only=True)`` or safetensors, never unpickled freely. Downloads go
through ``anonjax.downloads``: a file is kept only if its SHA-256 matches the pinned value (``Release.sha256``,
or the ``sha256`` argument); for releases whose digest is not pinned in this table, the digest of the first
download is recorded and a cached file that later changed is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from etils import epath

from anonjax import downloads
from anonjax.downloads import Release
from anonjax.errors import DatasetError, MissingInputError
from anonjax.files import sha256_file
from anonjax.models.torch_weights import official_state_dict, params_from_torch
from anonjax.models.vit_config import ViTConfig, config
from anonjax.paths import as_path

_BASE = "https://dl.fbaipublicfiles.com/dinov2"
_HEADS = {384: 6, 768: 12, 1024: 16, 1536: 24}  # the released widths' head counts (not inferable from shapes)

RELEASES = {
    f"vit{size}14{reg}": Release(f"{_BASE}/dinov2_vit{size}14/dinov2_vit{size}14{reg}_pretrain.pth")
    for size in "sblg"
    for reg in ("", "_reg4")
}


def cache_dir() -> Path:
    """``$ANONJAX_CACHE/dinov2``, by default ``~/.cache/anonjax/dinov2``."""
    return downloads.cache_root() / "dinov2"


def fetch(name: str, *, directory: Path | None = None, sha256: str | None = None) -> Path:
    """Path of the released checkpoint ``name`` in the cache, downloading and verifying it if absent."""
    release = RELEASES[name]
    if sha256:
        release = Release(release.url, sha256)
    target = (directory or cache_dir()) / Path(release.url).name
    return downloads.fetch(release, target, instead="pass the local path to load_pretrained")


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Tensors of a ``.pth``/``.pt`` (``torch.load(weights_only=True)``) or ``.safetensors`` file, local or a URL."""
    path = as_path(path)
    if not path.is_file():
        raise MissingInputError(f"checkpoint file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.numpy import load

            return load(path.read_bytes())
        if path.suffix not in (".pth", ".pt", ".bin"):
            raise DatasetError(f"checkpoint {path}: unknown extension {path.suffix!r} (use .pth, .pt or .safetensors)")
        import torch

        with path.open("rb") as f:
            obj = torch.load(f, map_location="cpu", weights_only=True)
    except (ValueError, ImportError):
        raise
    except Exception as err:  # each reader raises its own type for a damaged file
        raise DatasetError(f"checkpoint file {path} is unreadable (truncated or not a checkpoint): {err}") from err
    for key in ("teacher", "model", "state_dict"):  # training files wrap the weights
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise DatasetError(f"checkpoint file {path} holds a {type(obj).__name__}, not a state dict")
    return {k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in obj.items()}


def infer_config(state_dict) -> ViTConfig:
    """The released-model configuration that fits the tensor shapes of an official-named state dict."""
    sd = official_state_dict(state_dict)
    try:
        dim, chans, patch, _ = sd["patch_embed.proj.weight"].shape
        positions = sd["pos_embed"].shape[1] - 1
    except KeyError as err:
        raise DatasetError(f"state dict has no {err} tensor: not a DINOv2 ViT checkpoint") from err
    depth = 1 + max(int(n.split(".")[1]) for n in sd if n.startswith("blocks."))
    if dim not in _HEADS:
        raise DatasetError(f"embedding width {dim} is not a released DINOv2 size; pass cfg explicitly")
    regs = sd["register_tokens"].shape[1] if "register_tokens" in sd else 0
    side = round(positions**0.5)
    return ViTConfig(
        name=f"d{dim}_p{patch}_depth{depth}" + (f"_reg{regs}" if regs else ""),
        patch_size=patch,
        embed_dim=dim,
        depth=depth,
        num_heads=_HEADS[dim],
        ffn="swiglu" if "blocks.0.mlp.w12.weight" in sd else "mlp",
        num_registers=regs,
        img_size=side * patch,
        in_chans=chans,
        interpolate_offset=0.0 if regs else 0.1,
        interpolate_antialias=bool(regs),
    )


def _resolve(name_or_path: str | os.PathLike, sha256: str | None) -> epath.Path:
    name = str(name_or_path)
    if name in RELEASES:
        return as_path(fetch(name, sha256=sha256))
    path = as_path(name_or_path)
    if not path.exists():
        raise MissingInputError(f"{name!r} is neither a checkpoint file nor a released model ({', '.join(RELEASES)})")
    if sha256 and sha256_file(path) != sha256:
        raise DatasetError(f"checkpoint file {path} does not have SHA-256 {sha256}")
    return path


def checkpoint_config(name_or_path: str | os.PathLike) -> ViTConfig:
    """The configuration of a released name, or the one a checkpoint file's tensor shapes imply."""
    if str(name_or_path) in RELEASES:
        return config(str(name_or_path))
    return infer_config(read_state_dict(_resolve(name_or_path, None)))


def load_pretrained(
    name_or_path: str | os.PathLike, cfg: ViTConfig | None = None, *, sha256: str | None = None
) -> dict:
    """Parameters from a released model name (``vitl14``, ``vits14_reg4`` ...) or a checkpoint file (local or a URL).

    ``cfg`` defaults to ``checkpoint_config(name_or_path)``; a checkpoint that does not fit ``cfg`` is
    refused, naming the tensors that differ.
    """
    state_dict = read_state_dict(_resolve(name_or_path, sha256))
    if cfg is None:
        cfg = config(str(name_or_path)) if str(name_or_path) in RELEASES else infer_config(state_dict)
    return params_from_torch(state_dict, cfg)
