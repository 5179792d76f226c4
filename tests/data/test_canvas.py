"""The training canvas: aspect kept, boxes scaled outwards, fitted images kept once within a budget."""

import cv2
import numpy as np
from data_test_files import rgb

from anonjax.data import pixel_digest
from anonjax.data.canvas import FittedImages, fit_to_canvas, scale_boxes


def test_an_image_is_scaled_to_fit_and_placed_top_left():
    image = rgb(1, 64, 40)
    fitted = fit_to_canvas(image, 32)  # 2x too tall -> 32 x 20
    assert fitted.size == (32, 20) and fitted.scale == 0.5 and fitted.pixels.shape == (32, 32, 3)
    np.testing.assert_array_equal(fitted.content, cv2.resize(image, (20, 32), interpolation=cv2.INTER_AREA))
    assert not fitted.pixels[:, 20:].any() and fitted.digest == pixel_digest(image)
    small = fit_to_canvas(rgb(2, 8, 4), 16)  # enlarged bicubically
    assert small.size == (16, 8) and small.scale == 2.0


def test_scaled_boxes_cover_the_original_box():
    boxes = np.array([[3, 5, 10, 11], [0, 0, 64, 40]], np.int32)
    scaled = scale_boxes(boxes, 0.3, (19, 12))
    np.testing.assert_array_equal(scaled, [[0, 1, 3, 4], [0, 0, 12, 12]])  # floor(0.9), ceil(3.0), ...
    assert (scaled[:, :2] <= boxes[:, :2] * 0.3).all() and (scaled[0, 2:] >= boxes[0, 2:] * 0.3).all()


class _Counting:
    def __init__(self, images):
        self.images, self.reads = images, 0

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        self.reads += 1
        return None if self.images[i] is None else {"image": self.images[i]}


def test_fitted_images_are_kept_within_the_budget_only():
    dataset = _Counting([rgb(0, 20, 10), None])
    kept = FittedImages(dataset, 16, budget_mb=1)
    assert kept[0].size == (16, 8) and kept[1] is None
    kept[0], kept[1]
    assert dataset.reads == 2  # read once each, failures included
    again = FittedImages(dataset, 16, budget_mb=0)
    again[0], again[0]
    assert dataset.reads == 4
