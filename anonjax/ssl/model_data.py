"""What each model of a study trains on: the training images the anonymize stage kept, as they are for the models
trained on original data, anonymized at the model's method and degree for an adapted one."""

from __future__ import annotations

import logging

import numpy as np

from anonjax.anonymize.box_table import BoxRows, BoxTable
from anonjax.data import Split
from anonjax.data.canvas import FittedImages, MappedImages
from anonjax.errors import DatasetError
from anonjax.plan import Model, StudyPlan
from anonjax.ssl.pipeline import PairSource, anonymize_once

log = logging.getLogger(__name__)


def kept_positions(split: Split, table: BoxTable | None) -> np.ndarray:
    """Positions of the training images every model trains on: with detectors, those the anonymize stage kept
    (detected, and with at least one detection unless ``anonymize.keep_empty``, as the paper removes images
    without personal data); without detectors, all."""
    if table is None:
        return np.arange(len(split.ids))
    kept = set(table.ids)
    positions = np.asarray([p for p, image_id in enumerate(split.ids) if image_id in kept], np.int64)
    left_out = len(split.ids) - len(positions)
    if left_out:
        log.info("train: %d of %d training images are left out (no usable detection, or none at all with "
                 "anonymize.keep_empty False)", left_out, len(split.ids))
    if not len(positions):
        raise DatasetError("no training image has detections: run the anonymize stage on split 'train', or set "
                           "anonymize.keep_empty=True")
    return positions


def model_source(model: Model, plan: StudyPlan, split: Split, images: FittedImages | MappedImages,
                 table: BoxTable | None, positions: np.ndarray, *, budget_mb: float) -> PairSource:
    """The images at ``positions`` as ``model`` trains on them: the originals, or each paired with its anonymized
    twin at the model's method and degree (anonymized once, held within ``budget_mb``)."""
    if model.on_original:
        return PairSource(images, positions)
    method, degree = model.variant.method, model.variant.degree
    rows = table.rows([split.ids[p] for p in positions])
    paired = PairSource(images, positions, boxes=BoxRows(table, rows, degree, plan.seed, tuple(plan.degree_kinds)))
    source = anonymize_once(paired, method, plan.method_params[method], budget_mb=budget_mb, progress=True)
    log.info("train: %s anonymizes %s", model.name, "once before training, with the numpy backend"
             if source.twins is not None else "in every step, with the xla backend: its images' anonymized twins "
             f"would take more than train.cache_mb = {budget_mb} MB")
    return source
