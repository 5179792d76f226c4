"""One grain-based reader for every source: ids, labels and uint8 RGB images of one split.

When files are checked, and why ids stay aligned with what is delivered:

1. A source lists the split (ids, labels, file paths) from its annotation files or folders. Split
   membership is decided here, from names only, so a bad file never moves another between splits.
2. ``open_split`` checks each file's header and tail (``image_io.check_file``, a few hundred bytes per
   file, in threads). Files that fail are left out of ``Split.ids`` and listed in ``Split.skipped``;
   ``Split.ids``, ``Split.labels`` and ``Split.dataset`` are then aligned index by index. In a run of
   several processes the main process alone checks the files, and every process takes its index (the ids
   kept, their stamps, the files left out): all hosts read one split, whatever their views of the files.
3. A file whose header was sound but whose pixels cannot be decoded is found only when it is read.
   Then ``Split.dataset[i]`` is None (grain's convention for a filtered element; iteration skips it)
   and the file is added to ``Split.skipped``. Consumers must therefore take ids from the records
   (``record["id"]``), never by position in ``Split.ids``, when they store per-image results.

With ``strict=True`` the first bad file, at either point, raises ``ImageError`` naming it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grain
import ml_collections
import numpy as np

from anonjax import hosts
from anonjax.config_checks import check_bool, check_choice, check_nonnegative_int, check_positive_int
from anonjax.data import celeba, folder, rvl_cdip, synthetic
from anonjax.data.identity import listing_digest
from anonjax.data.image_io import DEFAULT_MAX_PIXELS, FileCheck, ImageError, check_file
from anonjax.data.listing import Listing
from anonjax.errors import DatasetError
from anonjax.paths import is_local

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
SOURCES = {"synthetic": synthetic, "celeba": celeba, "rvl_cdip": rvl_cdip, "folder": folder}
_CHECK_THREADS = 8


class _Records:
    """grain random-access source: record i of a listing, or a failure marker if it cannot be decoded."""

    def __init__(self, listing: Listing, strict: bool):
        self._listing = listing
        self._strict = strict

    def __len__(self) -> int:
        return len(self._listing.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        listing = self._listing
        record: dict[str, Any] = {"id": listing.ids[i], "label": np.int32(listing.labels[i])}
        try:
            record["image"] = listing.load(listing.items[i])
        except Exception as e:  # a hostile file can make a decoder raise any type: it is left out, never a crash
            error = e if isinstance(e, ImageError) else ImageError(
                f"{listing.names[i]}: cannot decode image: {type(e).__name__}: {e}")
            if self._strict:
                raise error from None
            record["error"] = (listing.names[i], str(error))
        return record


class Split:
    """One split of a data source.

    Attributes:
      name: "train", "val" or "test".
      ids: image ids (file paths relative to the root, or generated names), aligned with ``labels``.
      labels: int32 [N] class indices into ``class_names``.
      class_names: the source's classes, in label order.
      dataset: grain.MapDataset of ``{"id": str, "image": uint8 [H, W, 3] RGB, "label": int32}``;
        ``dataset[i]`` is the record of ``ids[i]``, or None if that file failed to decode.
      skipped: (file or id, reason) for every image left out, at index time or when read.
      stamps: ``identity.file_stamp`` of each image's file, aligned with ``ids`` ("" for generated images).
      multi_page: (file, pages) of the multi-page files, of which only the first page is read.
      digest: ``identity.listing_digest`` of ids, stamps and the files left out at index time, for the
        fingerprints of stages that read it.
      records: the unfiltered grain.MapDataset, where a file that failed to decode is a marker record
        ``{"id", "label", "error": (file, reason)}``; ``accept(record)`` files a marker under
        ``skipped``. Markers survive worker processes, so a reader that uses processes filters with
        ``accept`` in the main process; filtering inside a worker would record the failure only in that
        worker's copy of ``skipped``.
    """

    def __init__(self, name: str, listing: Listing, skipped: list[tuple[str, str]], strict: bool, *,
                 stamps: list[str], multi_page: list[tuple[str, int]]):
        self.name = name
        self.ids = list(listing.ids)
        self.stamps = list(stamps)
        self.multi_page = list(multi_page)
        self.digest = listing_digest(self.ids, self.stamps, skipped)
        self.labels = np.asarray(listing.labels, dtype=np.int32)
        self.class_names = list(listing.class_names)
        self.skipped = list(skipped)
        self.strict = strict
        self.records = grain.MapDataset.source(_Records(listing, strict))
        self.dataset = self.records.filter(self.accept)
        self._seen: set[str] = {name for name, _ in skipped}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    def accept(self, record: dict[str, Any]) -> bool:
        """True for a decoded record; for a failure marker, list the file in ``skipped`` and return False."""
        if "error" not in record:
            return True
        name, reason = record["error"]
        with self._lock:
            if name not in self._seen:
                self._seen.add(name)
                self.skipped.append((name, reason))
        return False

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def validate(data_config: ml_collections.ConfigDict) -> None:
    """Raise ConfigError (keys as ``data.*``) if the data config cannot be read; touches no image."""
    root = _rooted(data_config)
    source = check_choice(root, "data.source", SOURCES)
    for key, check in (("max_pixels", check_positive_int), ("follow_symlinks", check_bool),
                       ("max_images", check_nonnegative_int)):
        if key in data_config:  # optional: DEFAULT_MAX_PIXELS, False, 0 (all images)
            check(root, f"data.{key}")
    SOURCES[source].validate(root)


def open_split(data_config: ml_collections.ConfigDict, split: str, *, strict: bool = False) -> Split:
    """Index ``split`` of the source that ``data_config`` names and check its files' headers.

    ``data_config`` is the study's ``config.data`` (see ``configs/data.py``); ``split`` is one of
    "train", "val", "test". ``data_config.max_images`` > 0 keeps a seeded random subset of that many
    images (in listing order), chosen before any file is checked. Left out and listed in ``skipped``:
    files that fail ``check_file`` (unreadable, truncated, over ``data.max_pixels``), files whose real
    path lies outside ``data.root`` (unless ``data.follow_symlinks``), and ids that are not valid UTF-8.
    A split left without images is a ``DatasetError``. The files are checked by the main process of the run
    alone; the others list the split and take the main process's index (``anonjax.hosts.main_decides``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    validate(data_config)
    listing = SOURCES[data_config.source].list_split(data_config, split)
    max_images = data_config.get("max_images", 0) or 0
    if 0 < max_images < len(listing.ids):
        rng = np.random.default_rng([int(data_config.get("seed", 0)), SPLITS.index(split)])
        listing = listing.take(np.sort(rng.choice(len(listing.ids), size=max_images, replace=False)))
    index = hosts.main_decides(_index, listing, data_config)
    bad = [(name, reason) for name, reason in index["bad"]]
    if bad and strict:
        name, reason = bad[0]
        raise ImageError(f"{name}: {reason} ({len(bad)} bad file(s) in split {split!r})")
    if not index["ids"]:
        raise DatasetError(f"split {split!r} of data source {data_config.source!r} has no usable image "
                           f"({len(listing.ids)} listed, {len(bad)} left out" + (f", e.g. {bad[0][0]}: {bad[0][1]}"
                                                                                 if bad else "") + ")")
    position = {image_id: i for i, image_id in enumerate(listing.ids)}
    unlisted = [image_id for image_id in index["ids"] if image_id not in position]
    if unlisted:
        raise DatasetError(f"split {split!r}: this process does not list {unlisted[0]!r} ({len(unlisted)} image(s)) "
                           "that the main process does: every host must see the same data.root")
    multi_page = [(name, pages) for name, pages in index["multi_page"]]
    if multi_page:
        name, pages = multi_page[0]
        log.warning("split %s: %d multi-page TIFF file(s); only the first page of each is used, e.g. %s "
                    "(%d pages)", split, len(multi_page), name, pages)
    return Split(split, listing.take([position[image_id] for image_id in index["ids"]]), bad, strict,
                 stamps=index["stamps"], multi_page=multi_page)


def _index(listing: Listing, data_config: ml_collections.ConfigDict) -> dict[str, list]:
    """What indexing finds in ``listing`` (the main process's, shared with all): the ids it keeps with their file
    stamps, the (name, reason) of each item left out, and the (name, pages) of each multi-page file kept."""
    reasons = _refusals(listing, data_config)
    checks = [FileCheck(None)] * len(listing.ids)
    if listing.files:
        todo = [i for i, r in enumerate(reasons) if r is None]
        max_pixels = int(data_config.get("max_pixels", DEFAULT_MAX_PIXELS))
        with ThreadPoolExecutor(_CHECK_THREADS) as pool:
            for i, check in zip(todo, pool.map(lambda i: check_file(listing.items[i], max_pixels), todo),
                                strict=True):
                checks[i], reasons[i] = check, check.reason
    keep = [i for i, r in enumerate(reasons) if r is None]
    return {"ids": [listing.ids[i] for i in keep], "stamps": [checks[i].stamp for i in keep],
            "bad": [*listing.refused, *((listing.names[i], r) for i, r in enumerate(reasons) if r is not None)],
            "multi_page": [(listing.names[i], checks[i].pages) for i in keep if checks[i].pages > 1]}


def _refusals(listing: Listing, data_config: ml_collections.ConfigDict) -> list[str | None]:
    """Per image, why it is left out before its file is opened: an id that is not valid UTF-8 (it could
    not be written to reports or file names), or a file outside ``data.root`` reached by a link."""
    root = data_config.get("root")
    inside = None
    if listing.files and root and is_local(str(root)) and not data_config.get("follow_symlinks", False):
        inside = Path(str(root)).expanduser().resolve()
    reasons: list[str | None] = []
    for image_id, item in zip(listing.ids, listing.items, strict=True):
        reason = None
        try:
            image_id.encode("utf-8")
        except UnicodeEncodeError:
            reason = "the file name is not valid UTF-8; rename the file"
        if reason is None and inside is not None:
            real = Path(item).resolve()
            if not real.is_relative_to(inside):
                reason = f"a link to {real}, outside data.root (set data.follow_symlinks=True to read it)"
        reasons.append(reason)
    return reasons


def _rooted(data_config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``data_config`` under the key ``data``, so that checks name keys as the study config does."""
    return ml_collections.ConfigDict({"data": data_config})
