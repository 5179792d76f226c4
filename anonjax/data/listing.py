"""What a source lists for one split, before any pixel is read."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from anonjax.errors import DatasetError


@dataclasses.dataclass(frozen=True)
class Listing:
    """The items of one split as a source declares them.

    ``items[i]`` is what ``load`` turns into the uint8 RGB image of ``ids[i]`` (a file path, a record
    index, a page description); ``names[i]`` is how errors and skip lists refer to it (the file path
    for files). ``files`` says the items are files whose headers the reader checks before reading.
    ``load`` must be picklable so that reading can run in worker processes. ``refused`` lists
    (path, reason) of what the source would not list at all (a link out of its root).
    """

    ids: list[str]
    labels: np.ndarray
    class_names: list[str]
    items: Sequence[Any]
    names: list[str]
    load: Callable[[Any], np.ndarray]
    files: bool
    refused: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        n = len(self.ids)
        if not len(self.labels) == len(self.items) == len(self.names) == n:
            raise ValueError("a listing's ids, labels, items and names must have one entry per image")
        if len(set(self.ids)) != n:
            twice = next(i for i, count in Counter(self.ids).items() if count > 1)
            raise DatasetError(f"image id {twice!r} is listed more than once: ids must be unique")

    def take(self, keep: Sequence[int]) -> Listing:
        """The listing restricted to positions ``keep`` (in that order)."""
        return dataclasses.replace(
            self,
            ids=[self.ids[i] for i in keep],
            labels=np.asarray(self.labels, np.int32)[np.asarray(keep, dtype=np.int64)],
            items=[self.items[i] for i in keep],
            names=[self.names[i] for i in keep],
        )
