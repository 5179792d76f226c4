"""CLS embeddings: single device, batch sharded over 8 simulated devices, bfloat16, and to files.

The tests share two image shapes (2 x 28 x 28 alone, 8 x 28 x 28 sharded) so that jit compiles each once."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anonjax.layout import ids_path
from anonjax.models import dinov2
from anonjax.parallel import make_mesh, replicated


def test_embed_is_the_cls_token(tiny, make_images):
    cfg, params = tiny
    x = make_images(2, 28, 28)
    emb = dinov2.embed(params, cfg, x)
    assert emb.dtype == jnp.float32 and emb.shape == (2, cfg.embed_dim)
    # embed compiles with vit.compiler_options() (other CPU matmul kernels): equal up to float32 rounding
    np.testing.assert_allclose(emb, dinov2.forward_features(params, cfg, x)["x_norm_clstoken"], rtol=1e-5, atol=1e-5)


def test_embed_runs_inside_a_jitted_function(tiny, make_images):
    """JAX takes compiler options on the outermost jit only: inside a caller's jit, embed traces into it."""
    cfg, params = tiny
    x = make_images(2, 28, 28)
    inside = jax.jit(lambda p, images: dinov2.embed(p, cfg, images) * 2)(params, x)
    np.testing.assert_allclose(inside, 2 * dinov2.embed(params, cfg, x), rtol=1e-5, atol=1e-5)


def test_sharded_embed_pads_and_matches_single_device(tiny, make_images):
    cfg, params = tiny
    assert len(jax.devices()) == 8
    mesh = make_mesh()
    x = make_images(2, 28, 28)  # padded to 8, one image per device, the padding dropped
    single = np.asarray(dinov2.embed(params, cfg, x))
    sharded = dinov2.embed(jax.device_put(params, replicated(mesh)), cfg, x, mesh=mesh)
    assert sharded.shape == (2, cfg.embed_dim)
    np.testing.assert_allclose(np.asarray(sharded), single, atol=1e-5)


def test_bfloat16_embed_is_close_to_float32(tiny, make_images):
    cfg, params = tiny
    x = make_images(2, 28, 28)
    full = np.asarray(dinov2.embed(params, cfg, x))
    half = dinov2.embed(params, cfg, x, dtype=jnp.bfloat16)
    assert half.dtype == jnp.float32
    cosine = np.sum(full * half, 1) / np.linalg.norm(full, axis=1) / np.linalg.norm(half, axis=1)
    assert np.all(cosine > 0.99)


def test_embed_to_files_aligns_rows_with_ids_in_every_view(tiny, make_images, tmp_path):
    cfg, params = tiny
    x = make_images(7, 28, 28)
    ids = [f"img{i}" for i in range(7)]
    views = {"original": x, "flipped": x[:, :, ::-1]}
    batches = [(ids[i : i + 2], {v: images[i : i + 2] for v, images in views.items()})
               for i in range(0, 7, 2)]  # 2, 2, 2, 1: the last one padded
    paths = {v: tmp_path / "emb" / v / "val.npy" for v in views}
    out = dinov2.embed_to_files(params, cfg, iter(batches), paths, total=7, mesh=make_mesh())
    for view, images in views.items():
        stored = np.load(paths[view])
        assert stored.dtype == np.float32 and stored.shape == (7, cfg.embed_dim)
        np.testing.assert_array_equal(stored, out[view])
        single = np.concatenate([np.asarray(dinov2.embed(params, cfg, images[i : i + 2])) for i in (0, 2, 4, 5)])
        np.testing.assert_allclose(stored, np.delete(single, 6, axis=0), atol=1e-5)  # rows 4-5 and 5-6 overlap
        assert json.loads(ids_path(paths[view]).read_text()) == ids
        assert sorted(p.name for p in paths[view].parent.iterdir()) == ["val.ids.json", "val.npy"]


def test_embed_to_files_refuses_duplicate_ids_and_writes_nothing(tiny, make_images, tmp_path):
    cfg, params = tiny
    x = make_images(2, 28, 28)
    path = tmp_path / "dup.npy"
    with pytest.raises(ValueError, match="'a' occurs more than once"):
        dinov2.embed_to_files(params, cfg, [(["a", "b"], {"v": x}), (["a"], {"v": x[:1]})], {"v": path})
    assert not path.exists() and not ids_path(path).exists()
    with pytest.raises(ValueError, match="2 ids, of which this process supplies 2, but 1 images"):
        dinov2.embed_to_files(params, cfg, [(["a", "b"], {"v": x[:1]})], {"v": path})
    with pytest.raises(ValueError, match="expected"):
        dinov2.embed_to_files(params, cfg, [(["a", "b"], {"w": x})], {"v": path})


def test_attention_maps_and_png(tiny_reg, make_images, tmp_path):
    cfg, params = tiny_reg
    x = make_images(2, 56, 42)
    maps = dinov2.attention_maps(params, cfg, x)
    assert maps.shape == (2, cfg.num_heads, 4, 3) and np.all(maps >= 0) and np.all(maps.sum((2, 3)) < 1)
    path = tmp_path / "attn.png"
    dinov2.render_attention(x[0], maps[0], path, title="img0")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(path) as im:
        assert im.size[0] > im.size[1] > 0  # a grid of image + 4 heads: 4 columns, 2 rows
    with pytest.raises(ValueError, match="heads, rows, cols"):
        dinov2.render_attention(x[0], maps, tmp_path / "bad.png")
