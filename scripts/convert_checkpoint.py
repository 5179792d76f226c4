"""Convert DINOv2 weights between PyTorch checkpoints and anonjax parameter files.

    # official .pth or Hugging Face .safetensors/.bin -> anonjax (safetensors keyed by parameter path)
    python -m scripts.convert_checkpoint to-anonjax dinov2_vitl14_pretrain.pth vitl14.anonjax.safetensors
    # anonjax -> PyTorch, official naming (DinoVisionTransformer) or transformers' Dinov2Model naming
    python -m scripts.convert_checkpoint to-torch vitl14.anonjax.safetensors out.safetensors --model vitl14 --naming hf

The anonjax file stores each array under its path in the parameter tree, e.g. ``blocks_0/attn/qkv/kernel``,
and its architecture (the ``ViTConfig`` fields) as JSON in the safetensors metadata.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from anonjax.files import atomic_path
from anonjax.models import dinov2
from anonjax.models.pretrained import checkpoint_config, read_state_dict


def flatten(params: dict, prefix: str = "") -> dict[str, np.ndarray]:
    out = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}/"))
        else:
            out[prefix + key] = np.asarray(value, np.float32)
    return out


def unflatten(flat: dict[str, np.ndarray]) -> dict:
    tree: dict = {}
    for path, value in flat.items():
        *parents, leaf = path.split("/")
        node = tree
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return tree


def save(tensors: dict[str, np.ndarray], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``.safetensors`` (no torch needed) or ``.pth`` (torch), atomically."""
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp), metadata=metadata)
        elif path.suffix in (".pth", ".pt"):
            import torch

            torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}, tmp)
        else:
            raise SystemExit(f"output {path}: use a .safetensors or .pth name")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("direction", choices=("to-anonjax", "to-torch"))
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--model", help="architecture name (default: inferred from the source)")
    parser.add_argument("--naming", choices=("official", "hf"), default="official", help="to-torch naming")
    args = parser.parse_args()
    if args.direction == "to-anonjax":
        cfg = dinov2.config(args.model) if args.model else checkpoint_config(args.source)
        if args.target.suffix != ".safetensors":
            raise SystemExit(f"anonjax output {args.target}: use a .safetensors name")
        metadata = {"anonjax_config": json.dumps(dataclasses.asdict(cfg))}
        save(flatten(dinov2.load_pretrained(args.source, cfg)), args.target, metadata)
    else:
        from safetensors import safe_open

        with safe_open(str(args.source), "np") as f:
            stored = (f.metadata() or {}).get("anonjax_config")
        if args.model:
            cfg = dinov2.config(args.model)
        elif stored:
            cfg = dinov2.ViTConfig(**json.loads(stored))
        else:
            raise SystemExit(f"{args.source} does not record its architecture; pass --model")
        params = unflatten(read_state_dict(args.source))
        save(dinov2.params_to_torch(params, cfg, naming=args.naming), args.target)
    print(f"wrote {args.target} ({cfg.name})")


if __name__ == "__main__":
    main()
