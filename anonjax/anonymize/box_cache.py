"""Detections cached on disk, in shards, so the anonymization grid never detects twice and an interrupted
run resumes where it stopped.

A cache directory holds the detections of one split with one detector configuration (its name is the
fingerprint of dataset, split and detector settings). Shard ``k`` covers images ``k*N .. (k+1)*N - 1``
of the split's id list and is written atomically, so a shard on disk is always whole; ``detect_split``
skips the shards that exist. An image whose reading or detection failed is recorded with the reason and
is never part of a ``BoxTable``: what could not be detected cannot be anonymized, so it is left out.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from anonjax.anonymize.boxes import check_boxes, check_image
from anonjax.anonymize.detection import KINDS, Detectors
from anonjax.anonymize.selection import box_count, box_ranks
from anonjax.files import atomic_open

CURRENT = "current.txt"


@dataclasses.dataclass(frozen=True)
class BoxTable:
    """Cached detections of a split, padded to a fixed ``M`` boxes per image.

    ids: the images that may be anonymized (failed images never, empty ones only when kept);
    boxes int32 [N, M, 4] xyxy; valid bool [N, M] (the first ``counts[i]`` boxes of row i);
    scores float32 [N, M]; kinds int8 [N, M] (index into ``KINDS``); sizes int32 [N, 2] (height, width);
    failed: image id -> reason for every image whose reading or detection failed;
    empty: ids of images without any detection (excluded from ``ids`` unless kept).
    """

    ids: list[str]
    boxes: np.ndarray
    valid: np.ndarray
    scores: np.ndarray
    kinds: np.ndarray
    sizes: np.ndarray
    failed: dict[str, str]
    empty: list[str]

    @property
    def counts(self) -> np.ndarray:
        """Boxes per image, int32 [N]."""
        return self.valid.sum(1).astype(np.int32)

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
            chosen = box_ranks(int(partial.sum()), seed=seed, image_id=self.ids[row]) < box_count(
                int(partial.sum()), degree)
            mask[out, np.flatnonzero(partial)] = chosen
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
    shard_size: int = 256,
    workers: int = 1,
) -> int:
    """Detect every image of a split into ``cache_dir``; returns how many shards were (re)computed.

    ``load_image(i)`` gives image ``ids[i]`` (uint8 RGB). With ``workers`` > 1, detection runs in that many
    processes, each with its own single-threaded detectors.
    """
    cache_dir = Path(cache_dir)
    shards = -(-len(ids) // shard_size)
    for stale in cache_dir.glob("shard_*.npz"):  # left by a run with another shard size
        if int(stale.stem.split("_")[1]) >= shards:
            stale.unlink()
    todo = [k for k in range(shards) if not _shard_ok(cache_dir, k, ids, shard_size)]
    if not todo:
        return 0
    if workers > 1:
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, _init_worker, (tuple(kinds), _plain(settings))) as pool:
            for k in todo:
                _write_shard(cache_dir, k, ids, shard_size, load_image, pool.imap)
    else:
        _init_worker(tuple(kinds), _plain(settings), threads=0)  # one process: let it use every core
        for k in todo:
            _write_shard(cache_dir, k, ids, shard_size, load_image, map)
    return len(todo)


def load_box_table(path: str | Path, split: str | None = None, *, keep_empty: bool = False) -> BoxTable:
    """The box table of a cache directory, or of ``split`` in a work directory whose anonymize stage
    ran (``<workdir>/anonymize/boxes/<split>/current.txt`` names the cache in use)."""
    path = Path(path)
    if split is not None:
        pointer = path / "anonymize" / "boxes" / split / CURRENT
        if not pointer.is_file():
            raise FileNotFoundError(f"{pointer} does not exist: run the anonymize stage for split {split!r}")
        path = pointer.parent / pointer.read_text().strip()
    shards = sorted(path.glob("shard_*.npz"))
    if not shards:
        raise FileNotFoundError(f"no detection shards in {path}")
    ids, sizes, boxes, scores, kinds, failed = [], [], [], [], [], {}
    for shard in shards:
        with np.load(shard) as f:
            offsets = np.concatenate([[0], np.cumsum(f["counts"])])
            for i, image_id in enumerate(f["ids"].tolist()):
                if f["errors"][i]:
                    failed[image_id] = str(f["errors"][i])
                    continue
                ids.append(image_id)
                sizes.append(f["sizes"][i])
                sl = slice(offsets[i], offsets[i + 1])
                boxes.append(f["boxes"][sl])
                scores.append(f["scores"][sl])
                kinds.append(f["kinds"][sl])
    if len(set(ids) | set(failed)) != len(ids) + len(failed):
        raise ValueError(f"{path}: an image id appears in more than one shard; delete the directory and detect again")
    empty = [i for i, b in zip(ids, boxes, strict=True) if len(b) == 0]
    keep = [j for j, b in enumerate(boxes) if keep_empty or len(b)]
    width = max([len(boxes[j]) for j in keep], default=0)
    table = {"boxes": np.zeros((len(keep), width, 4), np.int32), "valid": np.zeros((len(keep), width), bool),
             "scores": np.zeros((len(keep), width), np.float32), "kinds": np.full((len(keep), width), -1, np.int8)}
    for row, j in enumerate(keep):
        n = len(boxes[j])
        table["boxes"][row, :n], table["scores"][row, :n], table["kinds"][row, :n] = boxes[j], scores[j], kinds[j]
        table["valid"][row, :n] = True
    return BoxTable(ids=[ids[j] for j in keep], sizes=np.array([sizes[j] for j in keep], np.int32).reshape(-1, 2),
                    failed=failed, empty=empty, **table)


_DETECTORS: Detectors | None = None


def _init_worker(kinds: tuple[str, ...], settings: dict, threads: int = 1) -> None:
    global _DETECTORS
    if threads == 1:
        import cv2

        cv2.setNumThreads(1)
    _DETECTORS = Detectors(kinds, settings, threads=threads)


def _detect(item: tuple[str, np.ndarray | str]) -> tuple:
    """(id, image or the reason it could not be read) -> (id, boxes, scores, kinds, size, error)."""
    image_id, image = item
    if isinstance(image, str):
        return image_id, None, None, None, (0, 0), image
    try:
        image = check_image(image)
        found = _DETECTORS(image)
        boxes = check_boxes(found.boxes, *image.shape[:2])
        if not len(boxes) == len(found.scores) == len(found.kinds):
            raise ValueError("detectors returned different numbers of boxes, scores and kinds")
    except Exception as e:  # fail closed: any detector failure excludes the image, with its reason
        return image_id, None, None, None, (0, 0), f"detection failed: {type(e).__name__}: {e}"
    return image_id, boxes, found.scores, found.kinds, image.shape[:2], ""


def _read(load_image: Callable[[int], np.ndarray], ids: Sequence[str], i: int) -> tuple[str, np.ndarray | str]:
    try:
        return ids[i], load_image(i)
    except Exception as e:  # an unreadable image is recorded, never detected as "no boxes"
        return ids[i], f"image could not be read: {type(e).__name__}: {e}"


def _write_shard(cache_dir: Path, k: int, ids: Sequence[str], shard_size: int,
                 load_image: Callable[[int], np.ndarray], mapper: Callable) -> None:
    span = range(k * shard_size, min((k + 1) * shard_size, len(ids)))
    results = list(mapper(_detect, (_read(load_image, ids, i) for i in span)))
    ok = [r for r in results if not r[5]]
    empty4 = np.zeros((0, 4), np.int32)
    with atomic_open(_shard_path(cache_dir, k), "wb") as f:
        np.savez(
            f,
            ids=np.array([r[0] for r in results], dtype=str),
            errors=np.array([r[5] for r in results], dtype=str),
            counts=np.array([0 if r[5] else len(r[1]) for r in results], np.int64),
            sizes=np.array([r[4] for r in results], np.int32).reshape(-1, 2),
            boxes=np.concatenate([empty4, *[r[1] for r in ok]]).astype(np.int32),
            scores=np.concatenate([np.zeros(0, np.float32), *[r[2] for r in ok]]).astype(np.float32),
            kinds=np.concatenate([np.zeros(0, np.int8), *[r[3] for r in ok]]).astype(np.int8),
        )


def _shard_path(cache_dir: Path, k: int) -> Path:
    return cache_dir / f"shard_{k:06d}.npz"


def _shard_ok(cache_dir: Path, k: int, ids: Sequence[str], shard_size: int) -> bool:
    path = _shard_path(cache_dir, k)
    if not path.is_file():
        return False
    try:
        with np.load(path) as f:
            return f["ids"].tolist() == list(ids[k * shard_size : (k + 1) * shard_size])
    except (OSError, ValueError, KeyError):
        return False


def _plain(settings: Mapping[str, Mapping[str, Any]]) -> dict:
    """Settings as plain picklable dicts (ConfigDicts and tuples become dicts and lists)."""
    return {kind: {k: (list(v) if isinstance(v, tuple | list) else v) for k, v in dict(s).items()}
            for kind, s in dict(settings).items() if kind in KINDS}

