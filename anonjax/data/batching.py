"""Batches of a split through grain: (ids, images, labels), every decoded image exactly once.

Reading (and the optional per-image ``transform``) runs in grain's threads, or in ``num_workers``
processes; a file that fails to decode travels as a marker, is added to ``split.skipped`` in this
process and never enters a batch. Batches are therefore always full except the last one, which holds
the remainder (fewer rows) unless ``drop_remainder`` drops it. The ids of each batch are the ids of
its rows: store per-image results with them, not with positions in ``split.ids``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import grain
import numpy as np
from absl import flags

from anonjax.data.reader import Split


class Batch(NamedTuple):
    """One batch: ``ids[i]`` is the image in row i of ``images``, ``labels`` and ``sizes``.

    ``sizes`` int32 [B, 2] is the (height, width) of each row's content: the image's own size, or the
    size a transform such as ``FitCanvas`` reports for the part of its canvas the image fills.
    """

    ids: list[str]
    images: np.ndarray
    labels: np.ndarray
    sizes: np.ndarray


Transform = Callable[[np.ndarray], np.ndarray | tuple[np.ndarray, tuple[int, int]]]


class _Apply:
    """Apply a per-image transform to decoded records, passing failure markers through (picklable)."""

    def __init__(self, transform: Transform):
        self.transform = transform

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        if "error" in record:
            return record
        out = self.transform(record["image"])
        image, size = out if isinstance(out, tuple) else (out, out.shape[:2])
        return {**record, "image": image, "size": size}


def iterate_batches(split: Split, batch_size: int, *,
                    transform: Transform | None = None, num_workers: int = 0,
                    num_threads: int = 4, drop_remainder: bool = False,
                    shuffle_seed: int | None = None) -> Iterator[Batch]:
    """Yield ``Batch(ids, images, labels, sizes)`` over ``split``.

    Without ``transform`` images are uint8 [B, H, W, 3] and must share one size (synthetic pages and
    CelebA do); with one they are what it returns, stacked: ``EvalTransform(224)`` gives normalised
    float32 squares, ``FitCanvas(H, W)`` uint8 canvases with the content sizes in ``Batch.sizes``.
    ``shuffle_seed`` visits the split in a seeded random order (training); by default it is read in
    order. ``num_workers`` > 0 reads in that many processes (grain ``mp_prefetch``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    records = split.records
    if shuffle_seed is not None:
        records = records.shuffle(seed=shuffle_seed)
    if transform is not None:
        records = records.map(_Apply(transform))
    stream = records.to_iter_dataset(grain.ReadOptions(num_threads=num_threads,
                                                       prefetch_buffer_size=max(num_threads, 2 * batch_size)))
    if num_workers > 0:
        if not flags.FLAGS.is_parsed():  # grain's workers read absl flags; outside an absl app, use defaults
            flags.FLAGS.mark_as_parsed()
        stream = stream.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers))
    rows: list[dict[str, Any]] = []
    iterator = iter(stream)
    try:
        for record in iterator:
            if not split.accept(record):
                continue
            rows.append(record)
            if len(rows) == batch_size:
                yield _stack(rows)
                rows = []
        if rows and not drop_remainder:
            yield _stack(rows)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def _stack(rows: list[dict[str, Any]]) -> Batch:
    shapes = {r["image"].shape for r in rows}
    if len(shapes) > 1:
        raise ValueError(
            f"images of different sizes in one batch ({sorted(shapes)[:3]}, e.g. {rows[0]['id']!r}); "
            "pass transform=EvalTransform(size) or FitCanvas(height, width) from anonjax.data.transforms"
        )
    return Batch(
        ids=[r["id"] for r in rows],
        images=np.stack([r["image"] for r in rows]),
        labels=np.array([r["label"] for r in rows], dtype=np.int32),
        sizes=np.array([r.get("size", r["image"].shape[:2]) for r in rows], dtype=np.int32).reshape(-1, 2),
    )
