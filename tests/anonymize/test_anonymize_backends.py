"""The numpy (box-local) and xla (dense) backends of ``apply`` give the same pixels, and the one named runs."""

import functools

import jax
import numpy as np
import pytest

from anonjax.anonymize import apply, methods

B, H, W, M = 3, 40, 56, 12
dense = jax.jit(functools.partial(apply, backend="xla"), static_argnames="method")  # one compilation per method


def layouts(rng: np.random.Generator, trials: int):
    """Images and boxes: random layouts with overlaps, boxes past every edge, on the edges, empty and
    inverted; stacked text lines (each overlapping the next); noise and black-and-white images (whose cell
    means often lie halfway between two grey levels)."""
    for trial in range(trials):
        if trial % 2:
            images = rng.integers(0, 256, (B, H, W, 3), dtype=np.uint8)
        else:
            images = np.where(rng.random((B, H, W, 1)) < 0.5, 0, 255).astype(np.uint8).repeat(3, -1)
        if trial % 3 == 0:
            start = np.stack([rng.integers(0, 16, (B, M)), np.broadcast_to(np.arange(M) * 3, (B, M))], -1)
            size = np.stack([rng.integers(8, 40, (B, M)), rng.integers(4, 8, (B, M))], -1)
        else:
            start = rng.integers(-6, [W + 3, H + 3], (B, M, 2))
            size = rng.integers(-3, [W // 2, H // 2], (B, M, 2))
        boxes = np.concatenate([start, start + size], -1).astype(np.int32)
        boxes[:, 0] = [0, 0, W, H]  # the whole image
        boxes[:, 1] = [0, H - 5, 9, H]  # on two edges
        selected = rng.random((B, M)) < 0.75
        yield images, boxes, selected


def params(rng: np.random.Generator, method: str) -> dict:
    return {"pixel": {"cells": int(rng.integers(1, 9))}, "blur": {"sigma": float(rng.uniform(0.05, 1))},
            "mask": {"fill": rng.integers(0, 256, 3).astype(np.uint8) if rng.random() < 0.5 else
                     np.uint8(rng.integers(0, 256))}}[method]


def tiny_and_thin(rng: np.random.Generator, method: str):
    """One-pixel and one-pixel-wide boxes, the fewest and most pixelation cells, a blur wider than the box."""
    images = rng.integers(0, 256, (1, 12, 16, 3), dtype=np.uint8)
    boxes = np.array([[[0, 0, 1, 1], [3, 0, 4, 12], [5, 2, 16, 3], [6, 5, 8, 7], [9, 4, 12, 11]]], np.int32)
    for kw in {"pixel": ({"cells": 1}, {"cells": 8}), "blur": ({"sigma": 0.05}, {"sigma": 1.0}),
               "mask": ({"fill": 0}, {"fill": np.array([1, 128, 255], np.uint8)})}[method]:
        yield images, boxes, np.ones((1, 5), bool), kw


@pytest.mark.parametrize("method", ["pixel", "mask", "blur"])
@pytest.mark.parametrize("shapes", ["layouts", "tiny_and_thin"])
def test_backends_anonymize_alike(method, shapes):
    """Bit-identical for pixelation and masking, within one grey level for blur (float32 sums in another
    order); on both, pixels outside the selected boxes are the input's."""
    rng = np.random.default_rng(["pixel", "mask", "blur"].index(method))
    cases = ([(*layout, params(rng, method)) for layout in layouts(rng, 12)] if shapes == "layouts"
             else tiny_and_thin(rng, method))
    for images, boxes, selected, kw in cases:
        local = apply(images, boxes, selected, method, **kw, backend="numpy")
        expected = np.asarray(apply(images, boxes, selected, method, **kw, backend="xla"))
        diff = np.abs(local.astype(int) - expected)
        assert diff.max() <= (1 if method == "blur" else 0), (kw, diff.max())
        b, h, w = images.shape[:3]
        inside = np.zeros((b, h, w), bool)
        for i, j in zip(*np.nonzero(selected), strict=True):
            x0, y0, x1, y1 = np.clip(boxes[i, j], 0, [w, h, w, h])
            inside[i, y0:y1, x0:x1] = True
        np.testing.assert_array_equal(local[~inside], images[~inside])
        np.testing.assert_array_equal(expected[~inside], images[~inside])


def test_nothing_visible_changes_nothing():
    images = np.random.default_rng(2).integers(0, 256, (1, H, W, 3), dtype=np.uint8)
    boxes = np.array([[[5, 5, 5, 20], [10, 10, 4, 30], [-9, 3, -1, 9], [W, 0, W + 5, H], [3, H, 9, H + 4]]], np.int32)
    for method in ("pixel", "blur", "mask"):
        np.testing.assert_array_equal(apply(images, boxes, np.ones((1, 5), bool), method), images)


def fail(*_args, **_kwargs):
    raise AssertionError("the other path ran")


def test_the_backend_named_is_the_one_that_runs(monkeypatch):
    """numpy: numpy arrays back for numpy arrays, jax arrays on their devices for jax arrays; xla: also inside
    ``jax.jit``, where numpy cannot run."""
    rng = np.random.default_rng(3)
    images, boxes, selected = next(layouts(rng, 1))
    expected = np.asarray(dense(images, boxes, selected, "pixel"))
    monkeypatch.setattr(methods, "_apply", fail)
    out = apply(images, boxes, selected, "pixel", backend="numpy")
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, expected)
    on_cpu = [jax.device_put(a, jax.devices("cpu")[0]) for a in (images, boxes, selected)]
    out = apply(*on_cpu, "pixel", backend="numpy")
    assert isinstance(out, jax.Array) and out.devices() == on_cpu[0].devices()
    np.testing.assert_array_equal(np.asarray(out), expected)
    with pytest.raises(ValueError, match="backend 'numpy' needs concrete values, but images, boxes, box_mask"):
        jax.jit(apply, static_argnames="method")(images, boxes, selected, "pixel")
    monkeypatch.undo()
    monkeypatch.setattr(methods, "anonymize_boxes", fail)
    np.testing.assert_array_equal(np.asarray(apply(images, boxes, selected, "pixel", backend="xla")), expected)
    np.testing.assert_array_equal(np.asarray(dense(images, boxes, selected, "pixel")), expected)


def test_arguments_are_checked_on_both_paths():
    images, boxes, selected = next(layouts(np.random.default_rng(5), 1))
    for call in (apply, dense):
        with pytest.raises(ValueError, match="method must be one of"):
            call(images, boxes, selected, "smudge")
        with pytest.raises(ValueError, match=r"images must be uint8"):
            call(images.astype(np.float32), boxes, selected, "mask")
        with pytest.raises(ValueError, match=r"boxes must be \[B, M, 4\]"):
            call(images, boxes[:, :-1], selected, "mask")
    with pytest.raises(ValueError, match="sigma must be"):
        apply(images, boxes, selected, "blur", sigma=0.0)
    with pytest.raises(ValueError, match="backend must be one of"):
        apply(images, boxes, selected, "mask", backend="opencv")


def test_the_input_is_left_alone():
    images, boxes, selected = next(layouts(np.random.default_rng(6), 1))
    before = images.copy()
    for method in ("pixel", "blur", "mask"):
        apply(images, boxes, selected, method)
    np.testing.assert_array_equal(images, before)
