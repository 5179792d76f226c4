"""Host side of the training input: which images make up a step's batch, read and fitted to a canvas,
with their anonymization boxes (or their anonymized twins, computed once) and iBOT masks.

The global batch of step ``s`` is a pure function of (seed, step): epoch ``e`` visits the images in the
permutation drawn from ``(seed, e)``, and step ``s`` is its ``k``-th run of ``global_batch`` images, with
``e, k = divmod(s, batches_per_epoch)``. Each host reads its rows of that batch (those its devices hold;
with ``n`` hosts, usually the ``h``-th of ``n`` contiguous slices) and draws the iBOT masks of those rows
alone, from (seed, step, position) (:func:`anonjax.ssl.masking.batch_masks`). An image that cannot be used
gives its slot to the next usable image of the source. Nothing depends on the number of hosts, so one
process and several feed the same global batch.

:func:`batches` reads the steps through grain, a few steps ahead (in worker processes or threads) and places
them on the devices ahead of use. The reader's state is saved in every checkpoint, so a resumed run reads
exactly the images an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grain
import numpy as np
from absl import flags
from tqdm import tqdm

from anonjax.anonymize.box_table import BoxRows
from anonjax.anonymize.methods import apply as anonymize
from anonjax.data.canvas import Fitted, FittedImages, MappedImages, scale_boxes
from anonjax.errors import DatasetError
from anonjax.ssl.masking import batch_masks

log = logging.getLogger(__name__)

_READ_THREADS = os.cpu_count() or 1  # images of one batch read at once: one per core of the host
_STEPS_AHEAD = 2  # batches read and placed on the devices before they are needed


@dataclass
class PairSource:
    """The images one model trains on, with (for adapted models) the boxes anonymized in each.

    ``images``: the dataset's images fitted to the canvas (by the train stage once per run, memory-mapped:
    ``canvas.fit_once``); ``indices``: the dataset positions to train
    on; ``boxes``: the rows of the split's box table aligned with ``indices``, with the boxes selected at the
    model's degree and the pixel digest each image was detected on (None for models trained on original data);
    ``twins``: the anonymized canvas of every position, when :func:`anonymize_once` computed them (None:
    anonymized at every step).
    """

    images: FittedImages | MappedImages
    indices: np.ndarray
    boxes: BoxRows | None = None
    twins: dict[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class BatchPlan:
    """Batch geometry of one run: the global batch, the rows of it that this host reads (in increasing order:
    ``anonjax.parallel.process_rows``), canvas, mask settings (masks drawn in groups of ``group_size``
    consecutive images, 0: the whole batch)."""

    global_batch: int
    rows: tuple[int, ...]
    canvas: int
    seed: int
    patch_shape: tuple[int, int]
    mask_probability: float
    mask_ratio: tuple[float, float]
    group_size: int = 0

    def __post_init__(self) -> None:
        rows = np.asarray(self.rows)
        if not (len(rows) and rows[0] >= 0 and rows[-1] < self.global_batch and np.all(np.diff(rows) > 0)):
            raise ValueError(f"rows {self.rows} are not increasing rows of the global batch of {self.global_batch}")

    @property
    def local_batch(self) -> int:
        return len(self.rows)

    def batches_per_epoch(self, n_images: int) -> int:
        """Whole global batches in one epoch."""
        per_epoch = n_images // self.global_batch
        if per_epoch < 1:
            raise DatasetError(
                f"{n_images} training images do not fill one global batch of {self.global_batch}: "
                "lower config.train.batch_size or use more images"
            )
        return per_epoch

    def positions(self, step: int, n_images: int) -> np.ndarray:
        """Positions (into the source) of this host's images at ``step``: its rows of the global batch."""
        epoch, k = divmod(step, self.batches_per_epoch(n_images))
        order = np.random.default_rng([self.seed, epoch]).permutation(n_images)
        return order[k * self.global_batch + np.asarray(self.rows)]


def anonymize_once(source: PairSource, method: str, params: dict, *, budget_mb: float,
                   batch_size: int = 32, progress: bool = False) -> PairSource:
    """``source`` with the anonymized canvas of every image computed now, when they all fit in ``budget_mb``
    (otherwise ``source`` as it is, anonymized at every step).

    Anonymizing an image is a pure function of its pixels and selected boxes, so the twins are the pixels the
    step would compute (by the box-local path, the step's by the dense one: the same pixels, a blurred one
    within one grey level), computed once instead of once per epoch: on a CPU, where the dense jitted methods
    cost more than the step of a small model, this keeps adapted training close to the Unadapted model's speed.
    An image that fails to decode or changed after its detection gets no twin and is replaced as in
    :func:`host_batch`."""
    canvas = source.images.canvas
    if source.boxes is None or len(source) * canvas**2 * 3 > budget_mb * 2**20:
        return source
    twins: dict[int, np.ndarray] = {}
    starts = range(0, len(source), batch_size)
    for start in tqdm(starts, desc=f"anonymize ({method})", unit="batch", disable=not progress, leave=False):
        positions = list(range(start, min(start + batch_size, len(source))))
        read = [_usable(source, p) for p in positions]
        good = [(p, r) for p, r in zip(positions, read, strict=True) if r is not None]
        if not good:
            continue
        pixels = np.stack([r.pixels for _, r in good])
        boxes, selected = source.boxes.batch([p for p, _ in good])
        boxes = np.stack([scale_boxes(b, r.scale, r.size) for b, (_, r) in zip(boxes, good, strict=True)])
        out = anonymize(pixels, boxes, selected, method, **params)
        twins.update({p: out[i] for i, (p, _) in enumerate(good)})
    return dataclasses.replace(source, twins=twins)


def _usable(source: PairSource, position: int) -> Fitted | None:
    """The image at ``position`` of the source; None when it fails to decode, or (adapted models) has no twin
    or is not the image its boxes were detected on."""
    if source.twins is not None and position not in source.twins:  # checked when the twins were made
        return None
    fitted = source.images[int(source.indices[position])]
    if fitted is not None and source.twins is None and source.boxes is not None \
            and fitted.digest != source.boxes.digest(position):  # boxes apply only to the pixels they were detected on
        log.warning("training image at position %d changed after its detection: left out", position)
        return None
    return fitted


def _substitute(source: PairSource, position: int) -> tuple[int, Fitted]:
    """The next usable image of the source after ``position`` (wrapping), and its position: the stand-in
    for an image that cannot be used, chosen from its position alone so that every layout chooses alike."""
    n = len(source)
    for other in range(position + 1, position + n):
        fitted = _usable(source, other % n)
        if fitted is not None:
            return other % n, fitted
    raise OSError(f"none of the {n} training images can be used: each fails to decode or changed after its "
                  "detection")


def host_batch(source: PairSource, plan: BatchPlan, step: int) -> dict[str, np.ndarray]:
    """This host's rows of the batch of ``step``: canvases, true sizes, iBOT masks, and for adapted models
    either the anonymized twins or the canvas boxes to anonymize."""
    if source.images.canvas != plan.canvas:
        raise ValueError(f"images are fitted to a {source.images.canvas} px canvas, the run needs {plan.canvas}")
    positions = plan.positions(step, len(source))
    with ThreadPoolExecutor(_READ_THREADS) as pool:
        read_out = list(pool.map(lambda p: _usable(source, int(p)), positions))
    # A file that fails to decode, or changed after its detection, is left out: its slot takes a stand-in.
    for i, fitted in enumerate(read_out):
        if fitted is None:
            positions[i], read_out[i] = _substitute(source, int(positions[i]))
    batch = {
        "images": np.stack([r.pixels for r in read_out]),
        "sizes": np.asarray([r.size for r in read_out], np.int32),
    }
    if source.twins is not None:
        batch["twins"] = np.stack([source.twins[p] for p in positions])
    elif source.boxes is not None:
        boxes, batch["selected"] = source.boxes.batch(positions)
        batch["boxes"] = np.stack([scale_boxes(b, r.scale, r.size) for b, r in zip(boxes, read_out, strict=True)])
    crops = [2 * row + view for row in plan.rows for view in (0, 1)]  # row j has the global crops 2j, 2j + 1
    masks = batch_masks((plan.seed, step), 2 * plan.global_batch, plan.patch_shape, probability=plan.mask_probability,
                        ratio_range=plan.mask_ratio, crops=crops, group=2 * plan.group_size)
    batch["masks"] = masks.reshape(plan.local_batch, 2, -1)
    return batch


def batches(source: PairSource, plan: BatchPlan, total_steps: int, place: Callable[[dict], dict], start: int = 0,
            *, workers: int = 0) -> grain.DatasetIterator:
    """A grain iterator over this host's batches of steps ``start .. total_steps - 1``, each passed through
    ``place`` (e.g. onto the devices) a few steps ahead of use.

    The batches are the elements ``start ..`` of a grain ``MapDataset`` indexed by step, so the reader's whole
    state is the index of the next element (:func:`reader_state`): a run restarted from it, with any number of
    workers, reads what an uninterrupted run would. ``workers`` > 0 reads the batches in that many worker
    processes, which map the canvases and the box table rather than copy them; 0 (and any number while the
    anonymized twins are in memory, which each process would copy) in threads of this one.
    """
    steps = grain.MapDataset.range(start, total_steps).map(functools.partial(host_batch, source, plan))
    if workers and source.twins is None:
        if not flags.FLAGS.is_parsed():  # grain's workers read its absl flags; outside a command line, defaults
            flags.FLAGS.mark_as_parsed()
        read = steps.to_iter_dataset().mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    else:
        if workers:
            log.info("reading the batches in threads: the anonymized twins are in memory (train.cache_mb)")
        read = steps.to_iter_dataset(grain.ReadOptions(num_threads=_STEPS_AHEAD, prefetch_buffer_size=_STEPS_AHEAD))
    return iter(grain.experimental.ThreadPrefetchIterDataset(read.map(place), prefetch_buffer_size=_STEPS_AHEAD))


def reader_state(next_step: int) -> dict:
    """The state of the reader of :func:`batches` once it has given the batches of the steps before
    ``next_step``: grain's dataset index of the next element."""
    return {"next_index": int(next_step)}
