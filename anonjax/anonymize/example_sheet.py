"""The example sheet: one image under every method (rows) at every degree (columns)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import cv2
import numpy as np

from anonjax.anonymize.box_table import BoxTable
from anonjax.anonymize.materialize import anonymized_variants
from anonjax.data.reader import Split
from anonjax.layout import ORIGINAL, percent, variant_name

log = logging.getLogger(__name__)

_SHEET_HEIGHT = 256


def example_sheet(image: np.ndarray, table: BoxTable, image_id: str, methods, degrees, params, seed: int,
                  degree_kinds, *, originals: bool = True) -> np.ndarray:
    """One image as a sheet: a row per method, each degree across (labelled), after the original when
    ``originals``. False gives a sheet that can be shared: no original pixels, and the boxes a degree below
    100 % leaves as they are covered (``covered``), so that it shows only what the method does."""
    row = int(table.rows([image_id])[0])
    n = int(table.counts[row])
    boxes = table.row_boxes(row)
    masks = {d: table.selection(d, seed, [row], degree_kinds=degree_kinds)[0, :n] for d in degrees}
    variants = anonymized_variants(image, boxes, masks, methods, params)
    if not originals:
        variants = {variant_name(m, d): covered(variants[variant_name(m, d)], boxes[~masks[d]])
                    for m in methods for d in degrees}
    scale = _SHEET_HEIGHT / image.shape[0]
    size = (max(1, round(image.shape[1] * scale)), _SHEET_HEIGHT)

    def cell(pixels: np.ndarray, label: str) -> np.ndarray:
        tile = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        tile = np.pad(tile, ((24, 4), (4, 4), (0, 0)), constant_values=255)
        cv2.putText(tile, label, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        return tile

    first = [cell(image, ORIGINAL)] if originals else []
    rows = [np.concatenate(first + [cell(variants[variant_name(m, d)], f"{m} {percent(d)}%") for d in degrees],
                           axis=1) for m in methods]
    return np.concatenate(rows, axis=0)


def covered(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """A copy of ``image`` with each of ``boxes`` filled grey and crossed out: regions an example shows neither
    as they are nor anonymized."""
    out = image.copy()
    for x0, y0, x1, y1 in np.asarray(boxes, np.int64).reshape(-1, 4):
        out[y0:y1, x0:x1] = 160
        width = max(1, min(x1 - x0, y1 - y0) // 12)
        cv2.line(out, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), (90, 90, 90), width)
        cv2.line(out, (int(x0), int(y1) - 1), (int(x1) - 1, int(y0)), (90, 90, 90), width)
    return out


def richest(table: BoxTable) -> int:
    """Row of the image with the most kinds of detections (a face and text over text alone), then most boxes."""
    kinds = [len(np.unique(table.row_kinds(r))) for r in range(len(table.ids))]
    counts = table.counts
    return max(range(len(table.ids)), key=lambda r: (kinds[r], counts[r]))


def example_image(table: BoxTable, split: Split, load: Callable[[int], np.ndarray],
                  requested: str | None) -> tuple[str, np.ndarray] | None:
    """The id and image a sheet shows: ``requested``, else the :func:`richest` kept image; None, with a warning
    naming it, when it is not kept or no longer the image its boxes were detected on."""
    example = requested or table.ids[richest(table)]
    if example not in table.ids:
        log.warning("anonymize: example image %r is not among the kept images of %s", example, split.name)
        return None
    image = load(split.ids.index(example))
    if reason := table.changed(table.ids.index(example), image):
        log.warning("anonymize: no example sheet of %r: %s", example, reason)
        return None
    return example, image
