"""Weights in and out of PyTorch naming: the official DINOv2 and both Hugging Face namings.

Three namings of the same tensors are understood:

- official ``DinoVisionTransformer``: ``blocks.0.attn.qkv.weight``, ``ls1.gamma``, ``mlp.w12.weight`` ...
  (also chunked ``blocks.<chunk>.<i>.`` and ``teacher.``/``student.``/``backbone.`` prefixes);
- Hugging Face as stored in the ``facebook/dinov2-*`` files:
  ``encoder.layer.0.attention.attention.query.weight``, ``attention.output.dense``,
  ``layer_scale1.lambda1``, ``mlp.weights_in`` ...;
- transformers 5 live ``Dinov2Model.state_dict()``: ``attention.q_proj``, ``attention.o_proj``,
  ``mlp.gate_proj``/``up_proj``/``down_proj`` ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from anonjax.models.vit_config import ViTConfig

_PREFIXES = ("module.", "teacher.", "student.", "backbone.", "dinov2_with_registers.", "dinov2.", "model.")


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor; bfloat16 has no numpy twin
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


def _strip(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name, changed = name[len(prefix) :], True
    return re.sub(r"^blocks\.\d+\.(\d+)\.", r"blocks.\1.", name) if re.match(r"^blocks\.\d+\.\d+\.", name) else name


_HF_STORED = {  # HF stored name (after "encoder.layer.<i>.") -> official name (after "blocks.<i>.")
    "attention.output.dense": "attn.proj",
    "layer_scale1.lambda1": "ls1.gamma",
    "layer_scale2.lambda1": "ls2.gamma",
    "mlp.weights_out": "mlp.w3",
    "mlp.weights_in": "mlp.w12",
}
_HF_LIVE = {
    "attention.o_proj": "attn.proj",
    "layer_scale1.lambda1": "ls1.gamma",
    "layer_scale2.lambda1": "ls2.gamma",
    "mlp.down_proj": "mlp.w3",
}
_HF_TOP = {
    "embeddings.cls_token": "cls_token",
    "embeddings.mask_token": "mask_token",
    "embeddings.register_tokens": "register_tokens",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection": "patch_embed.proj",
    "layernorm": "norm",
}


def _hf_to_official(sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename either Hugging Face naming to the official one, fusing q/k/v and gate/up."""
    out: dict[str, np.ndarray] = {}
    split: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for name, value in sd.items():
        match = re.match(r"^encoder\.layer\.(\d+)\.(.+)\.(weight|bias|lambda1)$", name)
        if match is None:
            module, _, leaf = name.rpartition(".")
            out[_HF_TOP[name] if name in _HF_TOP else f"{_HF_TOP.get(module, module)}.{leaf}"] = value
            continue
        i, module, leaf = match.groups()
        key = f"{module}.{leaf}"
        if key in ("layer_scale1.lambda1", "layer_scale2.lambda1"):
            out[f"blocks.{i}.{_HF_STORED[key]}"] = value
            continue
        parts = re.fullmatch(r"attention\.(?:attention\.)?(query|key|value|q_proj|k_proj|v_proj)", module)
        if parts:
            which = {"query": "q", "key": "k", "value": "v"}.get(parts.group(1), parts.group(1)[0])
            split.setdefault((f"blocks.{i}.attn.qkv.{leaf}", "qkv"), {})[which] = value
            continue
        if module in ("mlp.gate_proj", "mlp.up_proj"):
            split.setdefault((f"blocks.{i}.mlp.w12.{leaf}", "gu"), {})[module[4:6]] = value
            continue
        renamed = _HF_STORED.get(module) or _HF_LIVE.get(module) or module
        out[f"blocks.{i}.{renamed}.{leaf}"] = value
    for (name, kind), parts in split.items():
        order = ("q", "k", "v") if kind == "qkv" else ("ga", "up")
        missing = [o for o in order if o not in parts]
        if missing:
            raise ValueError(f"checkpoint lacks the {missing} part of {name} (Hugging Face naming)")
        out[name] = np.concatenate([parts[o] for o in order], axis=0)
    return out


def _is_hf(names) -> bool:
    return any(n.startswith(("encoder.layer.", "embeddings.")) for n in names)


def _expected_official(cfg: ViTConfig) -> dict[str, tuple[int, ...]]:
    d, h, p, c = cfg.embed_dim, cfg.hidden_dim, cfg.patch_size, cfg.in_chans
    shapes = {
        "cls_token": (1, 1, d),
        "pos_embed": (1, cfg.pos_side**2 + 1, d),
        "mask_token": (1, d),
        "patch_embed.proj.weight": (d, c, p, p),
        "patch_embed.proj.bias": (d,),
        "norm.weight": (d,),
        "norm.bias": (d,),
    }
    if cfg.num_registers:
        shapes["register_tokens"] = (1, cfg.num_registers, d)
    ffn = {"mlp.w12": (2 * h, d), "mlp.w3": (d, h)} if cfg.ffn == "swiglu" else {"mlp.fc1": (h, d), "mlp.fc2": (d, h)}
    for i in range(cfg.depth):
        b = f"blocks.{i}."
        for norm in ("norm1", "norm2"):
            shapes[b + norm + ".weight"] = shapes[b + norm + ".bias"] = (d,)
        shapes[b + "ls1.gamma"] = shapes[b + "ls2.gamma"] = (d,)
        for module, (fan_out, fan_in) in {"attn.qkv": (3 * d, d), "attn.proj": (d, d), **ffn}.items():
            shapes[b + module + ".weight"] = (fan_out, fan_in)
            shapes[b + module + ".bias"] = (fan_out,)
    return shapes


def official_state_dict(state_dict: Mapping) -> dict[str, np.ndarray]:
    """Any supported naming -> official names with numpy values (no shape checks)."""
    sd = {_strip(str(k)): _to_numpy(v) for k, v in state_dict.items()}
    return _hf_to_official(sd) if _is_hf(sd) else sd


def params_from_torch(state_dict: Mapping, cfg: ViTConfig) -> dict:
    """anonjax parameters from a PyTorch state dict (official or Hugging Face naming; numpy or torch values).

    Every tensor the architecture needs must be there with its exact shape, and nothing else may be left
    (a checkpoint of another architecture is refused, naming the first tensors that do not fit).
    A missing ``mask_token`` (Hugging Face models built without one) becomes zeros, its official init.
    """
    sd = official_state_dict(state_dict)
    expected = _expected_official(cfg)
    if "mask_token" not in sd:
        sd["mask_token"] = np.zeros(expected["mask_token"], np.float32)
    problems = [f"missing {n} {s}" for n, s in expected.items() if n not in sd]
    problems += [
        f"{n} has shape {sd[n].shape}, expected {s}" for n, s in expected.items() if n in sd and sd[n].shape != s
    ]
    problems += [f"unexpected {n} {sd[n].shape}" for n in sd if n not in expected]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... ({len(problems)} problems)" if len(problems) > 5 else "")
        raise ValueError(f"checkpoint does not match architecture {cfg.name} ({cfg}): {shown}")
    f = {n: np.asarray(v, np.float32) for n, v in sd.items()}

    def linear(name: str) -> dict:
        return {"kernel": f[name + ".weight"].T.copy(), "bias": f[name + ".bias"]}

    def norm(name: str) -> dict:
        return {"scale": f[name + ".weight"], "bias": f[name + ".bias"]}

    params = {
        "patch_embed": {
            "kernel": f["patch_embed.proj.weight"].transpose(2, 3, 1, 0).copy(),
            "bias": f["patch_embed.proj.bias"],
        },
        "cls_token": f["cls_token"].reshape(-1),
        "pos_embed": f["pos_embed"][0],
        "mask_token": f["mask_token"].reshape(-1),
    }
    if cfg.num_registers:
        params["register_tokens"] = f["register_tokens"][0]
    for i in range(cfg.depth):
        b = f"blocks.{i}."
        mlp = ("w12", "w3") if cfg.ffn == "swiglu" else ("fc1", "fc2")
        params[f"blocks_{i}"] = {
            "norm1": norm(b + "norm1"),
            "attn": {"qkv": linear(b + "attn.qkv"), "proj": linear(b + "attn.proj")},
            "ls1": {"gamma": f[b + "ls1.gamma"]},
            "norm2": norm(b + "norm2"),
            "mlp": {m: linear(f"{b}mlp.{m}") for m in mlp},
            "ls2": {"gamma": f[b + "ls2.gamma"]},
        }
    params["norm"] = norm("norm")
    return params


def params_to_torch(params: dict, cfg: ViTConfig, naming: str = "official") -> dict[str, np.ndarray]:
    """float32 numpy state dict for PyTorch: ``naming="official"`` (``DinoVisionTransformer``) or ``"hf"``
    (the names transformers 5 loads into ``Dinov2Model`` / ``Dinov2WithRegistersModel``)."""
    if naming not in ("official", "hf"):
        raise ValueError(f"naming must be 'official' or 'hf', got {naming!r}")
    p = {k: v for k, v in params.items()}
    a = lambda x: np.array(x, np.float32)  # a writable copy: torch.from_numpy accepts it
    d = cfg.embed_dim
    sd = {
        "cls_token": a(p["cls_token"]).reshape(1, 1, d),
        "pos_embed": a(p["pos_embed"])[None],
        "mask_token": a(p["mask_token"]).reshape(1, d),
        "patch_embed.proj.weight": a(p["patch_embed"]["kernel"]).transpose(3, 2, 0, 1).copy(),
        "patch_embed.proj.bias": a(p["patch_embed"]["bias"]),
    }
    if cfg.num_registers:
        sd["register_tokens"] = a(p["register_tokens"])[None]
    for i in range(cfg.depth):
        blk, b = p[f"blocks_{i}"], f"blocks.{i}."
        for norm in ("norm1", "norm2"):
            sd[b + norm + ".weight"], sd[b + norm + ".bias"] = a(blk[norm]["scale"]), a(blk[norm]["bias"])
        sd[b + "ls1.gamma"], sd[b + "ls2.gamma"] = a(blk["ls1"]["gamma"]), a(blk["ls2"]["gamma"])
        modules = {"attn.qkv": blk["attn"]["qkv"], "attn.proj": blk["attn"]["proj"]}
        modules.update({f"mlp.{m}": v for m, v in blk["mlp"].items()})
        for name, lin in modules.items():
            sd[b + name + ".weight"], sd[b + name + ".bias"] = a(lin["kernel"]).T.copy(), a(lin["bias"])
    sd["norm.weight"], sd["norm.bias"] = a(p["norm"]["scale"]), a(p["norm"]["bias"])
    return sd if naming == "official" else _official_to_hf(sd, cfg)


def _official_to_hf(sd: dict[str, np.ndarray], cfg: ViTConfig) -> dict[str, np.ndarray]:
    top = {v: k for k, v in _HF_TOP.items()}
    out = {}
    for name, value in sd.items():
        match = re.match(r"^blocks\.(\d+)\.(.+)\.(weight|bias|gamma)$", name)
        if match is None:
            module, _, leaf = name.rpartition(".")
            out[top[name] if name in top else f"{top[module]}.{leaf}"] = value
            continue
        i, module, leaf = match.groups()
        hf = f"encoder.layer.{i}."
        if module == "attn.qkv":
            for part, chunk in zip(("q_proj", "k_proj", "v_proj"), np.split(value, 3, axis=0), strict=True):
                out[f"{hf}attention.{part}.{leaf}"] = chunk.copy()
        elif module == "mlp.w12":
            for part, chunk in zip(("gate_proj", "up_proj"), np.split(value, 2, axis=0), strict=True):
                out[f"{hf}mlp.{part}.{leaf}"] = chunk.copy()
        elif module in ("ls1", "ls2"):
            out[f"{hf}layer_scale{module[-1]}.lambda1"] = value
        else:
            renamed = {"attn.proj": "attention.o_proj", "mlp.w3": "mlp.down_proj"}.get(module, module)
            out[f"{hf}{renamed}.{leaf}"] = value
    return out
