"""The box-local path of ``apply`` against the dense jitted one, and which of them a call takes."""

import jax
import numpy as np
import pytest

from anonjax.anonymize import apply, methods

B, H, W, M = 3, 40, 56, 12
dense = jax.jit(apply, static_argnames="method")  # traced parameters: one compilation per method


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


@pytest.mark.parametrize("method", ["pixel", "mask", "blur"])
def test_box_local_path_gives_the_dense_pixels(method):
    """Bit-identical for pixelation and masking, within one grey level for blur (float32 sums in another
    order); pixels outside the selected boxes are the input's."""
    rng = np.random.default_rng(["pixel", "mask", "blur"].index(method))
    for images, boxes, selected in layouts(rng, 12):
        kw = params(rng, method)
        local = apply(images, boxes, selected, method, **kw)
        expected = np.asarray(dense(images, boxes, selected, method, **kw))
        diff = np.abs(local.astype(int) - expected)
        assert diff.max() <= (1 if method == "blur" else 0), (kw, diff.max())
        inside = np.zeros((B, H, W), bool)
        for i, j in zip(*np.nonzero(selected), strict=True):
            x0, y0, x1, y1 = np.clip(boxes[i, j], 0, [W, H, W, H])
            inside[i, y0:y1, x0:x1] = True
        np.testing.assert_array_equal(local[~inside], images[~inside])


@pytest.mark.parametrize("method", ["pixel", "blur"])
def test_tiny_and_thin_boxes(method):
    """One-pixel and one-pixel-wide boxes, and a blur wider than the box."""
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (1, 12, 16, 3), dtype=np.uint8)
    boxes = np.array([[[0, 0, 1, 1], [3, 0, 4, 12], [5, 2, 16, 3], [6, 5, 8, 7], [9, 4, 12, 11]]], np.int32)
    selected = np.ones((1, 5), bool)
    for kw in ({"cells": 1}, {"cells": 8}) if method == "pixel" else ({"sigma": 0.05}, {"sigma": 1.0}):
        local = apply(images, boxes, selected, method, **kw)
        assert np.abs(local.astype(int) - np.asarray(dense(images, boxes, selected, method, **kw))).max() <= 1
        if method == "pixel":
            np.testing.assert_array_equal(local, np.asarray(dense(images, boxes, selected, method, **kw)))


def test_nothing_visible_changes_nothing():
    images = np.random.default_rng(2).integers(0, 256, (1, H, W, 3), dtype=np.uint8)
    boxes = np.array([[[5, 5, 5, 20], [10, 10, 4, 30], [-9, 3, -1, 9], [W, 0, W + 5, H], [3, H, 9, H + 4]]], np.int32)
    for method in ("pixel", "blur", "mask"):
        np.testing.assert_array_equal(apply(images, boxes, np.ones((1, 5), bool), method), images)


def fail(*_args, **_kwargs):
    raise AssertionError("the other path ran")


def test_numpy_and_cpu_jax_arrays_take_the_box_local_path(monkeypatch):
    rng = np.random.default_rng(3)
    images, boxes, selected = next(layouts(rng, 1))
    expected = np.asarray(dense(images, boxes, selected, "pixel"))
    monkeypatch.setattr(methods, "_apply", fail)
    out = apply(images, boxes, selected, "pixel")
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, expected)
    on_cpu = [jax.device_put(a, jax.devices("cpu")[0]) for a in (images, boxes, selected)]
    out = apply(*on_cpu, "pixel")
    assert isinstance(out, jax.Array) and out.devices() == on_cpu[0].devices()
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_traced_arrays_take_the_dense_path(monkeypatch):
    images, boxes, selected = next(layouts(np.random.default_rng(4), 1))
    expected = apply(images, boxes, selected, "mask", fill=9)
    monkeypatch.setattr(methods, "anonymize_boxes", fail)
    out = jax.jit(apply, static_argnames="method")(images, boxes, selected, "mask", fill=9)
    assert isinstance(out, jax.Array)
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_arguments_are_checked_on_both_paths():
    images, boxes, selected = next(layouts(np.random.default_rng(5), 1))
    for call in (apply, jax.jit(apply, static_argnames="method")):
        with pytest.raises(ValueError, match="method must be one of"):
            call(images, boxes, selected, "smudge")
        with pytest.raises(ValueError, match=r"images must be uint8"):
            call(images.astype(np.float32), boxes, selected, "mask")
        with pytest.raises(ValueError, match=r"boxes must be \[B, M, 4\]"):
            call(images, boxes[:, :-1], selected, "mask")
    with pytest.raises(ValueError, match="sigma must be"):
        apply(images, boxes, selected, "blur", sigma=0.0)


def test_the_input_is_left_alone():
    images, boxes, selected = next(layouts(np.random.default_rng(6), 1))
    before = images.copy()
    for method in ("pixel", "blur", "mask"):
        apply(images, boxes, selected, method)
    np.testing.assert_array_equal(images, before)
