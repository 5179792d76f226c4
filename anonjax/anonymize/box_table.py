"""The box table: a split's cached detections stored ragged, and the boxes a degree anonymizes.

Row ``i`` owns the boxes ``offsets[i] .. offsets[i + 1] - 1`` of one flat array per field, so the table costs
21 bytes per box whatever the largest page holds; rows are padded only when a batch is cut out of it
(``padded``, ``batch``), to the table's ``width`` so that every batch of a split has the same shape.

``save`` writes the table as plain ``.npy`` files (one per array, ids and digests as fixed-width UTF-8) and
``open`` maps them read-only: every model and every worker process of a host then reads one copy in the page
cache, and a table pickled to a worker process travels as its folder's name, not as its arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from anonjax.anonymize.detection import KINDS
from anonjax.anonymize.selection import select_boxes
from anonjax.data.identity import pixel_digest
from anonjax.files import atomic_open, save_json

FORMAT = 1  # the version of the files ``save`` writes; ``open`` maps no other
_ARRAYS = {"offsets": np.int64, "flat_boxes": np.int32, "flat_scores": np.float32, "flat_kinds": np.int8,
           "sizes": np.int32}
_MARKER = "table.json"  # written last: a folder without it holds no table

CHANGED = "the image changed after its detection (its pixels are not the detected ones): run the anonymize stage again"


class Padded(NamedTuple):
    """Rows of a table padded to a common count ``M``: boxes int32 [n, M, 4], valid bool [n, M], scores
    float32 [n, M], kinds int8 [n, M] (-1 where not valid)."""

    boxes: np.ndarray
    valid: np.ndarray
    scores: np.ndarray
    kinds: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class BoxTable:
    """Cached detections of a split, ragged.

    ids: the images that may be anonymized (failed images never, empty ones only when kept);
    offsets int64 [N + 1]: row i's boxes are ``flat_*[offsets[i]:offsets[i + 1]]``;
    flat_boxes int32 [T, 4] xyxy, flat_scores float32 [T], flat_kinds int8 [T] (index into ``KINDS``);
    sizes int32 [N, 2] (height, width);
    digests: the ``pixel_digest`` of each image as it was detected (boxes apply to those pixels only);
    failed: image id -> reason for every image whose reading or detection failed;
    empty: ids of images without any detection (excluded from ``ids`` unless kept);
    min_width: the least count that batches are padded to (see ``width``).
    """

    ids: Sequence[str]
    offsets: np.ndarray
    flat_boxes: np.ndarray
    flat_scores: np.ndarray
    flat_kinds: np.ndarray
    sizes: np.ndarray
    digests: Sequence[str]
    failed: dict[str, str]
    empty: list[str]
    min_width: int = 0
    folder: str | None = None  # where ``open`` mapped the arrays from

    def __post_init__(self) -> None:
        n, total = len(self.ids), len(self.flat_boxes)
        if self.offsets.shape != (n + 1,) or self.offsets[0] != 0 or self.offsets[-1] != total \
                or (np.diff(self.offsets) < 0).any() or len(self.flat_scores) != total or len(self.flat_kinds) != total:
            raise ValueError(f"offsets {self.offsets.shape} do not split {total} boxes into {n} rows")

    def __reduce_ex__(self, protocol: Any) -> Any:
        """A mapped table pickles as its folder (a worker process maps the same files); others as their arrays."""
        if self.folder is None:
            return super().__reduce_ex__(protocol)
        return BoxTable.open, (self.folder, self.info)

    def save(self, folder: str | Path, **info: Any) -> None:
        """Write the table into ``folder`` as ``.npy`` files, then ``table.json`` (with ``info``) last."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        arrays.update(ids=_fixed_width(self.ids), digests=_fixed_width(self.digests))
        for name, array in arrays.items():
            with atomic_open(folder / f"{name}.npy", "wb") as f:
                np.save(f, array, allow_pickle=False)
        save_json(folder / _MARKER, {"format": FORMAT, "failed": self.failed, "empty": list(self.empty),
                                     "min_width": self.min_width, "info": info})

    @classmethod
    def open(cls, folder: str | Path, info: Any = None) -> BoxTable | None:
        """The table ``save`` wrote into ``folder`` with ``info``, its arrays memory-mapped read-only; None when
        there is none, or one of another format, other ``info`` or with a damaged file (never a misread)."""
        folder = Path(folder)
        try:
            marker = json.loads((folder / _MARKER).read_text())
            if marker["format"] != FORMAT or (info is not None and marker["info"] != info):
                return None
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                      for name in (*_ARRAYS, "ids", "digests")}
            if any(arrays[name].dtype != dtype for name, dtype in _ARRAYS.items()) \
                    or any(arrays[name].dtype.kind != "S" for name in ("ids", "digests")) \
                    or arrays["flat_boxes"].shape[1:] != (4,) or arrays["sizes"].shape[1:] != (2,) \
                    or not len(arrays["ids"]) == len(arrays["digests"]) == len(arrays["sizes"]):
                return None
            return cls(ids=Strings(arrays.pop("ids")), digests=Strings(arrays.pop("digests")), **arrays,
                       failed=dict(marker["failed"]), empty=list(marker["empty"]), min_width=int(marker["min_width"]),
                       folder=str(folder))
        except (OSError, ValueError, KeyError, TypeError):  # absent or damaged: the caller builds it again
            return None

    @property
    def info(self) -> Any:
        """The ``info`` the mapped table was saved with (None for a table in memory)."""
        if self.folder is None:
            return None
        return json.loads((Path(self.folder) / _MARKER).read_text())["info"]

    @classmethod
    def from_padded(cls, *, ids: list[str], boxes: np.ndarray, valid: np.ndarray, scores: np.ndarray,
                    kinds: np.ndarray, sizes: np.ndarray, digests: list[str], failed: dict[str, str],
                    empty: list[str]) -> BoxTable:
        """The table of padded arrays [N, M, ...] whose row i holds its boxes first (``valid[i]`` a prefix),
        padded to ``M`` in its batches too."""
        counts = np.asarray(valid).sum(1)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        valid = np.asarray(valid, bool)
        return cls(ids=list(ids), offsets=offsets, flat_boxes=np.asarray(boxes, np.int32)[valid].reshape(-1, 4),
                   flat_scores=np.asarray(scores, np.float32)[valid], flat_kinds=np.asarray(kinds, np.int8)[valid],
                   sizes=np.asarray(sizes, np.int32).reshape(-1, 2), digests=list(digests), failed=dict(failed),
                   empty=list(empty), min_width=np.shape(valid)[1])

    @functools.cached_property
    def counts(self) -> np.ndarray:
        """Boxes per image, int32 [N]."""
        return np.diff(self.offsets).astype(np.int32)

    @functools.cached_property
    def width(self) -> int:
        """The count every batch is padded to: the most boxes of any row (or ``min_width``, if more)."""
        return int(self.counts.max(initial=self.min_width))

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {image_id: i for i, image_id in enumerate(self.ids)}

    def nbytes(self) -> int:
        """Bytes of the numeric arrays (the ids and digests aside)."""
        return sum(a.nbytes for a in (self.offsets, self.flat_boxes, self.flat_scores, self.flat_kinds, self.sizes))

    def changed(self, row: int, image: np.ndarray) -> str | None:
        """Why ``image`` is not the image that row ``row`` was detected on, or None when it is."""
        return CHANGED if pixel_digest(image) != self.digests[row] else None

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """Row of every id; KeyError naming an id that is not in the table (failed or excluded)."""
        index = self._index
        missing = [i for i in ids if i not in index]
        if missing:
            raise KeyError(f"{len(missing)} image ids are not in the box table (failed or without "
                           f"detections), e.g. {missing[0]!r}")
        return np.array([index[i] for i in ids], np.int64)

    def row_boxes(self, row: int) -> np.ndarray:
        """The boxes of row ``row``, int32 [n, 4]."""
        return self.flat_boxes[self.offsets[row]:self.offsets[row + 1]]

    def row_kinds(self, row: int) -> np.ndarray:
        """The kinds of the boxes of row ``row``, int8 [n]."""
        return self.flat_kinds[self.offsets[row]:self.offsets[row + 1]]

    def padded(self, rows: Sequence[int] | None = None, width: int | None = None) -> Padded:
        """``rows`` (all when None) padded to ``width`` boxes (the table's ``width`` when None)."""
        rows = np.arange(len(self.ids)) if rows is None else np.asarray(rows, np.int64).reshape(-1)
        width = self.width if width is None else width
        counts = self.offsets[rows + 1] - self.offsets[rows]
        valid = np.arange(width)[None, :] < counts[:, None]
        source = (self.offsets[rows][:, None] + np.arange(width)[None, :])[valid]
        out = Padded(np.zeros((len(rows), width, 4), np.int32), valid, np.zeros((len(rows), width), np.float32),
                     np.full((len(rows), width), -1, np.int8))
        out.boxes[valid], out.scores[valid], out.kinds[valid] = (self.flat_boxes[source], self.flat_scores[source],
                                                                 self.flat_kinds[source])
        return out

    def selection(self, degree: float, seed: int, rows: Sequence[int] | None = None, *,
                  degree_kinds: Sequence[str] = ("text",), width: int | None = None) -> np.ndarray:
        """bool [n, width]: the boxes anonymized at ``degree`` for ``rows`` (all rows when None), padded to
        ``width`` (the table's ``width`` when None).

        The degree applies to the boxes of ``degree_kinds`` (the paper's degrees are fractions of the text
        boxes): ``select_boxes`` chooses among them in their order within the image. Boxes of every other
        kind (faces, codes) are always anonymized.
        """
        rows = np.arange(len(self.ids)) if rows is None else np.asarray(rows)
        partial_codes = [KINDS.index(k) for k in degree_kinds]
        mask = np.zeros((len(rows), self.width if width is None else width), bool)
        for out, row in enumerate(rows):
            kinds = self.row_kinds(row)
            partial = np.isin(kinds, partial_codes)
            mask[out, :len(kinds)] = ~partial
            mask[out, np.flatnonzero(partial)] = select_boxes(int(partial.sum()), degree, seed=seed,
                                                              image_id=self.ids[row])
        return mask

    def batch(self, ids: Sequence[str], degree: float, seed: int, *,
              degree_kinds: Sequence[str] = ("text",)) -> tuple[np.ndarray, np.ndarray]:
        """Boxes int32 [B, width, 4] and the mask bool [B, width] of the boxes to anonymize, for ``apply``."""
        rows = self.rows(ids)
        return self.padded(rows).boxes, self.selection(degree, seed, rows, degree_kinds=degree_kinds)


class Strings(Sequence[str]):
    """A read-only list of strings over a fixed-width UTF-8 array (a memory map), equal to a list of the same
    strings."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [value.decode() for value in self.array[index]]
        return self.array[index].decode()

    def __iter__(self) -> Iterator[str]:
        return (value.decode() for value in self.array)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking sequences are not hashed


def _fixed_width(strings: Sequence[str]) -> np.ndarray:
    """``strings`` as a fixed-width UTF-8 array (at least one byte wide, so that an empty list saves too)."""
    encoded = [s.encode() for s in strings]
    return np.array(encoded, dtype=f"S{max(map(len, encoded), default=1) or 1}")


@dataclasses.dataclass(frozen=True, eq=False)
class BoxRows:
    """What one adapted model anonymizes in a list of images: the table rows ``rows`` (one per image of the list)
    with the boxes selected at ``degree``, cut out of the shared table one batch at a time."""

    table: BoxTable
    rows: np.ndarray
    degree: float
    seed: int
    degree_kinds: tuple[str, ...] = ("text",)

    def __len__(self) -> int:
        return len(self.rows)

    def digest(self, position: int) -> str:
        """The pixel digest that the boxes of image ``position`` were detected on."""
        return self.table.digests[int(self.rows[position])]

    def batch(self, positions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Boxes int32 [B, width, 4] and selected bool [B, width] of the images at ``positions``."""
        rows = self.rows[np.asarray(positions, np.int64)]
        return self.table.padded(rows).boxes, self.table.selection(self.degree, self.seed, rows,
                                                                   degree_kinds=self.degree_kinds)
