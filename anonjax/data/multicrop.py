"""DINOv2 multi-crop augmentation on the accelerator, with each crop drawn from the original image or
its anonymized twin according to the adaptation.

Per image: 2 global crops (random-resized, bicubic, flip, colour jitter, grayscale; blur always on the
first, blur 0.1 and solarization 0.2 on the second) and ``local_number`` local crops (blur 0.5), with
the official sizes, scales and probabilities as defaults. Everything is a pure jittable function of a
PRNG key and uint8 images, so crops and on-the-fly anonymization run where the model runs.

Images come on a fixed canvas [B, H, W, 3] with their true sizes [B, 2] (height, width): crops are drawn
inside the true image, so images of any aspect ratio share one static shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from anonjax.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from anonjax.layout import ANONYMIZED, ORIGINAL, UNADAPTED

# (global crop source, local crop source) of each model of the paper.
ADAPTATION_SOURCES = {
    UNADAPTED: (ORIGINAL, ORIGINAL),
    "A": (ORIGINAL, ANONYMIZED),
    "B": (ANONYMIZED, ORIGINAL),
    "C": (ANONYMIZED, ANONYMIZED),
}


@dataclass(frozen=True)
class CropConfig:
    """Sizes and probabilities of the multi-crop augmentation (official DINOv2 defaults)."""

    global_size: int = 224
    global_scale: tuple[float, float] = (0.32, 1.0)
    local_number: int = 8
    local_size: int = 96
    local_scale: tuple[float, float] = (0.05, 0.32)
    flip_prob: float = 0.5
    jitter_prob: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1
    grayscale_prob: float = 0.2
    blur_kernel: int = 9
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_prob: tuple[float, float, float] = (1.0, 0.1, 0.5)  # global 1, global 2, local
    solarize_prob: float = 0.2  # second global crop only
    solarize_threshold: int = 128

    @classmethod
    def from_config(cls, crops, augment) -> CropConfig:
        """From ``config.train.crops`` and ``config.train.augment``."""
        return cls(
            global_size=crops.global_size, global_scale=tuple(crops.global_scale),
            local_number=crops.local_number, local_size=crops.local_size, local_scale=tuple(crops.local_scale),
            flip_prob=augment.flip_prob, jitter_prob=augment.jitter_prob, brightness=augment.brightness,
            contrast=augment.contrast, saturation=augment.saturation, hue=augment.hue,
            grayscale_prob=augment.grayscale_prob, blur_kernel=augment.blur_kernel,
            blur_sigma=tuple(augment.blur_sigma), blur_prob=tuple(augment.blur_prob),
            solarize_prob=augment.solarize_prob, solarize_threshold=augment.solarize_threshold,
        )


def crop_box(rng: jax.Array, height, width, scale: tuple[float, float], ratio=(3 / 4, 4 / 3)) -> jax.Array:
    """A random-resized-crop box (top, left, h, w) as torchvision draws it: 10 tries of area fraction
    ``scale`` and log-uniform aspect ``ratio`` that fit, else the central crop at the clamped ratio."""
    height = jnp.asarray(height, jnp.float32)
    width = jnp.asarray(width, jnp.float32)
    k_area, k_ratio, k_top, k_left = jax.random.split(rng, 4)
    area = height * width * jax.random.uniform(k_area, (10,), minval=scale[0], maxval=scale[1])
    aspect = jnp.exp(jax.random.uniform(k_ratio, (10,), minval=math.log(ratio[0]), maxval=math.log(ratio[1])))
    w = jnp.round(jnp.sqrt(area * aspect))
    h = jnp.round(jnp.sqrt(area / aspect))
    fits = (w > 0) & (h > 0) & (w <= width) & (h <= height)
    first = jnp.argmax(fits)
    h, w = h[first], w[first]
    top = jnp.floor(jax.random.uniform(k_top) * (height - h + 1))
    left = jnp.floor(jax.random.uniform(k_left) * (width - w + 1))
    # Fallback: the whole image cropped to the nearest allowed aspect ratio, centred.
    in_ratio = width / height
    fw = jnp.where(in_ratio < ratio[0], width, jnp.where(in_ratio > ratio[1], jnp.round(height * ratio[1]), width))
    fh = jnp.where(in_ratio < ratio[0], jnp.round(width / ratio[0]), height)
    fallback = jnp.stack([jnp.floor((height - fh) / 2), jnp.floor((width - fw) / 2), fh, fw])
    return jnp.where(jnp.any(fits), jnp.stack([top, left, h, w]), fallback)


def resized_crop(image: jax.Array, box: jax.Array, size: int) -> jax.Array:
    """The region ``box`` (top, left, h, w) of a float image [H, W, C], resized to [size, size] bicubically
    with antialiasing."""
    top, left, h, w = box[0], box[1], box[2], box[3]
    scale = jnp.stack([size / h, size / w])
    translation = -jnp.stack([top, left]) * scale
    return jax.image.scale_and_translate(
        image, (size, size, image.shape[-1]), (0, 1), scale, translation, method="cubic", antialias=True
    )


def _gray(image: jax.Array) -> jax.Array:
    return (image @ jnp.asarray([0.299, 0.587, 0.114], image.dtype))[..., None]


def _rgb_to_hsv(rgb: jax.Array) -> jax.Array:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = jnp.max(rgb, axis=-1)
    delta = value - jnp.min(rgb, axis=-1)
    safe = jnp.where(delta > 0, delta, 1.0)
    sat = jnp.where(value > 0, delta / jnp.where(value > 0, value, 1.0), 0.0)
    hue = jnp.where(value == r, (g - b) / safe, jnp.where(value == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    hue = jnp.where(delta > 0, (hue / 6.0) % 1.0, 0.0)
    return jnp.stack([hue, sat, value], axis=-1)


def _hsv_to_rgb(hsv: jax.Array) -> jax.Array:
    h, s, v = hsv[..., 0:1], hsv[..., 1:2], hsv[..., 2:3]
    k = (jnp.asarray([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return v - v * s * jnp.clip(jnp.minimum(k, 4.0 - k), 0.0, 1.0)


def _shift_hue(rgb: jax.Array, shift) -> jax.Array:
    hsv = _rgb_to_hsv(rgb)
    return _hsv_to_rgb(hsv.at[..., 0].set((hsv[..., 0] + shift) % 1.0))


def color_jitter(rng: jax.Array, image: jax.Array, cfg: CropConfig) -> jax.Array:
    """Brightness, contrast, saturation and hue changes in a random order (torchvision ColorJitter)."""
    k_order, k_b, k_c, k_s, k_h = jax.random.split(rng, 5)
    b = jax.random.uniform(k_b, minval=1 - cfg.brightness, maxval=1 + cfg.brightness)
    c = jax.random.uniform(k_c, minval=1 - cfg.contrast, maxval=1 + cfg.contrast)
    s = jax.random.uniform(k_s, minval=1 - cfg.saturation, maxval=1 + cfg.saturation)
    h = jax.random.uniform(k_h, minval=-cfg.hue, maxval=cfg.hue)

    def blend(x, other, factor):
        return jnp.clip(factor * x + (1 - factor) * other, 0.0, 1.0)

    ops = (
        lambda x: jnp.clip(x * b, 0.0, 1.0),
        lambda x: blend(x, jnp.mean(_gray(x)), c),
        lambda x: blend(x, _gray(x), s),
        lambda x: _shift_hue(x, h),
    )
    order = jax.random.permutation(k_order, len(ops))
    # One switch in a loop body: the four ops are compiled once, applied in the drawn order.
    return jax.lax.fori_loop(0, len(ops), lambda i, x: jax.lax.switch(order[i], ops, x), image)


def gaussian_blur(image: jax.Array, sigma, kernel_size: int) -> jax.Array:
    """Separable Gaussian blur with reflect padding (torchvision GaussianBlur)."""
    half = kernel_size // 2
    x = jnp.arange(-half, half + 1, dtype=jnp.float32)
    kernel = jnp.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / jnp.sum(kernel)
    padded = jnp.pad(image, ((half, half), (half, half), (0, 0)), mode="reflect")
    n_h, n_w = image.shape[0], image.shape[1]
    rows = sum(kernel[i] * padded[i : i + n_h] for i in range(kernel_size))
    return sum(kernel[i] * rows[:, i : i + n_w] for i in range(kernel_size))


def clamp_to_size(image: jax.Array, true_size: jax.Array) -> jax.Array:
    """The canvas with everything outside the true image replaced by its nearest edge pixel, so that the
    interpolation kernel at a crop's border never reads padding (nor, for the twin, unanonymized pixels
    of the original that padding might hold)."""
    rows = jnp.minimum(jnp.arange(image.shape[0]), true_size[0] - 1)
    cols = jnp.minimum(jnp.arange(image.shape[1]), true_size[1] - 1)
    return image[rows][:, cols]


def augment_crop(
    rng: jax.Array, image: jax.Array, true_size: jax.Array, blur_prob, solarize_prob, *, size: int, scale,
    cfg: CropConfig,
) -> jax.Array:
    """One augmented, ImageNet-normalized crop [size, size, 3] of a uint8 canvas image.

    ``blur_prob`` and ``solarize_prob`` may differ per crop (arrays under ``vmap``); steps whose
    probability is 0 in ``cfg`` for every crop are left out of the program.
    """
    keys = jax.random.split(rng, 8)
    box = crop_box(keys[0], true_size[0], true_size[1], scale)
    image = clamp_to_size(image, true_size)
    x = jnp.clip(resized_crop(image.astype(jnp.float32) / 255.0, box, size), 0.0, 1.0)
    if cfg.flip_prob > 0:
        x = jnp.where(jax.random.bernoulli(keys[1], cfg.flip_prob), x[:, ::-1], x)
    if cfg.jitter_prob > 0:
        x = jnp.where(jax.random.bernoulli(keys[2], cfg.jitter_prob), color_jitter(keys[3], x, cfg), x)
    if cfg.grayscale_prob > 0:
        x = jnp.where(jax.random.bernoulli(keys[4], cfg.grayscale_prob), jnp.broadcast_to(_gray(x), x.shape), x)
    if max(cfg.blur_prob) > 0:
        sigma = jax.random.uniform(keys[5], minval=cfg.blur_sigma[0], maxval=cfg.blur_sigma[1])
        x = jnp.where(jax.random.bernoulli(keys[6], blur_prob), gaussian_blur(x, sigma, cfg.blur_kernel), x)
    if cfg.solarize_prob > 0:
        solarized = jnp.where(x >= cfg.solarize_threshold / 255.0, 1.0 - x, x)
        x = jnp.where(jax.random.bernoulli(keys[7], solarize_prob), solarized, x)
    return (x - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)


def multicrop(
    rng: jax.Array, original: jax.Array, anonymized: jax.Array | None, sizes: jax.Array, cfg: CropConfig,
    adaptation: str = UNADAPTED,
) -> dict[str, jax.Array]:
    """Global crops [B, 2, G, G, 3] and local crops [B, L, l, l, 3] of a batch.

    ``original`` and ``anonymized`` are uint8 [B, H, W, 3] canvases (the twin may be None for the
    unadapted model), ``sizes`` int [B, 2] the true (height, width). ``adaptation`` (static) picks the
    source of the global and of the local crops (``ADAPTATION_SOURCES``).
    """
    if adaptation not in ADAPTATION_SOURCES:
        raise ValueError(f"unknown adaptation {adaptation!r}; use one of {sorted(ADAPTATION_SOURCES)}")
    global_src, local_src = ADAPTATION_SOURCES[adaptation]
    if ANONYMIZED in (global_src, local_src) and anonymized is None:
        raise ValueError(f"adaptation {adaptation!r} needs the anonymized twin of every image, got None")
    source = {ORIGINAL: original, ANONYMIZED: anonymized}
    n = original.shape[0]
    keys = jax.random.split(rng, (n, 2 + cfg.local_number))

    def crops(images, keys, blur, solarize, **kw):
        """Crops [B, C, s, s, 3]: keys [B, C], per-crop probabilities [C]."""
        def per_image(k, img, hw):
            return jax.vmap(lambda kc, b, so: augment_crop(kc, img, hw, b, so, cfg=cfg, **kw))(k, blur, solarize)

        return jax.vmap(per_image)(keys, images, sizes)

    global_views = crops(
        source[global_src], keys[:, :2], jnp.asarray(cfg.blur_prob[:2]), jnp.asarray([0.0, cfg.solarize_prob]),
        size=cfg.global_size, scale=cfg.global_scale,
    )
    n_local = cfg.local_number
    local_views = crops(
        source[local_src], keys[:, 2:], jnp.full((n_local,), cfg.blur_prob[2]), jnp.zeros((n_local,)),
        size=cfg.local_size, scale=cfg.local_scale,
    )
    return {"global": global_views, "local": local_views}
