"""Detection into the on-disk cache, so the anonymization grid never detects twice and an interrupted run
resumes where it stopped; and where each cache lives.

A cache directory holds the detections of one split with one detector configuration (its name is the
fingerprint of dataset, split and detector settings), in the shards of :mod:`anonjax.anonymize.box_shards`;
``detect_split`` skips the shards that exist. An image whose reading or detection failed is recorded with the
reason and is never part of a ``BoxTable``: what could not be detected cannot be anonymized, so it is left out.

Each detector set has its own cache directory, ``<workdir>/anonymize/boxes/<split>/<fingerprint>``
(``cache_dir``), and a stage other than the anonymize stage opens the one of its own config
(``load_split_boxes``): boxes found by another detector set are never used.

In a run of several processes (``anonjax.hosts``) sharing the cache directory, each detects only its own
shards (``own_shards``: every ``count``-th, from its index). The table is whole only once all of them have
finished; ``box_shards.assemble_table`` checks that every shard of the split is there and intact, and names
any that is not, rather than returning a shorter table.

Boxes are keyed on content: every image is stored with the SHA-256 of the pixels it was detected on and
its file's stamp. A file whose stamp changed is read again and detected again unless its pixels are
unchanged, and whatever anonymizes from a ``BoxTable`` checks ``BoxTable.changed`` on the pixels it
is about to anonymize, so boxes are never applied to another image of the same name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from anonjax import hosts
from anonjax.anonymize.box_shards import (
    Record,
    failure,
    load_box_table,
    read_shard,
    shard_path,
    shard_span,
    write_shard,
)
from anonjax.anonymize.box_table import BoxTable
from anonjax.anonymize.boxes import check_boxes, check_image
from anonjax.anonymize.detection import DETECTOR_INPUT, KINDS, Detectors
from anonjax.anonymize.worker_pool import WorkerPool
from anonjax.data.identity import pixel_digest
from anonjax.data.image_io import DEFAULT_MAX_PIXELS
from anonjax.errors import DatasetError
from anonjax.fingerprint import fingerprint
from anonjax.layout import WorkDir
from anonjax.paths import as_path

if TYPE_CHECKING:
    from anonjax.data.reader import Split

def detect_split(
    ids: Sequence[str],
    load_image: Callable[[int], np.ndarray],
    kinds: Sequence[str],
    settings: Mapping[str, Mapping[str, Any]],
    cache_dir: str | Path,
    *,
    stamps: Sequence[str] | None = None,
    shard_size: int = 256,
    workers: int = 1,
    desc: str = "detect",
    process_index: int | None = None,
    process_count: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> int:
    """Detect the images of a split into ``cache_dir``; returns how many shards this call (re)wrote.

    ``load_image(i)`` gives image ``ids[i]`` (uint8 RGB); ``stamps[i]`` is its file's stamp (see
    ``anonjax.data.identity``). A cached image is reused while its stamp is unchanged; when the stamp
    changed, the image is read again and detected again unless its pixels are the ones detected before.
    An unreadable or inconsistent shard is recomputed whole. With ``workers`` > 1, detection runs in that
    many processes, each with its own single-threaded detectors. A progress bar labelled ``desc`` counts
    the images. ``max_pixels`` (``data.max_pixels``) bounds what the detectors are given, see ``Detectors``.

    Only the shards of process ``process_index`` of ``process_count`` (by default this process of the run)
    are detected, see ``own_shards``; read the table with ``assemble_table`` once every process is done.
    Every process removes the shards left by a run with another shard size, none of which any process
    writes now.
    """
    cache_dir = as_path(cache_dir)
    stamps = list(stamps) if stamps is not None else [""] * len(ids)
    if len(stamps) != len(ids):
        raise ValueError(f"{len(stamps)} stamps for {len(ids)} images")
    shards = -(-len(ids) // shard_size)
    for stale in cache_dir.glob("shard_*.npz"):  # left by a run with another shard size
        if not stale.stem.split("_")[-1].isdigit() or int(stale.stem.split("_")[-1]) >= shards:
            stale.unlink(missing_ok=True)  # another process may have removed it first
    mine = own_shards(shards, process_index, process_count)
    written = 0
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(tqdm(total=sum(len(shard_span(k, shard_size, len(ids))) for k in mine),
                                       desc=desc, unit="img"))
        mapper = None
        for k in mine:
            span = shard_span(k, shard_size, len(ids))
            plan = _reuse(read_shard(shard_path(cache_dir, k)), [ids[i] for i in span])
            if all(r is not None and r.stamp == stamps[i] for r, i in zip(plan, span, strict=True)):
                bar.update(len(span))
                continue
            if mapper is None:
                mapper = _mapper(stack, kinds, settings, workers, max_pixels)
            records = _complete(plan, span, ids, stamps, load_image, mapper, bar)
            write_shard(shard_path(cache_dir, k), records)
            written += 1
    return written


def own_shards(n_shards: int, process_index: int | None = None, process_count: int | None = None) -> range:
    """The shards of ``0 .. n_shards-1`` that process ``process_index`` of ``process_count`` detects (by default
    this process of the run): every ``process_count``-th, from its index, so that the processes share the
    work evenly even when the images needing the most detection lie together in the split."""
    index = hosts.index() if process_index is None else process_index
    count = hosts.count() if process_count is None else process_count
    if not 0 <= index < count:
        raise ValueError(f"process {index} of {count}: the index must lie in 0 .. {count - 1}")
    return range(index, n_shards, count)


def cache_dir(workdir: str | Path, data: Any, split: str, kinds: Sequence[str],
              settings: Mapping[str, Mapping[str, Any]]) -> Path:
    """The cache directory of ``split`` (of the data config ``data``) detected with ``kinds`` and their
    ``settings`` in a work directory: named by the fingerprint of all four and of what the detectors read
    (``DETECTOR_INPUT``), one per detector set."""
    return WorkDir(workdir).boxes(split) / fingerprint(data, split, kinds, settings, DETECTOR_INPUT)


def load_split_boxes(workdir: str | Path, data: Any, split: Split, kinds: Sequence[str],
                     settings: Mapping[str, Mapping[str, Any]], *, keep_empty: bool = False) -> BoxTable:
    """The box table of ``split`` detected with exactly this detector set (``cache_dir``), for the stages
    after the anonymize stage. A cache that is missing, or lacks any image of the split, is a
    ``DatasetError`` naming the split and the detectors: never boxes of another detector set or of
    fewer images. Whether the cache is there and complete is the main process's decision, followed by all
    (``anonjax.hosts``); a process whose own view of the cache lacks images stops too."""
    path = cache_dir(workdir, data, split.name, kinds, settings)
    absent = f"split {split.name!r} has no detections with anonymize.detectors={tuple(kinds)} and these settings"
    todo = f"run the anonymize stage with these detectors (cache {path})"
    if not hosts.main_decides(lambda: any(path.glob("shard_*.npz"))):
        raise DatasetError(f"{absent}: {todo}")
    table = load_box_table(path, keep_empty=keep_empty)
    detected = {*table.ids, *table.failed, *table.empty}
    missing = [image_id for image_id in split.ids if image_id not in detected]
    lacking = f"{absent} for {len(missing)} of its {len(split.ids)} images, e.g. {missing[0]!r}: {todo}" \
        if missing else None
    message = hosts.main_value(lacking) or lacking  # the main process's view, then this process's own
    if message:
        raise DatasetError(message)
    return table


def _reuse(cached: list[Record] | None, ids: list[str]) -> list[Record | None]:
    """Per image of a shard: its cached record when the shard covers the same ids, else None."""
    if cached is None or [r.id for r in cached] != ids:
        return [None] * len(ids)
    return list(cached)


def _complete(plan: list[Record | None], span: range, ids: Sequence[str], stamps: list[str],
              load_image: Callable[[int], np.ndarray], mapper: Callable, bar: tqdm) -> list[Record]:
    """The shard's records: cached ones whose stamp or pixels are unchanged, the others detected now."""
    out: list[Record | None] = []
    todo: list[tuple[int, tuple[str, np.ndarray | str]]] = []
    for j, (record, i) in enumerate(zip(plan, span, strict=True)):
        if record is not None and record.stamp == stamps[i]:
            out.append(record)
            bar.update(1)
            continue
        item = _read(load_image, ids, i)
        if record is not None and not record.error and not isinstance(item[1], str) \
                and pixel_digest(item[1]) == record.digest:
            out.append(record._replace(stamp=stamps[i]))  # touched, not changed
            bar.update(1)
            continue
        out.append(None)
        todo.append((j, item))
    for (j, _), found in zip(todo, mapper(_detect, (item for _, item in todo)), strict=True):
        out[j] = found._replace(stamp=stamps[span[j]])
        bar.update(1)
    return out


def _mapper(stack: contextlib.ExitStack, kinds: Sequence[str], settings: Mapping, workers: int,
            max_pixels: int) -> Callable:
    """``map`` over detection: a pool of ``workers`` processes, or this process with every core.

    An image whose process is killed (the out-of-memory killer) is recorded as failed, and detection goes on.
    """
    if workers > 1:
        pool = WorkerPool(workers, _init_worker, (tuple(kinds), _plain(settings), max_pixels), died=_killed)
        stack.callback(pool.close)
        return pool.map
    _init_worker(tuple(kinds), _plain(settings), max_pixels, threads=0)
    return map


_DETECTORS: Detectors | None = None


def _init_worker(kinds: tuple[str, ...], settings: dict, max_pixels: int, threads: int = 1) -> None:
    global _DETECTORS
    if threads == 1:
        import cv2

        cv2.setNumThreads(1)
    _DETECTORS = Detectors(kinds, settings, threads=threads, max_pixels=max_pixels)


def _detect(item: tuple[str, np.ndarray | str]) -> Record:
    """(id, image or the reason it could not be read) -> its record (stamp left empty)."""
    image_id, image = item
    if isinstance(image, str):
        return failure(image_id, image)
    try:
        image = check_image(image)
        found = _DETECTORS(image)
        boxes = check_boxes(found.boxes, *image.shape[:2])
        if not len(boxes) == len(found.scores) == len(found.kinds):
            raise ValueError("detectors returned different numbers of boxes, scores and kinds")
    except Exception as e:  # fail closed: any detector failure excludes the image, with its reason
        return failure(image_id, f"detection failed: {type(e).__name__}: {e}")
    return Record(image_id, boxes.astype(np.int32), np.asarray(found.scores, np.float32),
                   np.asarray(found.kinds, np.int8), tuple(image.shape[:2]), "", pixel_digest(image), "")


def _killed(item: tuple[str, np.ndarray | str]) -> Record:
    return failure(item[0], "detection failed: its process was killed (perhaps out of memory: lower "
                             "anonymize.workers or data.max_pixels)")


def _read(load_image: Callable[[int], np.ndarray], ids: Sequence[str], i: int) -> tuple[str, np.ndarray | str]:
    try:
        return ids[i], load_image(i)
    except Exception as e:  # an unreadable image is recorded, never detected as "no boxes"
        return ids[i], f"image could not be read: {type(e).__name__}: {e}"


def _plain(settings: Mapping[str, Mapping[str, Any]]) -> dict:
    """Settings as plain picklable dicts (ConfigDicts and tuples become dicts and lists)."""
    return {kind: {k: (list(v) if isinstance(v, tuple | list) else v) for k, v in dict(s).items()}
            for kind, s in dict(settings).items() if kind in KINDS}

