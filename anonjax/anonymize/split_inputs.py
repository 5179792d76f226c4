"""The images of a split as the models see them: those the anonymize stage kept, fitted to the training canvas,
checked against their detections, and anonymized there in each variant of the study (``model_inputs``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import ml_collections
import numpy as np

from anonjax.anonymize.box_cache import load_split_boxes
from anonjax.anonymize.box_table import CHANGED, BoxTable
from anonjax.anonymize.model_input import model_inputs
from anonjax.data import DatasetError, Split
from anonjax.data.canvas import Fitted, FittedImages, scale_boxes
from anonjax.data.transforms import normalize
from anonjax.plan import StudyPlan, Variant, study_plan


class SplitInputs:
    """The images of a split that the anonymize stage kept, fitted to the training canvas, with their boxes;
    and each variant's model inputs, made once for all models. Both are held in memory when they fit
    ``embed.cache_mb`` (each on its own).

    An image that cannot be read, or is not the image its boxes were detected on, stops the stage with a
    ``DatasetError`` naming it: nothing is embedded from it.
    """

    def __init__(self, split: Split, workdir: Path, config: ml_collections.ConfigDict):
        self.split = split
        plan = study_plan(config)
        self.table: BoxTable = load_split_boxes(workdir, config.data, split, plan.detectors, plan.detector_settings,
                                                keep_empty=plan.keep_empty)
        self.position = {image_id: i for i, image_id in enumerate(split.ids)}
        self.ids = [i for i in self.table.ids if i in self.position]
        self.fitted = FittedImages(split.dataset, config.train.canvas_size, budget_mb=config.embed.cache_mb)
        self.budget_mb = config.embed.cache_mb
        self._inputs: dict[tuple, np.ndarray] = {}

    def image(self, image_id: str) -> Fitted:
        """``image_id`` on the canvas, checked against its detection."""
        fitted = self.fitted[self.position[image_id]]
        if fitted is None:
            raise DatasetError("{}: {}".format(*self.split.records[self.position[image_id]]["error"]))
        if fitted.digest != self.table.digests[self.table.rows([image_id])[0]]:
            raise DatasetError(f"image {image_id!r} of split {self.split.name!r}: {CHANGED}")
        return fitted

    def views(self, variants: Sequence[Variant], plan: StudyPlan, image_size: int, batch_size: int,
              ids: Sequence[str] | None = None, rows: Sequence[int] | None = None,
              ) -> Iterator[tuple[list[str], dict[str, np.ndarray]]]:
        """``(ids, {variant name: float32 [b, S, S, 3]})``: each batch of ``batch_size`` ids and its images as the
        models see them in every variant (``model_inputs``: anonymized on the canvas, cut back to the content,
        resized), normalized; of the images only the ``rows`` of the batch (all by default) that it has, so that
        each host reads only its share (``parallel.process_rows``)."""
        ids = self.ids if ids is None else list(ids)
        rows = range(batch_size) if rows is None else rows
        keep = len(self.ids) * image_size**2 * 3 * (1 + len(plan.variants)) <= self.budget_mb * 2**20
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            mine = [chunk[r] for r in rows if r < len(chunk)]
            key = (image_size, *mine)
            made = self._make(mine, [v for v in variants if (v.name, *key) not in self._inputs], plan, image_size)
            if keep:
                self._inputs.update({(name, *key): pixels for name, pixels in made.items()})
            pixels = {v.name: made[v.name] if v.name in made else self._inputs[(v.name, *key)] for v in variants}
            yield chunk, {name: normalize(p) for name, p in pixels.items()}

    def _make(self, chunk: list[str], variants: Sequence[Variant], plan: StudyPlan,
              image_size: int) -> dict[str, np.ndarray]:
        """The model inputs (uint8, before normalization) of ``chunk`` in each of ``variants``."""
        if not variants:
            return {}
        if not chunk:
            return {v.name: np.zeros((0, image_size, image_size, 3), np.uint8) for v in variants}
        fitted = [self.image(i) for i in chunk]
        rows = self.table.rows(chunk)
        canvases = np.stack([f.pixels for f in fitted])
        boxes = np.stack([scale_boxes(b, f.scale, f.size) for b, f in zip(self.table.padded(rows).boxes, fitted,
                                                                          strict=True)])
        sizes = [f.size for f in fitted]
        made = {}
        for variant in variants:
            selected = params = None
            if variant.anonymized:
                selected = self.table.selection(variant.degree, plan.seed, rows, degree_kinds=plan.degree_kinds)
                params = plan.method_params[variant.method]
            made[variant.name] = model_inputs(canvases, sizes, boxes, image_size, method=variant.method,
                                              selected=selected, params=params).pixels
        return made
