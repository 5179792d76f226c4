"""The shard format of the detection cache, and reading a cache back as a box table.

Shard ``k`` of a cache directory covers images ``k*N .. (k+1)*N - 1`` of a split's id list: per image its id, its
error ("" when detected), pixel digest, file stamp, box count and size, then the boxes, scores and kinds of all
images one after the other (ragged, by the counts). A shard is written atomically, so one on disk is whole; one
that cannot be read counts as absent.

The table assembled from the shards is kept beside them (``table_detected/`` or, with the images without any
detection, ``table_all/``) as the memory-mapped files of ``BoxTable.save``, tagged with the name and SHA-256 of
every shard it was read from: a shard changed since, or a table of another format, makes it be assembled again
from the shards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from anonjax.anonymize.box_table import BoxTable
from anonjax.errors import DatasetError, OutputError
from anonjax.files import atomic_open, sha256_file
from anonjax.paths import as_path, on_local_disk

log = logging.getLogger(__name__)


class Record(NamedTuple):
    """One image's entry in a shard: boxes int32 [n, 4], scores float32 [n], kinds int8 [n], size
    (height, width), error ("" when detected), pixel digest and file stamp."""

    id: str
    boxes: np.ndarray
    scores: np.ndarray
    kinds: np.ndarray
    size: tuple[int, int]
    error: str
    digest: str
    stamp: str


EMPTY = (np.zeros((0, 4), np.int32), np.zeros(0, np.float32), np.zeros(0, np.int8))


def failure(image_id: str, reason: str, stamp: str = "") -> Record:
    """The record of an image that could not be read or detected, with the reason."""
    return Record(image_id, *EMPTY, (0, 0), reason, "", stamp)


def write_shard(path: Path, records: list[Record]) -> None:
    with atomic_open(path, "wb") as f:
        np.savez(
            f,
            ids=np.array([r.id for r in records], dtype=str),
            errors=np.array([r.error for r in records], dtype=str),
            digests=np.array([r.digest for r in records], dtype=str),
            stamps=np.array([r.stamp for r in records], dtype=str),
            counts=np.array([len(r.boxes) for r in records], np.int64),
            sizes=np.array([r.size for r in records], np.int32).reshape(-1, 2),
            boxes=np.concatenate([EMPTY[0], *[r.boxes for r in records]]).astype(np.int32),
            scores=np.concatenate([EMPTY[1], *[r.scores for r in records]]).astype(np.float32),
            kinds=np.concatenate([EMPTY[2], *[r.kinds for r in records]]).astype(np.int8),
        )


def read_shard(path: Path) -> list[Record] | None:
    """The records of a shard, or None when it is missing, unreadable or inconsistent."""
    try:
        with as_path(path).open("rb") as file, np.load(file, allow_pickle=False) as f:
            data = {key: f[key] for key in _SHARD_KEYS}
        n = len(data["ids"])
        offsets = np.concatenate([[0], np.cumsum(data["counts"])]).astype(np.int64)
        per_image = ("errors", "digests", "stamps", "counts", "sizes")
        if any(len(data[key]) != n for key in per_image) or (data["counts"] < 0).any() \
                or any(len(data[key]) != offsets[-1] for key in ("boxes", "scores", "kinds")) \
                or data["boxes"].shape[1:] != (4,) or data["sizes"].shape[1:] != (2,):
            return None
        return [Record(str(data["ids"][i]), data["boxes"][offsets[i]:offsets[i + 1]],
                        data["scores"][offsets[i]:offsets[i + 1]], data["kinds"][offsets[i]:offsets[i + 1]],
                        tuple(int(v) for v in data["sizes"][i]), str(data["errors"][i]), str(data["digests"][i]),
                        str(data["stamps"][i])) for i in range(n)]
    except Exception:  # any unreadable cache file only means "compute this part again"
        return None


_SHARD_KEYS = ("ids", "errors", "digests", "stamps", "counts", "sizes", "boxes", "scores", "kinds")


def shard_path(cache_dir: Path, k: int) -> Path:
    return cache_dir / f"shard_{k:06d}.npz"


def shard_span(k: int, shard_size: int, n_images: int) -> range:
    """Positions in the split's id list of the images of shard ``k``."""
    return range(k * shard_size, min((k + 1) * shard_size, n_images))


def assemble_table(ids: Sequence[str], cache_dir: str | Path, *, shard_size: int = 256,
                   keep_empty: bool = False) -> BoxTable:
    """The box table of the split ``ids`` that ``detect_split`` detected into ``cache_dir`` with ``shard_size``.

    Every shard must be on disk, readable and hold exactly its images: a shard that a process did not write
    (or not finish) is a ``DatasetError`` naming it, never a table short of its images. A split without
    images has no shards, and no table either (a ``DatasetError``, as from ``load_box_table``)."""
    cache_dir = as_path(cache_dir)
    if not ids:
        raise DatasetError(f"no detection shards in {cache_dir}: the split has no image to detect")
    shards = [shard_path(cache_dir, k) for k in range(-(-len(ids) // shard_size))]
    missing = [path.name for path in shards if not path.exists()]
    if missing:
        listed = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise DatasetError(f"{cache_dir}: {len(missing)} of {len(shards)} detection shards are missing ({listed}); "
                           "every process must finish its detection: run the anonymize stage again")

    def records() -> list[Record]:
        out: list[Record] = []
        for k, (path, found) in enumerate(zip(shards, _read_all(shards), strict=True)):
            if [r.id for r in found] != [ids[i] for i in shard_span(k, shard_size, len(ids))]:
                raise DatasetError(f"{path} holds other images than this split's: run the anonymize stage again "
                                   "to recompute it")
            out += found
        return out

    table = _mapped(cache_dir, shards, keep_empty, records)
    covered = [*table.ids, *table.failed, *([] if keep_empty else table.empty)]
    if len(covered) != len(ids) or set(covered) != set(ids):  # a table saved from these shards for other ids
        records()  # names the shard that holds other images
    return table


def load_box_table(path: str | Path, *, keep_empty: bool = False) -> BoxTable:
    """The box table of a cache directory. A damaged shard is a ``DatasetError`` that asks to run the
    anonymize stage again (which recomputes it)."""
    path = as_path(path)
    shards = sorted(path.glob("shard_*.npz"))
    if not shards:
        raise DatasetError(f"no detection shards in {path}: run the anonymize stage")

    def records() -> list[Record]:
        out = [r for found in _read_all(shards) for r in found]
        if len({r.id for r in out}) != len(out):
            raise DatasetError(f"{path}: an image id appears in more than one shard; delete the directory and "
                               "detect again")
        return out

    return _mapped(path, shards, keep_empty, records)


def _mapped(cache_dir: Path, shards: Sequence[Path], keep_empty: bool,
            records: Callable[[], list[Record]]) -> BoxTable:
    """The table of ``shards`` memory-mapped from its folder in ``cache_dir``, assembled from ``records()`` and
    saved there first when the folder holds no table of exactly these shards. A cache folder that cannot be
    written to gives the table in memory. Shards on an object store keep their table on a local disk
    (``paths.on_local_disk``)."""
    folder = on_local_disk(cache_dir / ("table_all" if keep_empty else "table_detected"))
    read_from = [[s.name, sha256_file(s)] for s in shards]
    table = BoxTable.open(folder, {"shards": read_from})
    if table is not None:
        return table
    table = _table(records(), keep_empty)
    try:
        table.save(folder, shards=read_from)
    except (OSError, OutputError) as e:
        log.warning("%s: the box table cannot be saved (%s); every process holds its own copy", folder, e)
        return table
    return BoxTable.open(folder, {"shards": read_from}) or table


def _read_all(shards: Sequence[Path]) -> list[list[Record]]:
    """The records of each of ``shards``; a ``DatasetError`` names one that is damaged and asks to run the
    anonymize stage again (which recomputes it)."""
    out = []
    for path in shards:
        found = read_shard(path)
        if found is None:
            raise DatasetError(f"{path} is damaged or was written by another version: run the anonymize stage "
                               "again to recompute it")
        out.append(found)
    return out


def _table(records: list[Record], keep_empty: bool) -> BoxTable:
    """The records of a split, in order, as a ragged table (failed images left out, empty ones unless kept)."""
    failed = {r.id: r.error for r in records if r.error}
    good = [r for r in records if not r.error]
    empty = [r.id for r in good if len(r.boxes) == 0]
    keep = [r for r in good if keep_empty or len(r.boxes)]
    offsets = np.concatenate([[0], np.cumsum([len(r.boxes) for r in keep], dtype=np.int64)]).astype(np.int64)
    return BoxTable(ids=[r.id for r in keep], offsets=offsets,
                    flat_boxes=np.concatenate([EMPTY[0], *[r.boxes for r in keep]]).astype(np.int32),
                    flat_scores=np.concatenate([EMPTY[1], *[r.scores for r in keep]]).astype(np.float32),
                    flat_kinds=np.concatenate([EMPTY[2], *[r.kinds for r in keep]]).astype(np.int8),
                    sizes=np.array([r.size for r in keep], np.int32).reshape(-1, 2),
                    digests=[r.digest for r in keep], failed=failed, empty=empty)


def intact(cache_dir: str | Path, n_images: int) -> bool:
    """Whether ``cache_dir`` holds readable shards for exactly ``n_images`` images."""
    shards = sorted(as_path(cache_dir).glob("shard_*.npz"))
    counts = [len(r) if (r := read_shard(s)) is not None else -1 for s in shards]
    return bool(shards) and min(counts) >= 0 and sum(counts) == n_images
