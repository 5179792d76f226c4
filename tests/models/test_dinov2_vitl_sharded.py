"""ViT-L/14 under 8 simulated CPU devices, batch sharded (28 x 28 inputs keep it fast), gives the
single-device result. The parameters are FSDP-sharded over the 8 devices so that one copy of the 300M
parameters is held, not eight."""

import jax
import numpy as np
import pytest

from anonjax.models import dinov2
from anonjax.parallel import batch_sharding, make_mesh, params_sharding

pytestmark = pytest.mark.slow  # the inner loop (-m 'not slow') skips this file


@pytest.fixture(scope="module")
def vitl():
    """ViT-L/14 parameters of the right shapes, tiled from a million random values (``init`` itself is
    tested on small models; drawing 300M values here would dominate the test time)."""
    cfg = dinov2.config("vitl14")
    base = 0.02 * np.random.default_rng(0).standard_normal(1_000_003).astype(np.float32)  # prime: rows differ
    shapes = jax.eval_shape(dinov2.init, jax.random.key(0), cfg)
    return cfg, jax.tree_util.tree_map(lambda s: np.resize(base, s.shape), shapes)


def test_vitl_forward_and_embed_sharded_equal_single_device(vitl, make_images):
    cfg, params = vitl
    x = make_images(8, 28, 28)
    single = dinov2.forward_features(params, cfg, x)
    mesh = make_mesh(fsdp=8)
    sharded_params = jax.device_put(params, params_sharding(mesh, params))
    out = dinov2.forward_features(sharded_params, cfg, jax.device_put(x, batch_sharding(mesh)))
    assert out["x_norm_patchtokens"].shape == (8, 4, 1024)
    assert len(out["x_norm_patchtokens"].sharding.device_set) == 8
    for key in ("x_norm_clstoken", "x_norm_patchtokens", "x_prenorm"):
        np.testing.assert_allclose(np.asarray(out[key]), np.asarray(single[key]), atol=1e-4, rtol=1e-4)

    emb = dinov2.embed(sharded_params, cfg, x[:5], mesh=mesh)  # 5 images: padded to 8, padding dropped
    assert emb.shape == (5, 1024)
    np.testing.assert_allclose(np.asarray(emb), np.asarray(single["x_norm_clstoken"][:5]), atol=1e-4, rtol=1e-4)
