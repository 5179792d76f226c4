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

import cv2
import numpy as np

from anonjax.data.identity import pixel_digest
from anonjax.data.listing import DatasetError
from anonjax.ssl.masking import batch_masks

log = logging.getLogger(__name__)

_READ_THREADS = 8


def fit_to_canvas(image: np.ndarray, canvas: int) -> tuple[np.ndarray, tuple[int, int], float]:
    """``image`` scaled (aspect kept) to fit a ``canvas`` square, placed top-left on black.

    Returns the canvas uint8 [canvas, canvas, 3], the true (height, width) inside it, and the scale.
    """
    h, w = image.shape[:2]
    scale = canvas / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if (nh, nw) != (h, w):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        image = cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.zeros((canvas, canvas, 3), np.uint8)
    out[:nh, :nw] = image
    return out, (nh, nw), scale


def scale_boxes(boxes: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
    """xyxy boxes scaled to the canvas, rounded outwards so a scaled box covers all of the original one."""
    out = np.empty_like(boxes)
    out[..., :2] = np.floor(boxes[..., :2] * scale)
    out[..., 2:] = np.ceil(boxes[..., 2:] * scale)
    out[..., 0::2] = np.clip(out[..., 0::2], 0, size[1])
    out[..., 1::2] = np.clip(out[..., 1::2], 0, size[0])
    return out.astype(np.int32)


class FittedImages:
    """Images of a dataset fitted to the canvas, ``(canvas, size, scale, pixel digest)`` or None for a file
    that fails to decode. When all of them fit in ``budget_mb`` they are decoded and fitted once and kept,
    so that epochs and the models trained one after another on the same images do not read them again."""

    def __init__(self, dataset, canvas: int, *, budget_mb: float = 0.0):
        self.dataset, self.canvas = dataset, canvas
        self._kept: dict[int, tuple | None] | None = {} if len(dataset) * canvas**2 * 3 <= budget_mb * 2**20 else None

    def __getitem__(self, index: int) -> tuple[np.ndarray, tuple[int, int], float, str] | None:
        if self._kept is not None and index in self._kept:
            return self._kept[index]
        record = self.dataset[index]
        fitted = None if record is None else (*fit_to_canvas(record["image"], self.canvas),
                                              pixel_digest(record["image"]))
        if self._kept is not None:
            self._kept[index] = fitted
        return fitted


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
    patch_grid: tuple[int, int]
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
            if r is not None and r[3] != source.digests[p]:
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
        "images": np.stack([r[0] for r in read_out]),
        "sizes": np.asarray([r[1] for r in read_out], np.int32),
    }
    if source.boxes is not None:
        batch["boxes"] = np.stack(
            [scale_boxes(source.boxes[p], r[2], r[1]) for p, r in zip(positions, read_out, strict=True)]
        )
        batch["selected"] = source.selected[positions]
    rng = np.random.default_rng([plan.seed, step, plan.process_index, 1])
    masks = batch_masks(rng, 2 * plan.local_batch, plan.patch_grid, probability=plan.mask_probability,
                        ratio_range=plan.mask_ratio)
    batch["masks"] = masks.reshape(plan.local_batch, 2, -1)
    return batch
