"""Detections cached on disk, in shards, so the anonymization grid never detects twice and an interrupted
run resumes where it stopped.

A cache directory holds the detections of one split with one detector configuration (its name is the
fingerprint of dataset, split and detector settings). Shard ``k`` covers images ``k*N .. (k+1)*N - 1``
of the split's id list and is written atomically, so a shard on disk is always whole; ``detect_split``
skips the shards that exist. An image whose reading or detection failed is recorded with the reason and
is never part of a ``BoxTable``: what could not be detected cannot be anonymized, so it is left out.

Each detector set has its own cache directory, ``<workdir>/anonymize/boxes/<split>/<fingerprint>``
(``cache_dir``), and a stage other than the anonymize stage opens the one of its own config
(``load_split_boxes``): boxes found by another detector set are never used.

In a run of several processes (``anonjax.hosts``) sharing the cache directory, each detects only its own
shards (``own_shards``: every ``count``-th, from its index). The table is whole only once all of them have
finished; ``assemble_table`` checks that every shard of the split is there and intact, and names any that
is not, rather than returning a shorter table.

Boxes are keyed on content: every image is stored with the SHA-256 of the pixels it was detected on and
its file's stamp. A file whose stamp changed is read again and detected again unless its pixels are
unchanged, and whatever anonymizes from a ``BoxTable`` checks ``BoxTable.changed`` on the pixels it
is about to anonymize, so boxes are never applied to another image of the same name.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from anonjax import hosts
from anonjax.anonymize.boxes import check_boxes, check_image
from anonjax.anonymize.detection import DETECTOR_INPUT, KINDS, Detectors
from anonjax.anonymize.selection import select_boxes
from anonjax.anonymize.worker_pool import WorkerPool
from anonjax.data.identity import pixel_digest
from anonjax.data.image_io import DEFAULT_MAX_PIXELS
from anonjax.errors import DatasetError
from anonjax.files import atomic_open
from anonjax.fingerprint import fingerprint
from anonjax.layout import WorkDir

if TYPE_CHECKING:
    from anonjax.data.reader import Split

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
    cache_dir = Path(cache_dir)
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
        bar = stack.enter_context(tqdm(total=sum(len(_span(k, shard_size, len(ids))) for k in mine),
                                       desc=desc, unit="img"))
        mapper = None
        for k in mine:
            span = _span(k, shard_size, len(ids))
            plan = _reuse(_read_shard(_shard_path(cache_dir, k)), [ids[i] for i in span])
            if all(r is not None and r.stamp == stamps[i] for r, i in zip(plan, span, strict=True)):
                bar.update(len(span))
                continue
            if mapper is None:
                mapper = _mapper(stack, kinds, settings, workers, max_pixels)
            records = _complete(plan, span, ids, stamps, load_image, mapper, bar)
            _write_shard(_shard_path(cache_dir, k), records)
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


def assemble_table(ids: Sequence[str], cache_dir: str | Path, *, shard_size: int = 256,
                   keep_empty: bool = False) -> BoxTable:
    """The box table of the split ``ids`` that ``detect_split`` detected into ``cache_dir`` with ``shard_size``.

    Every shard must be on disk, readable and hold exactly its images: a shard that a process did not write
    (or not finish) is a ``DatasetError`` naming it, never a table short of its images. A split without
    images has no shards, and no table either (a ``DatasetError``, as from ``load_box_table``)."""
    cache_dir = Path(cache_dir)
    if not ids:
        raise DatasetError(f"no detection shards in {cache_dir}: the split has no image to detect")
    shards = [_shard_path(cache_dir, k) for k in range(-(-len(ids) // shard_size))]
    missing = [path.name for path in shards if not path.exists()]
    if missing:
        listed = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise DatasetError(f"{cache_dir}: {len(missing)} of {len(shards)} detection shards are missing ({listed}); "
                           "every process must finish its detection: run the anonymize stage again")
    records: list[_Record] = []
    for k, path in enumerate(shards):
        found = _read_shard(path)
        if found is None:
            raise DatasetError(f"{path} is damaged or was written by another version: run the anonymize stage "
                               "again to recompute it")
        if [r.id for r in found] != [ids[i] for i in _span(k, shard_size, len(ids))]:
            raise DatasetError(f"{path} holds other images than this split's: run the anonymize stage again to "
                               "recompute it")
        records += found
    return _table(records, keep_empty)


def load_box_table(path: str | Path, *, keep_empty: bool = False) -> BoxTable:
    """The box table of a cache directory. A damaged shard is a ``DatasetError`` that asks to run the
    anonymize stage again (which recomputes it)."""
    path = Path(path)
    shards = sorted(path.glob("shard_*.npz"))
    if not shards:
        raise DatasetError(f"no detection shards in {path}: run the anonymize stage")
    records: list[_Record] = []
    for shard in shards:
        found = _read_shard(shard)
        if found is None:
            raise DatasetError(f"{shard} is damaged or was written by another version: run the anonymize stage "
                               "again to recompute it")
        records += found
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: an image id appears in more than one shard; delete the directory and "
                           "detect again")
    return _table(records, keep_empty)


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
    fewer images."""
    path = cache_dir(workdir, data, split.name, kinds, settings)
    absent = f"split {split.name!r} has no detections with anonymize.detectors={tuple(kinds)} and these settings"
    todo = f"run the anonymize stage with these detectors (cache {path})"
    if not any(path.glob("shard_*.npz")):
        raise DatasetError(f"{absent}: {todo}")
    table = load_box_table(path, keep_empty=keep_empty)
    detected = {*table.ids, *table.failed, *table.empty}
    missing = [image_id for image_id in split.ids if image_id not in detected]
    if missing:
        raise DatasetError(f"{absent} for {len(missing)} of its {len(split.ids)} images, e.g. {missing[0]!r}: "
                           f"{todo}")
    return table


def _table(records: list[_Record], keep_empty: bool) -> BoxTable:
    """The records of a split, in order, as a padded table (failed images left out, empty ones unless kept)."""
    failed = {r.id: r.error for r in records if r.error}
    good = [r for r in records if not r.error]
    empty = [r.id for r in good if len(r.boxes) == 0]
    keep = [r for r in good if keep_empty or len(r.boxes)]
    width = max([len(r.boxes) for r in keep], default=0)
    table = {"boxes": np.zeros((len(keep), width, 4), np.int32), "valid": np.zeros((len(keep), width), bool),
             "scores": np.zeros((len(keep), width), np.float32), "kinds": np.full((len(keep), width), -1, np.int8)}
    for row, r in enumerate(keep):
        n = len(r.boxes)
        table["boxes"][row, :n], table["scores"][row, :n], table["kinds"][row, :n] = r.boxes, r.scores, r.kinds
        table["valid"][row, :n] = True
    return BoxTable(ids=[r.id for r in keep], sizes=np.array([r.size for r in keep], np.int32).reshape(-1, 2),
                    digests=[r.digest for r in keep], failed=failed, empty=empty, **table)


def intact(cache_dir: str | Path, n_images: int) -> bool:
    """Whether ``cache_dir`` holds readable shards for exactly ``n_images`` images."""
    shards = sorted(Path(cache_dir).glob("shard_*.npz"))
    counts = [len(r) if (r := _read_shard(s)) is not None else -1 for s in shards]
    return bool(shards) and min(counts) >= 0 and sum(counts) == n_images


class _Record(NamedTuple):
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


_EMPTY = (np.zeros((0, 4), np.int32), np.zeros(0, np.float32), np.zeros(0, np.int8))


def _failure(image_id: str, reason: str, stamp: str = "") -> _Record:
    return _Record(image_id, *_EMPTY, (0, 0), reason, "", stamp)


def _reuse(cached: list[_Record] | None, ids: list[str]) -> list[_Record | None]:
    """Per image of a shard: its cached record when the shard covers the same ids, else None."""
    if cached is None or [r.id for r in cached] != ids:
        return [None] * len(ids)
    return list(cached)


def _complete(plan: list[_Record | None], span: range, ids: Sequence[str], stamps: list[str],
              load_image: Callable[[int], np.ndarray], mapper: Callable, bar: tqdm) -> list[_Record]:
    """The shard's records: cached ones whose stamp or pixels are unchanged, the others detected now."""
    out: list[_Record | None] = []
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


def _detect(item: tuple[str, np.ndarray | str]) -> _Record:
    """(id, image or the reason it could not be read) -> its record (stamp left empty)."""
    image_id, image = item
    if isinstance(image, str):
        return _failure(image_id, image)
    try:
        image = check_image(image)
        found = _DETECTORS(image)
        boxes = check_boxes(found.boxes, *image.shape[:2])
        if not len(boxes) == len(found.scores) == len(found.kinds):
            raise ValueError("detectors returned different numbers of boxes, scores and kinds")
    except Exception as e:  # fail closed: any detector failure excludes the image, with its reason
        return _failure(image_id, f"detection failed: {type(e).__name__}: {e}")
    return _Record(image_id, boxes.astype(np.int32), np.asarray(found.scores, np.float32),
                   np.asarray(found.kinds, np.int8), tuple(image.shape[:2]), "", pixel_digest(image), "")


def _killed(item: tuple[str, np.ndarray | str]) -> _Record:
    return _failure(item[0], "detection failed: its process was killed (perhaps out of memory: lower "
                             "anonymize.workers or data.max_pixels)")


def _read(load_image: Callable[[int], np.ndarray], ids: Sequence[str], i: int) -> tuple[str, np.ndarray | str]:
    try:
        return ids[i], load_image(i)
    except Exception as e:  # an unreadable image is recorded, never detected as "no boxes"
        return ids[i], f"image could not be read: {type(e).__name__}: {e}"


def _write_shard(path: Path, records: list[_Record]) -> None:
    with atomic_open(path, "wb") as f:
        np.savez(
            f,
            ids=np.array([r.id for r in records], dtype=str),
            errors=np.array([r.error for r in records], dtype=str),
            digests=np.array([r.digest for r in records], dtype=str),
            stamps=np.array([r.stamp for r in records], dtype=str),
            counts=np.array([len(r.boxes) for r in records], np.int64),
            sizes=np.array([r.size for r in records], np.int32).reshape(-1, 2),
            boxes=np.concatenate([_EMPTY[0], *[r.boxes for r in records]]).astype(np.int32),
            scores=np.concatenate([_EMPTY[1], *[r.scores for r in records]]).astype(np.float32),
            kinds=np.concatenate([_EMPTY[2], *[r.kinds for r in records]]).astype(np.int8),
        )


def _read_shard(path: Path) -> list[_Record] | None:
    """The records of a shard, or None when it is missing, unreadable or inconsistent."""
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {key: f[key] for key in _SHARD_KEYS}
        n = len(data["ids"])
        offsets = np.concatenate([[0], np.cumsum(data["counts"])]).astype(np.int64)
        per_image = ("errors", "digests", "stamps", "counts", "sizes")
        if any(len(data[key]) != n for key in per_image) or (data["counts"] < 0).any() \
                or any(len(data[key]) != offsets[-1] for key in ("boxes", "scores", "kinds")) \
                or data["boxes"].shape[1:] != (4,) or data["sizes"].shape[1:] != (2,):
            return None
        return [_Record(str(data["ids"][i]), data["boxes"][offsets[i]:offsets[i + 1]],
                        data["scores"][offsets[i]:offsets[i + 1]], data["kinds"][offsets[i]:offsets[i + 1]],
                        tuple(int(v) for v in data["sizes"][i]), str(data["errors"][i]), str(data["digests"][i]),
                        str(data["stamps"][i])) for i in range(n)]
    except Exception:  # any unreadable cache file only means "compute this part again"
        return None


_SHARD_KEYS = ("ids", "errors", "digests", "stamps", "counts", "sizes", "boxes", "scores", "kinds")


def _shard_path(cache_dir: Path, k: int) -> Path:
    return cache_dir / f"shard_{k:06d}.npz"


def _span(k: int, shard_size: int, n_images: int) -> range:
    """Positions in the split's id list of the images of shard ``k``."""
    return range(k * shard_size, min((k + 1) * shard_size, n_images))


def _plain(settings: Mapping[str, Mapping[str, Any]]) -> dict:
    """Settings as plain picklable dicts (ConfigDicts and tuples become dicts and lists)."""
    return {kind: {k: (list(v) if isinstance(v, tuple | list) else v) for k, v in dict(s).items()}
            for kind, s in dict(settings).items() if kind in KINDS}

