"""Multi-crop augmentation: every adaptation takes its global and local crops from the right source,
with the twin anonymized on the fly from boxes; crop geometry matches torchvision's rules."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anonjax.data import IMAGENET_MEAN, IMAGENET_STD
from anonjax.data.multicrop import (
    CropConfig,
    augment_crop,
    crop_box,
    multicrop,
    resized_crop,
)
from anonjax.ssl.loop import make_views

RED, BLUE = (200, 20, 20), (20, 20, 200)
# Geometry only: photometric steps off so that a crop's colour tells its source.
PLAIN = CropConfig(global_size=8, local_number=3, local_size=4, flip_prob=0.5, jitter_prob=0.0,
                   grayscale_prob=0.0, blur_prob=(0.0, 0.0, 0.0), solarize_prob=0.0, blur_kernel=3)


def _normalized(rgb):
    return (np.asarray(rgb) / 255.0 - np.asarray(IMAGENET_MEAN)) / np.asarray(IMAGENET_STD)


def _colour_of(crops):
    """The source colour of every crop [B, C, s, s, 3]: 'R' or 'B' (asserting the crop is uniform)."""
    flat = np.asarray(crops).reshape(*crops.shape[:2], -1, 3)
    out = np.full(crops.shape[:2], "?")
    for name, rgb in (("R", RED), ("B", BLUE)):
        out[np.all(np.abs(flat - _normalized(rgb)) < 1e-3, axis=(-1, -2))] = name
    return out


@pytest.fixture(scope="module")
def batch():
    n, canvas = 2, 16
    images = np.zeros((n, canvas, canvas, 3), np.uint8)
    images[:] = RED
    sizes = np.array([[16, 16], [12, 16]], np.int32)  # the second image is smaller than its canvas
    boxes = np.array([[[0, 0, 16, 16]], [[0, 0, 16, 12]]], np.int32)  # the whole image
    masks = np.zeros((n, 2, 1), bool)
    return {"images": images, "sizes": sizes, "boxes": boxes, "selected": np.ones((n, 1), bool), "masks": masks}


@pytest.mark.parametrize(
    ("adaptation", "global_colour", "local_colour"),
    [("unadapted", "R", "R"), ("A", "R", "B"), ("B", "B", "R"), ("C", "B", "B")],
)
def test_adaptations_route_crops_from_the_right_source(batch, adaptation, global_colour, local_colour):
    # The twin is anonymized on the fly: every box masked with blue fill, so the twin is all blue.
    views = make_views(jax.random.key(3), batch, crops=PLAIN, adaptation=adaptation, method="mask",
                       method_params=(("fill", BLUE),))
    assert views["global"].shape == (2, 2, 8, 8, 3) and views["local"].shape == (2, 3, 4, 4, 3)
    assert np.all(_colour_of(views["global"]) == global_colour)
    assert np.all(_colour_of(views["local"]) == local_colour)


def test_twin_required_for_adapted_models(batch):
    with pytest.raises(ValueError, match="needs the anonymized twin"):
        multicrop(jax.random.key(0), batch["images"], None, batch["sizes"], PLAIN, "A")


def test_crop_boxes_follow_torchvision_rules():
    keys = jax.random.split(jax.random.key(0), 256)
    boxes = np.asarray(jax.jit(jax.vmap(lambda k: crop_box(k, 40, 60, (0.05, 0.32))))(keys))
    top, left, h, w = boxes.T
    assert np.all((top >= 0) & (left >= 0) & (top + h <= 40) & (left + w <= 60))
    area = h * w / (40 * 60)
    assert area.min() > 0.03 and area.max() < 0.36  # scale range, up to rounding
    ratio = w / h
    assert ratio.min() > 0.7 and ratio.max() < 1.45
    # No draw fits (scale far above 1): the fallback is the central crop clamped to ratio 4/3.
    top, left, h, w = np.asarray(jax.jit(crop_box, static_argnums=3)(jax.random.key(1), 10, 40, (5.0, 6.0)))
    assert (h, w) == (10, 13) and left == (40 - 13) // 2 and top == 0


def test_resized_crop_of_the_whole_image_is_identity():
    image = jnp.asarray(np.random.default_rng(0).random((12, 12, 3)), jnp.float32)
    out = resized_crop(image, jnp.asarray([0.0, 0.0, 12.0, 12.0]), 12)
    np.testing.assert_allclose(out, image, atol=1e-5)


def test_photometric_steps_change_a_crop_and_stay_finite():
    cfg = dataclasses.replace(PLAIN, flip_prob=0.0, jitter_prob=1.0, grayscale_prob=0.0, blur_prob=(1.0, 1.0, 1.0),
                              solarize_prob=1.0)
    image = jnp.asarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3)), jnp.uint8)
    size = jnp.asarray([16, 16])
    one = jax.jit(augment_crop, static_argnames=("size", "scale", "cfg"))
    keys = jax.random.split(jax.random.key(0), 2)
    plain = np.asarray(one(keys[0], image, size, 0.0, 0.0, size=8, scale=(1.0, 1.0), cfg=cfg))
    augmented = np.asarray(one(keys[0], image, size, 1.0, 1.0, size=8, scale=(1.0, 1.0), cfg=cfg))
    other = np.asarray(one(keys[1], image, size, 1.0, 1.0, size=8, scale=(1.0, 1.0), cfg=cfg))
    assert np.isfinite(augmented).all()
    assert np.abs(augmented - plain).max() > 0.1  # blur and solarization applied
    assert np.abs(augmented - other).max() > 0.01  # jitter draws differ per key
    low, high = (0 - np.asarray(IMAGENET_MEAN)) / IMAGENET_STD, (1 - np.asarray(IMAGENET_MEAN)) / IMAGENET_STD
    assert np.all(augmented >= low - 1e-5) and np.all(augmented <= high + 1e-5)  # pixels stay in [0, 1]
