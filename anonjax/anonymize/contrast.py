"""What detectors and the privacy measures look at: an image with its grey levels spread as a viewer's
contrast stretch would spread them.

A person can apply any tone curve to a published image (levels, gamma, a window), so text or a face that is
faint or dark in the pixels must count as visible. ``equalize_levels`` maps each grey level in proportion to
how many pixels use it, capped at ``SHARE`` of the image: every level that at least that share of the pixels
uses gets an equal step of the output range, rarer levels (noise tails, a few outlier pixels) a step in
proportion to their count. So a name in two levels of a dark page becomes black on white, one bright pixel
cannot compress the rest again, and a large uniform background takes no more of the range than a line of
text. The mapping depends only on the ranks and counts of the levels, so a monotone tone curve applied
to the image before changes nothing after (up to levels it merges). An image using all levels evenly, such
as most photographs, is left about as it is.
"""

from __future__ import annotations

import numpy as np

SHARE = 1 / 4096  # of all values: a level used this often counts fully (about 240 pixels of a 1 MP RGB page)


def equalize_levels(image: np.ndarray, share: float = SHARE) -> np.ndarray:
    """``image`` (uint8, any shape; the channels of RGB share one mapping, so hues keep their order) with its
    levels spread over 0..255 by their capped counts; an image of one level is returned as it is."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    weights = np.minimum(np.bincount(image.ravel(), minlength=256), max(1.0, share * image.size))
    cumulative = np.cumsum(weights, dtype=np.float64)
    first = cumulative[int(image.min())]
    span = cumulative[-1] - first
    if span <= 0:
        return image
    table = np.rint(np.clip(cumulative - first, 0, None) * (255.0 / span)).astype(np.uint8)
    return table[image]
