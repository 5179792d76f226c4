"""The box table: a split's cached detections as padded arrays, and the boxes a degree anonymizes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from anonjax.anonymize.detection import KINDS
from anonjax.anonymize.selection import select_boxes
from anonjax.data.identity import pixel_digest

CHANGED = "the image changed after its detection (its pixels are not the detected ones): run the anonymize stage again"


@dataclasses.dataclass(frozen=True)
class BoxTable:
    """Cached detections of a split, padded to a fixed ``M`` boxes per image.

    ids: the images that may be anonymized (failed images never, empty ones only when kept);
    boxes int32 [N, M, 4] xyxy; valid bool [N, M] (the first ``counts[i]`` boxes of row i);
    scores float32 [N, M]; kinds int8 [N, M] (index into ``KINDS``); sizes int32 [N, 2] (height, width);
    digests: the ``pixel_digest`` of each image as it was detected (boxes apply to those pixels only);
    failed: image id -> reason for every image whose reading or detection failed;
    empty: ids of images without any detection (excluded from ``ids`` unless kept).
    """

    ids: list[str]
    boxes: np.ndarray
    valid: np.ndarray
    scores: np.ndarray
    kinds: np.ndarray
    sizes: np.ndarray
    digests: list[str]
    failed: dict[str, str]
    empty: list[str]

    @property
    def counts(self) -> np.ndarray:
        """Boxes per image, int32 [N]."""
        return self.valid.sum(1).astype(np.int32)

    def changed(self, row: int, image: np.ndarray) -> str | None:
        """Why ``image`` is not the image that row ``row`` was detected on, or None when it is."""
        return CHANGED if pixel_digest(image) != self.digests[row] else None

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """Row of every id; KeyError naming an id that is not in the table (failed or excluded)."""
        index = {image_id: i for i, image_id in enumerate(self.ids)}
        missing = [i for i in ids if i not in index]
        if missing:
            raise KeyError(f"{len(missing)} image ids are not in the box table (failed or without "
                           f"detections), e.g. {missing[0]!r}")
        return np.array([index[i] for i in ids], np.int64)

    def selection(self, degree: float, seed: int, rows: Sequence[int] | None = None, *,
                  degree_kinds: Sequence[str] = ("text",)) -> np.ndarray:
        """bool [n, M]: the boxes anonymized at ``degree`` for ``rows`` (all rows when None).

        The degree applies to the boxes of ``degree_kinds`` (the paper's degrees are fractions of the text
        boxes): ``select_boxes`` chooses among them in their order within the image. Boxes of every other
        kind (faces, codes) are always anonymized.
        """
        rows = np.arange(len(self.ids)) if rows is None else np.asarray(rows)
        partial_codes = [KINDS.index(k) for k in degree_kinds]
        mask = np.zeros((len(rows), self.boxes.shape[1]), bool)
        for out, row in enumerate(rows):
            n = int(self.valid[row].sum())
            partial = np.isin(self.kinds[row, :n], partial_codes)
            mask[out, :n] = ~partial
            mask[out, np.flatnonzero(partial)] = select_boxes(int(partial.sum()), degree, seed=seed,
                                                              image_id=self.ids[row])
        return mask

    def batch(self, ids: Sequence[str], degree: float, seed: int, *,
              degree_kinds: Sequence[str] = ("text",)) -> tuple[np.ndarray, np.ndarray]:
        """Boxes int32 [B, M, 4] and the mask bool [B, M] of the boxes to anonymize, for ``apply``."""
        rows = self.rows(ids)
        return self.boxes[rows], self.selection(degree, seed, rows, degree_kinds=degree_kinds)
