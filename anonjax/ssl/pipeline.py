"""Host side of the training input: which images make up a step's batch, read and fitted to a canvas,
with their anonymization boxes and iBOT masks.

The order is a pure function of (seed, epoch): epoch ``e`` visits the images in the permutation drawn
from ``(seed, e)``, host ``h`` of ``n`` reads every n-th image of it, and step ``s`` is batch
``s mod batches_per_epoch`` of epoch ``s div batches_per_epoch``. The iterator state is therefore the
step alone, and a resumed run reads exactly the images an uninterrupted one would.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from anonjax.data.canvas import FittedImages, scale_boxes
from anonjax.errors import DatasetError
from anonjax.ssl.masking import batch_masks

log = logging.getLogger(__name__)

_READ_THREADS = 8


@dataclass
class PairSource:
    """The images one model trains on, with (for adapted models) the boxes anonymized in each.

    ``images``: the dataset's records fitted to the canvas; ``indices``: the dataset positions to train
    on; ``boxes`` int32 [n, M, 4], ``selected`` bool [n, M] and ``digests`` (the pixel digest each image
    was detected on) aligned with ``indices`` (None for the unadapted model).
    """

    images: FittedImages
    indices: np.ndarray
    boxes: np.ndarray | None = None
    selected: np.ndarray | None = None
    digests: list[str] | None = None

    def __len__(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class BatchPlan:
    """Batch geometry of one run: global batch, this host's share, canvas, mask settings."""

    global_batch: int
    process_index: int
    process_count: int
    canvas: int
    seed: int
    patch_shape: tuple[int, int]
    mask_probability: float
    mask_ratio: tuple[float, float]

    @property
    def local_batch(self) -> int:
        return self.global_batch // self.process_count

    def batches_per_epoch(self, n_images: int) -> int:
        """Whole batches in one epoch (each host reads ``n_images / process_count`` images)."""
        per_epoch = n_images // self.process_count // self.local_batch
        if per_epoch < 1:
            raise DatasetError(
                f"{n_images} training images do not fill one global batch of {self.global_batch}: "
                "lower config.train.batch_size or use more images"
            )
        return per_epoch

    def positions(self, step: int, n_images: int) -> np.ndarray:
        """Positions (into the source) of this host's images at ``step``."""
        per_epoch = self.batches_per_epoch(n_images)
        epoch, k = divmod(step, per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(n_images)
        mine = order[self.process_index :: self.process_count]
        return mine[k * self.local_batch : (k + 1) * self.local_batch]


def host_batch(source: PairSource, plan: BatchPlan, step: int) -> dict[str, np.ndarray]:
    """This host's part of the batch of ``step``: canvases, true sizes, canvas boxes and iBOT masks."""
    positions = plan.positions(step, len(source))

    if source.images.canvas != plan.canvas:
        raise ValueError(f"images are fitted to a {source.images.canvas} px canvas, the run needs {plan.canvas}")
    with ThreadPoolExecutor(_READ_THREADS) as pool:
        read_out = list(pool.map(lambda p: source.images[int(source.indices[p])], positions))
    if source.digests is not None:  # boxes apply only to the pixels they were detected on
        for i, (p, r) in enumerate(zip(positions, read_out, strict=True)):
            if r is not None and r.digest != source.digests[p]:
                log.warning("training image at position %d changed after its detection: left out", p)
                read_out[i] = None
    good = [i for i, r in enumerate(read_out) if r is not None]
    if not good:
        raise OSError(f"no image of the batch of step {step} could be decoded (positions {positions.tolist()})")
    # A file that fails to decode, or changed after its detection, is left out: its slot repeats the first
    # good image, boxes included.
    positions = np.asarray([p if r is not None else positions[good[0]] for p, r in zip(positions, read_out,
                                                                                           strict=True)])
    read_out = [r if r is not None else read_out[good[0]] for r in read_out]
    batch = {
        "images": np.stack([r.pixels for r in read_out]),
        "sizes": np.asarray([r.size for r in read_out], np.int32),
    }
    if source.boxes is not None:
        batch["boxes"] = np.stack(
            [scale_boxes(source.boxes[p], r.scale, r.size) for p, r in zip(positions, read_out, strict=True)]
        )
        batch["selected"] = source.selected[positions]
    rng = np.random.default_rng([plan.seed, step, plan.process_index, 1])
    masks = batch_masks(rng, 2 * plan.local_batch, plan.patch_shape, probability=plan.mask_probability,
                        ratio_range=plan.mask_ratio)
    batch["masks"] = masks.reshape(plan.local_batch, 2, -1)
    return batch
