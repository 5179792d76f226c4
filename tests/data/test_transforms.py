"""Eval transform (whole image to a normalised square) and the fixed canvas with content sizes."""

import cv2
import numpy as np
from data_test_files import rgb, save

from anonjax.data import IMAGENET_MEAN, IMAGENET_STD, EvalTransform, FitCanvas, iterate_batches, open_split
from configs import data as presets


def test_eval_transform_resizes_the_whole_page_and_normalizes():
    page = np.full((80, 60, 3), 255, dtype=np.uint8)
    page[-8:, -6:] = 0  # a mark in the bottom-right corner must survive: no crop
    out = EvalTransform(20)(page)
    assert out.shape == (20, 20, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[-1, -1], (0 - IMAGENET_MEAN) / IMAGENET_STD, rtol=1e-6)
    np.testing.assert_allclose(out[0, 0], (1 - IMAGENET_MEAN) / IMAGENET_STD, rtol=1e-6)
    area = cv2.resize(page, (20, 20), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(out, (area / 255.0 - IMAGENET_MEAN) / IMAGENET_STD, rtol=1e-5, atol=1e-5)


def test_eval_transform_enlarges_bicubically():
    small = rgb(0, 10, 12)
    expected = cv2.resize(small, (32, 32), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_allclose(EvalTransform(32)(small), (expected / 255.0 - IMAGENET_MEAN) / IMAGENET_STD,
                               rtol=1e-5, atol=1e-5)


def test_fit_canvas_keeps_aspect_and_reports_content():
    canvas, size = FitCanvas(32, 40)(rgb(1, 64, 40))  # 2x too tall -> 32 x 20
    assert size == (32, 20) and canvas.shape == (32, 40, 3)
    assert not canvas[:, 20:].any()
    small = rgb(2, 10, 8)
    canvas, size = FitCanvas(32, 40)(small)
    assert size == (10, 8) and np.array_equal(canvas[:10, :8], small) and canvas[10:].sum() == 0


def test_batches_carry_content_sizes(tmp_path):
    save(tmp_path / "c" / "x" / "0.png", rgb(0, 10, 10))
    save(tmp_path / "c" / "x" / "1.png", rgb(1, 30, 10))
    split = open_split(presets.folder(str(tmp_path / "c"), split_ratios=(1.0, 0.0, 0.0)), "train")
    batch = next(iterate_batches(split, 2, transform=FitCanvas(15, 15)))
    assert batch.images.shape == (2, 15, 15, 3) and batch.images.dtype == np.uint8
    np.testing.assert_array_equal(batch.sizes, [[10, 10], [15, 5]])
    np.testing.assert_array_equal(next(iterate_batches(split, 1)).sizes, [[10, 10]])
