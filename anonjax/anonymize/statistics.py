"""What a split's anonymization does, measured: counts before and after exclusion, boxes per image, the
anonymized area per degree, and, on a few images as the models see them, the text box heights and the share of
box pixels each method changes, with a warning when the anonymization is nearly invisible to the model."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from anonjax.anonymize.box_table import BoxTable
from anonjax.anonymize.boxes import box_area_fraction
from anonjax.anonymize.detection import KINDS
from anonjax.anonymize.materialize import anonymized_variants
from anonjax.anonymize.model_input import box_pixels, model_inputs
from anonjax.data.canvas import fit_to_canvas, scale_boxes
from anonjax.layout import percent, variant_name

log = logging.getLogger(__name__)

_STATS_BATCH = 16  # images anonymized at once for the statistics
_MIN_TEXT_PX = 8  # a median text box below this height at the model input is a warning
_MIN_CHANGED = 0.9  # so is pixelation or blur changing less of the box pixels than this at the highest degree
NEARLY_INVISIBLE = ("at this resolution the anonymization is nearly invisible to the model; "
                    "raise train.canvas_size and embed.image_size")


def split_report(split, unreadable: int, table: BoxTable, load, methods, degrees, params, seed: int,
                 stats_images: int, degree_kinds, *, canvas: int | None = None,
                 image_size: int | None = None) -> dict:
    """Counts before/after exclusion, boxes per image, the anonymized area per degree, and, measured on the
    first ``stats_images`` kept images as the models see them (fitted to a ``canvas`` square, anonymized
    there, resized to ``image_size``; without these sizes at the images' own resolution): the height of
    the text boxes, and per method x degree the fraction of the pixels inside the anonymized boxes that
    changed. ``warnings`` says when the anonymization is nearly invisible at the models' input.

    ``unreadable`` files were left out when the split was indexed; images that could not be decoded or
    detected later are counted as failed."""
    if (canvas is None) != (image_size is None):
        raise ValueError(f"give both canvas and image_size or neither, got {canvas} and {image_size}")
    counts = table.counts
    sizes = table.sizes
    by_kind = {kind: int((table.flat_kinds == k).sum()) for k, kind in enumerate(KINDS)}
    rows = np.arange(min(stats_images, len(table.ids)))
    index = {image_id: i for i, image_id in enumerate(split.ids)}
    sample = table.padded(rows)
    views = _Views([load(index[table.ids[r]]) for r in rows], sample.boxes, params, canvas, image_size)
    text = (sample.kinds == KINDS.index("text")) & sample.valid
    out: dict[str, Any] = {
        "images_listed": len(split.ids) + unreadable,
        "images_unreadable": unreadable,
        "images_failed": len(table.failed),
        "images_without_detection": len(table.empty),
        "images_kept": len(table.ids),
        "skipped": [{"file": name, "reason": reason} for name, reason in split.skipped[:unreadable]],
        "failed": dict(table.failed),
        "multi_page": [{"file": name, "pages": pages} for name, pages in split.multi_page],
        "boxes_per_image": _summary(counts),
        "boxes_by_detector": by_kind,
        "model_input": None if canvas is None else {"canvas_size": canvas, "image_size": image_size},
        "stats_images": len(rows),
        "text_box_height_px": {"image": _quantiles(_heights(sample.boxes)[text]),
                               "model_input": None if canvas is None else _quantiles(_heights(views.boxes)[text])},
        "degrees": {},
    }
    for degree in degrees:
        selection = table.selection(degree, seed, degree_kinds=degree_kinds)
        area = [box_area_fraction(table.row_boxes(r)[selection[r, :counts[r]]], *sizes[r])
                for r in range(len(table.ids))]
        entry: dict[str, Any] = {"boxes_per_image": _summary(selection.sum(1)), "area_fraction": _summary(area),
                                 "box_pixels_changed": {}}
        for method in methods:
            anonymized = views.anonymized(method, degree, selection[rows])
            entry["box_pixels_changed"][method] = _changed_in_boxes(views.original, anonymized, views.boxes,
                                                                    selection[rows])
        out["degrees"][str(percent(degree))] = entry
    out["warnings"] = _warnings(out)
    return out


def log_left_out(split: str, skipped: list[tuple[str, str]], failed: dict[str, str]) -> None:
    """One warning per file left out of ``split`` (the first 20, then a count; report.json lists all)."""
    left_out = [*skipped, *failed.items()]
    for name, reason in left_out[:20]:
        log.warning("anonymize: split %s: left out %s: %s", split, name, reason)
    if len(left_out) > 20:
        log.warning("anonymize: split %s: %d more left out, listed in report.json", split, len(left_out) - 20)


class _Views:
    """Images as the statistics measure them: as the models see them (``model_inputs``) when ``canvas`` and
    ``image_size`` are given, else at their own resolution. ``original``: each image, uint8; ``boxes``: all
    of their boxes in those pixels, float64 [R, M, 4]."""

    def __init__(self, images: list[np.ndarray], boxes: np.ndarray, params, canvas: int | None,
                 image_size: int | None):
        self.images, self.native_boxes, self.params, self.image_size = images, boxes, params, image_size
        self.native = canvas is None
        if self.native:
            self.original, self.boxes = images, boxes.astype(np.float64)
            return
        fitted = [fit_to_canvas(image, canvas) for image in images]
        self.canvases = np.array([f.pixels for f in fitted]).reshape(-1, canvas, canvas, 3)
        self.sizes = [f.size for f in fitted]
        self.canvas_boxes = np.array([scale_boxes(b, f.scale, f.size) for b, f in zip(boxes, fitted, strict=True)],
                                     np.int32).reshape(boxes.shape)
        self.original, self.boxes = self._inputs(None, None)

    def anonymized(self, method: str, degree: float, selected: np.ndarray) -> list[np.ndarray]:
        """Each image with its ``selected`` boxes (bool [R, M]) anonymized by ``method`` at ``degree``."""
        if self.native:
            name = variant_name(method, degree)
            return [anonymized_variants(image, b, {degree: s}, [method], self.params)[name]
                    for image, b, s in zip(self.images, self.native_boxes, selected, strict=True)]
        return self._inputs(method, selected)[0]

    def _inputs(self, method: str | None, selected: np.ndarray | None) -> tuple[list[np.ndarray], np.ndarray]:
        pixels, boxes = [], [np.zeros((0, *self.canvas_boxes.shape[1:]))]
        for start in range(0, len(self.sizes), _STATS_BATCH):
            part = slice(start, start + _STATS_BATCH)
            inputs = model_inputs(self.canvases[part], self.sizes[part], self.canvas_boxes[part], self.image_size,
                                  method=method, selected=None if selected is None else selected[part],
                                  params=self.params.get(method))
            pixels += list(inputs.pixels)
            boxes.append(inputs.boxes)
        return pixels, np.concatenate(boxes)


def _heights(boxes: np.ndarray) -> np.ndarray:
    return boxes[..., 3] - boxes[..., 1]


def _changed_in_boxes(originals, anonymized, boxes: np.ndarray, selected: np.ndarray) -> dict[str, Any]:
    """Of the pixels inside the selected boxes, the fraction whose value changed in any channel: the mean
    over images (those with such pixels) and pooled over all of their pixels."""
    per_image, changed, inside = [], 0, 0
    for before, after, b, s in zip(originals, anonymized, boxes, selected, strict=True):
        pixels = box_pixels(b[s], *before.shape[:2])
        n = int(pixels.sum())
        if n:
            k = int(((after != before).any(-1) & pixels).sum())
            per_image.append(k / n)
            changed, inside = changed + k, inside + n
    return {"images": float(np.mean(per_image)) if per_image else None,
            "pixels": changed / inside if inside else None, "n_images": len(per_image), "n_pixels": inside}


def _quantiles(values: np.ndarray) -> dict[str, Any]:
    """Median and 10th percentile of ``values`` (None when there are none), and their number."""
    if values.size == 0:
        return {"median": None, "p10": None, "n": 0}
    return {"median": float(np.median(values)), "p10": float(np.percentile(values, 10)), "n": int(values.size)}


def _warnings(split: dict) -> list[str]:
    """Why the anonymization of a split is nearly invisible at the models' input (empty when it is not,
    or when the statistics were measured at the images' own resolution)."""
    if split["model_input"] is None:
        return []
    reasons = []
    median = split["text_box_height_px"]["model_input"]["median"]
    if median is not None and median < _MIN_TEXT_PX:
        reasons.append(f"the median text box is {median:.1f} px tall at the model input (below {_MIN_TEXT_PX} px)")
    if split["degrees"]:
        degree = max(split["degrees"], key=int)
        for method in ("pixel", "blur"):
            fraction = split["degrees"][degree]["box_pixels_changed"].get(method, {}).get("pixels")
            if fraction is not None and fraction < _MIN_CHANGED:
                reasons.append(f"{method} at {degree}% changes {fraction:.0%} of the box pixels")
    return [f"{'; '.join(reasons)}: {NEARLY_INVISIBLE}"] if reasons else []


def _summary(values) -> dict[str, float]:
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return {"mean": 0.0, "median": 0.0, "max": 0.0, "n": 0}
    return {"mean": float(values.mean()), "median": float(np.median(values)), "max": float(values.max()),
            "n": int(values.size)}
