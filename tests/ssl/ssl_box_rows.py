"""Boxes of a few test images as the rows of a box table, for a ``PairSource``."""

import numpy as np

from anonjax.anonymize.box_table import BoxRows, BoxTable


def box_rows(boxes: np.ndarray, digests: list[str], degree: float = 1.0) -> BoxRows:
    """Text boxes [n, M, 4] of n images, each row of a table, selected at ``degree``."""
    valid = np.ones(boxes.shape[:2], bool)
    table = BoxTable.from_padded(ids=[f"{i}.png" for i in range(len(boxes))], boxes=boxes, valid=valid,
                                 scores=valid.astype(np.float32), kinds=np.ones(valid.shape, np.int8),
                                 sizes=np.zeros((len(boxes), 2), np.int32), digests=digests, failed={}, empty=[])
    return BoxRows(table, np.arange(len(boxes)), degree, seed=0)
