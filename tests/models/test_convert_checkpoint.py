"""scripts/convert_checkpoint.py: PyTorch -> anonjax file -> PyTorch gives back the same tensors."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

from anonjax.models import dinov2
from anonjax.models.pretrained import read_state_dict

SCRIPT = Path(__file__).parents[2] / "scripts" / "convert_checkpoint.py"


def _script():
    spec = importlib.util.spec_from_file_location("convert_checkpoint", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_torch_to_anonjax_and_back(tmp_path, monkeypatch):
    import jax
    from safetensors.numpy import save_file

    convert = _script()
    cfg = dinov2.config("vits14", depth=1, img_size=56)
    params = dinov2.init(jax.random.key(0), cfg)
    source = tmp_path / "hf.safetensors"
    save_file(dinov2.params_to_torch(params, cfg, naming="hf"), str(source))
    for argv in (
        ["to-anonjax", source, tmp_path / "ax.safetensors"],
        ["to-torch", tmp_path / "ax.safetensors", tmp_path / "back.safetensors", "--naming", "hf"],
    ):
        monkeypatch.setattr(sys, "argv", ["convert_checkpoint.py", *map(str, argv)])
        convert.main()
    flat = read_state_dict(tmp_path / "ax.safetensors")
    assert "blocks_0/attn/qkv/kernel" in flat
    original, back = read_state_dict(source), read_state_dict(tmp_path / "back.safetensors")
    assert set(original) == set(back)
    for name, value in original.items():
        np.testing.assert_array_equal(back[name], value)
