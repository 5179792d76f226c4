"""Box overlaps on hand-computed cases."""

import numpy as np
import pytest

from anonjax.privacy.box_overlap import covered_fraction, iou, matches, overlap_of_smaller


def test_iou_and_overlap_of_smaller():
    a = [[0, 0, 10, 10]]
    b = [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30], [2, 2, 4, 4]]
    np.testing.assert_allclose(iou(a, b), [[50 / 150, 1.0, 0.0, 4 / 100]])
    np.testing.assert_allclose(overlap_of_smaller(a, b), [[0.5, 1.0, 0.0, 1.0]])
    assert iou(np.zeros((0, 4)), b).shape == (0, 4)


def test_matches_are_one_to_one_at_the_threshold():
    reference = [[0, 0, 10, 10], [1, 0, 11, 10]]
    assert matches(reference, [[0, 0, 10, 10]]).tolist() == [True, False]  # one detection, one face
    assert matches(reference, [[0, 0, 10, 10], [1, 0, 11, 10]]).tolist() == [True, True]
    assert matches([[0, 0, 10, 10]], [[5, 0, 15, 10]]).tolist() == [False]  # IoU 1/3
    assert matches([[0, 0, 10, 10]], [[0, 0, 10, 20]], threshold=0.5).tolist() == [True]  # IoU exactly 0.5
    assert matches([[0, 0, 10, 10]], np.zeros((0, 4))).tolist() == [False]


def test_covered_fraction_counts_the_union_once():
    cover = [[0, 0, 6, 10], [4, 0, 8, 10]]  # overlapping: together x in [0, 8)
    assert covered_fraction([[0, 0, 10, 10]], cover, 20, 20) == pytest.approx([0.8])
    assert covered_fraction([[0.5, 0, 9.5, 10]], [], 20, 20) == pytest.approx([0.0])
    assert covered_fraction([[15, 15, 25, 25]], [[0, 0, 20, 20]], 20, 20) == pytest.approx([1.0])  # clipped
