"""Parity with Hugging Face transformers' DINOv2 and exact weight round trips (needs the [torch] extra)."""

import dataclasses
import re

import numpy as np
import pytest

from anonjax.models import dinov2

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=56, patch_size=14)


def _hf_model(registers: int = 0, swiglu: bool = False):
    torch.manual_seed(registers + 2 * swiglu)
    kwargs = dict(SMALL, use_swiglu_ffn=swiglu, layerscale_value=0.5)
    if registers:
        model = transformers.Dinov2WithRegistersModel(
            transformers.Dinov2WithRegistersConfig(num_register_tokens=registers, **kwargs)
        )
    else:
        model = transformers.Dinov2Model(transformers.Dinov2Config(**kwargs))
    with torch.no_grad():  # move every tensor off its init constant so that no mix-up can hide
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def _hf_cfg(registers: int = 0, swiglu: bool = False):
    """Transformers resizes the position grid by size (antialiased for registers), not with the official
    +0.1 scale factor; the configuration says so."""
    name = "vit_tiny14_reg4" if registers else "vit_tiny14"
    return dinov2.config(
        name, ffn="swiglu" if swiglu else "mlp", interpolate_offset=0.0, interpolate_antialias=bool(registers)
    )


def _stored_naming(state_dict: dict) -> dict:
    """transformers 5 live names -> the names stored in the facebook/dinov2-* files."""
    out = {}
    for name, value in state_dict.items():
        for live, stored in (
            ("attention.q_proj", "attention.attention.query"),
            ("attention.k_proj", "attention.attention.key"),
            ("attention.v_proj", "attention.attention.value"),
            ("attention.o_proj", "attention.output.dense"),
            ("mlp.down_proj", "mlp.weights_out"),
        ):
            name = name.replace(live, stored)
        out[name] = value
    for name in [n for n in out if ".mlp.gate_proj." in n]:
        up = name.replace("gate_proj", "up_proj")
        out[name.replace("gate_proj", "weights_in")] = torch.cat([out.pop(name), out.pop(up)], 0)
    return out


@pytest.fixture(scope="module", params=[(0, False), (4, False), (0, True)], ids=["plain", "reg4", "swiglu"])
def pair(request):
    registers, swiglu = request.param
    model = _hf_model(registers, swiglu)
    cfg = _hf_cfg(registers, swiglu)
    return model, cfg, dinov2.params_from_torch(model.state_dict(), cfg)


def _hidden(out: dict) -> np.ndarray:
    return np.concatenate([out["x_norm_clstoken"][:, None], out["x_norm_regtokens"], out["x_norm_patchtokens"]], 1)


@pytest.mark.parametrize("size", [(56, 56), (42, 84)], ids=["own-size", "interpolated"])
def test_last_hidden_state_matches_transformers(pair, size, make_images):
    model, cfg, params = pair
    x = make_images(2, *size)
    with torch.inference_mode():
        ref = model(torch.from_numpy(x).permute(0, 3, 1, 2)).last_hidden_state.numpy()
    ours = _hidden(dinov2.forward_features(params, cfg, x))
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-4


def test_stored_hf_naming_gives_the_same_params(pair):
    model, cfg, params = pair
    stored = _stored_naming(model.state_dict())
    assert any(".attention.attention.query." in n for n in stored)
    again = dinov2.params_from_torch(stored, cfg)
    for a, b in zip(_leaves(params), _leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)


def test_round_trips_are_exact(pair):
    model, cfg, params = pair
    for naming in ("official", "hf"):
        sd = dinov2.params_to_torch(params, cfg, naming=naming)
        back = dinov2.params_from_torch(sd, cfg)
        for a, b in zip(_leaves(params), _leaves(back), strict=True):
            np.testing.assert_array_equal(a, b)
    hf = dinov2.params_to_torch(params, cfg, naming="hf")
    live = model.state_dict()
    assert set(hf) == set(live)
    for name, value in live.items():
        np.testing.assert_array_equal(hf[name], value.numpy())
    official = dinov2.params_to_torch(params, cfg)
    assert "blocks.1.attn.qkv.weight" in official and "ls1.gamma" in "".join(official)


def test_official_layout_loads_into_transformers_and_back(pair, make_images):
    model, cfg, params = pair
    fresh = type(model)(model.config).eval()
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in dinov2.params_to_torch(params, cfg, "hf").items()})
    x = make_images(1, 56, 56, seed=3)
    with torch.inference_mode():
        a = model(torch.from_numpy(x).permute(0, 3, 1, 2)).last_hidden_state
        b = fresh(torch.from_numpy(x).permute(0, 3, 1, 2)).last_hidden_state
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_training_checkpoint_prefixes_and_chunked_blocks(pair):
    _, cfg, params = pair
    official = dinov2.params_to_torch(params, cfg)
    chunked = {"teacher.backbone." + re.sub(r"^blocks\.(\d+)\.", r"blocks.0.\1.", n): v for n, v in official.items()}
    again = dinov2.params_from_torch(chunked, cfg)
    for a, b in zip(_leaves(params), _leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_of_another_architecture_is_refused(pair):
    model, cfg, _ = pair
    sd = model.state_dict()
    wider = dataclasses.replace(cfg, embed_dim=128, num_heads=4)
    with pytest.raises(ValueError, match=r"does not match architecture .*has shape"):
        dinov2.params_from_torch(sd, wider)
    deeper = dataclasses.replace(cfg, depth=3)
    with pytest.raises(ValueError, match=r"missing blocks\.2\."):
        dinov2.params_from_torch(sd, deeper)
    shallower = dataclasses.replace(cfg, depth=1)
    with pytest.raises(ValueError, match=r"unexpected blocks\.1\."):
        dinov2.params_from_torch(sd, shallower)
    other_ffn = dataclasses.replace(cfg, ffn="mlp" if cfg.ffn == "swiglu" else "swiglu")
    with pytest.raises(ValueError, match="mlp"):
        dinov2.params_from_torch(sd, other_ffn)


def test_attention_maps_match_transformers(pair, make_images):
    model, cfg, params = pair
    x = make_images(2, 56, 70)
    model.config._attn_implementation = "eager"
    with torch.inference_mode():
        ref = model(torch.from_numpy(x).permute(0, 3, 1, 2), output_attentions=True).attentions[-1].numpy()
    ours = dinov2.attention_maps(params, cfg, x)
    first_patch = 1 + cfg.num_registers
    expected = ref[:, :, 0, first_patch:].reshape(2, cfg.num_heads, 4, 5)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def _leaves(params):
    import jax

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(params)]
