"""A split's images by position, each checked against the split's id list: what detection, statistics and the
paired datasets read."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from anonjax.data.reader import Split


def image_loader(split: Split) -> Callable[[int], np.ndarray]:
    """``load(i)``: the image of ``split.ids[i]``; raises ValueError when it cannot be decoded or ids disagree."""

    def load(i: int) -> np.ndarray:
        record = split.dataset[i]
        if record is None:
            raise ValueError(f"image {split.ids[i]!r} could not be decoded")
        if record["id"] != split.ids[i]:
            raise ValueError(f"record {i} is {record['id']!r}, expected {split.ids[i]!r}")
        return record["image"]

    return load


def images_or_none(split: Split, load: Callable[[int], np.ndarray]) -> Iterator[tuple[str, np.ndarray | None]]:
    """(id, image) of every image of ``split``; None for an image that cannot be read (it fails closed)."""
    for i, image_id in enumerate(split.ids):
        try:
            yield image_id, load(i)
        except ValueError:
            yield image_id, None
