"""Eval transform: the whole image to a normalised square."""

import cv2
import numpy as np
from data_test_files import rgb

from anonjax.data import IMAGENET_MEAN, IMAGENET_STD, EvalTransform


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
