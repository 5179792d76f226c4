"""Levels equalized for the detectors: close values pulled apart, outliers and tone curves without effect."""

import numpy as np
import pytest

from anonjax.anonymize.contrast import equalize_levels


def test_equalized_levels_separate_two_close_values_despite_an_outlier():
    dark = np.full((200, 300, 3), 12, np.uint8)
    dark[50:60, 20:280] = 16
    dark[0, 0] = 255
    out = equalize_levels(dark)
    assert out[0, 1, 0] == 0 and out[55, 100, 0] >= 230 and out[0, 0, 0] == 255


def test_equalized_levels_ignore_a_monotone_tone_curve():
    rng = np.random.default_rng(0)
    image = rng.integers(100, 140, (50, 50, 3)).astype(np.uint8)
    curve = np.clip(50 + np.clip(np.arange(256) - 100, 0, None) ** 1.4, 0, 255).astype(np.uint8)  # 100..139 apart
    np.testing.assert_array_equal(equalize_levels(curve[image]), equalize_levels(image))


def test_one_level_and_wrong_types():
    flat = np.full((4, 4, 3), 7, np.uint8)
    np.testing.assert_array_equal(equalize_levels(flat), flat)
    with pytest.raises(ValueError, match="uint8"):
        equalize_levels(flat.astype(np.uint16))
