"""Stage ``anonymize``: detect faces, text and codes of every split (cached), then report what each method
and degree anonymizes, draw an example sheet, and, if asked, write the paired datasets.

Writes under ``<workdir>/anonymize/``:
  boxes/<split>/<fingerprint>/shard_*.npz   detections, one directory per detector set (see
                                            ``anonjax.anonymize.box_cache``; ``load_split_boxes`` reads them)
  report.json, report.md                    counts before/after exclusion, boxes per image, anonymized
                                            area per method and degree, detectors used, and where the
                                            models look (the training canvas, then the embedding input):
                                            text box heights and the share of box pixels each method changes
  example_sheet.png                         one image, each method (rows) at each degree (columns), after
                                            the original unless ``report.originals`` is False (then the
                                            boxes a degree leaves as they are are covered, and report.md
                                            counts the files left out without naming them)
  pairs/<variant>/<split>/*.png             with ``anonymize.materialize``; pairs/pairs_<split>.json lists them
  names_<split>.json                        with ``anonymize.opaque_names``: file names -> image ids
  DONE.json

In a run of several processes (``anonjax.hosts``) each detects its own shards of every split
(``box_cache.own_shards``) into the shared cache, and after a barrier checks that the cache holds every
shard (``box_cache.assemble_table``). Everything else above, pairs included, is written by the main process
alone (pairs are numbered and listed in one order, so they are not split); the others wait for it at a
barrier, so the outputs are complete when the stage returns in any process.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import cv2
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.analysis.markdown_text import literal
from anonjax.anonymize import box_cache
from anonjax.anonymize.box_cache import BoxTable, assemble_table, detect_split
from anonjax.anonymize.boxes import box_area_fraction
from anonjax.anonymize.detection import KINDS, Detectors
from anonjax.anonymize.materialize import anonymized_variants, materialize_pairs, write_png
from anonjax.anonymize.methods import METHODS
from anonjax.anonymize.model_input import box_pixels, model_inputs
from anonjax.anonymize.settings_checks import check_detector_settings
from anonjax.data.canvas import fit_to_canvas, scale_boxes
from anonjax.data.image_io import DEFAULT_MAX_PIXELS
from anonjax.files import save_json, save_text
from anonjax.fingerprint import fingerprint, is_complete, mark_complete, results_settings
from anonjax.layout import ORIGINAL, percent, variant_name
from anonjax.plan import study_plan

log = logging.getLogger(__name__)

_SHEET_HEIGHT = 256
_STATS_BATCH = 16  # images anonymized at once for the statistics
_MIN_TEXT_PX = 8  # a median text box below this height at the model input is a warning
_MIN_CHANGED = 0.9  # so is pixelation or blur changing less of the box pixels than this at the highest degree
NEARLY_INVISIBLE = ("at this resolution the anonymization is nearly invisible to the model; "
                    "raise train.canvas_size and embed.image_size")


def validate(config: ml_collections.ConfigDict) -> None:
    """Check the data and anonymization settings before any work."""
    from anonjax.data import SPLITS
    from anonjax.data import validate as validate_data

    validate_data(cc.get(config, "data"))
    cc.check_choices(config, "anonymize.detectors", KINDS)
    cc.check_choices(config, "anonymize.degree_kinds", KINDS)
    cc.check_choices(config, "anonymize.methods", METHODS)
    cc.check_fractions(config, "anonymize.degrees")
    cc.check_choices(config, "anonymize.splits", SPLITS)
    cc.check_positive_int(config, "anonymize.pixel.cells")
    cc.check_fraction(config, "anonymize.blur.sigma")  # of the box's shorter side
    fill = cc.as_tuple(cc.get(config, "anonymize.mask.fill"))
    if len(fill) not in (1, 3) or not all(isinstance(v, int) and 0 <= v <= 255 for v in fill):
        raise cc.ConfigError("anonymize.mask.fill", f"must be a grey value or an RGB triple in 0..255, got {fill!r}")
    for key in ("shard_size", "workers"):
        cc.check_positive_int(config, f"anonymize.{key}")
    cc.check_nonnegative_int(config, "anonymize.stats_images")
    for key in ("keep_empty", "materialize", "materialize_original", "opaque_names"):
        cc.check_bool(config, f"anonymize.{key}")
    check_detector_settings(config)
    cc.report_originals(config)
    model_input_size(config)


def run(config: ml_collections.ConfigDict, workdir: Path) -> str:
    """Detect (cached; split over the processes), report, draw the example sheet and optionally materialize
    the pairs (the main process)."""
    from anonjax.data import open_split

    a = config.anonymize
    stage_dir = Path(workdir) / "anonymize"
    plan = study_plan(config)
    seed = plan.seed
    kinds, settings = plan.detectors, plan.detector_settings
    splits = {name: open_split(config.data, name) for name in cc.as_tuple(a.splits)}
    cache_dirs = {name: box_cache.cache_dir(workdir, config.data, name, kinds, settings) for name in splits}
    originals = cc.report_originals(config)
    canvas, image_size = model_input_size(config) or (None, None)
    fp = fingerprint(config.data, results_settings("anonymize", a), seed, originals,
                     {name: split.digest for name, split in splits.items()},
                     {"canvas_size": canvas, "image_size": image_size})
    if is_complete(stage_dir, fp) and all(box_cache.intact(cache_dirs[name], len(split))
                                          for name, split in splits.items()):
        log.info("anonymize: outputs for this config and these files exist in %s", stage_dir)
        return "up to date"
    hosts.barrier("anonymize: checked")  # every process has decided before any writes
    methods, degrees = cc.as_tuple(a.methods), tuple(float(d) for d in cc.as_tuple(a.degrees))
    params = plan.method_params
    degree_kinds = cc.as_tuple(a.degree_kinds)
    report: dict[str, Any] = {"seed": seed, "methods": methods, "degrees": degrees, "params": params,
                              "degree_kinds": degree_kinds, "originals": originals,
                              "detectors": Detectors(kinds, settings).describe(), "keep_empty": a.keep_empty,
                              "count_rule": "ceil(degree * boxes of the degree kinds), nested; other kinds always",
                              "splits": {}}
    if a.materialize and hosts.is_main():
        shutil.rmtree(stage_dir / "pairs", ignore_errors=True)  # never leave a pair of an older run behind
    loads = {name: _loader(split) for name, split in splits.items()}
    computed = {name: detect_split(split.ids, loads[name], kinds, settings, cache_dirs[name], stamps=split.stamps,
                                   shard_size=a.shard_size, workers=a.workers, desc=f"detect {name}",
                                   max_pixels=int(config.data.get("max_pixels", DEFAULT_MAX_PIXELS)))
                for name, split in splits.items()}
    hosts.barrier("anonymize: detected")
    sheet_done = False
    kept = {}
    for name, split in splits.items():
        unreadable = len(split.skipped)  # files left out when the split was indexed
        cache_dir, load = cache_dirs[name], loads[name]
        # Every process checks the whole cache, so a missing shard stops all of them alike.
        table = assemble_table(split.ids, cache_dir, shard_size=a.shard_size, keep_empty=a.keep_empty)
        kept[name] = len(table.ids)
        log.info("anonymize: split %s: %d images, %d kept, %d shards detected now by this process",
                 name, len(split.ids), len(table.ids), computed[name])
        if not hosts.is_main():
            continue
        _log_left_out(name, split.skipped, table.failed)
        report["splits"][name] = split_report(split, unreadable, table, load, methods, degrees, params, seed,
                                              a.stats_images, degree_kinds, canvas=canvas, image_size=image_size)
        for warning in report["splits"][name]["warnings"]:
            log.warning("anonymize: split %s: %s", name, warning)
        report["splits"][name]["cache"] = str(cache_dir.relative_to(stage_dir))
        if not sheet_done and table.ids:
            example = a.example_id or table.ids[_richest(table)]
            image = load(split.ids.index(example)) if example in table.ids else None
            if image is None:
                log.warning("anonymize: example image %r is not among the kept images of %s", example, name)
            elif reason := table.changed(table.ids.index(example), image):
                log.warning("anonymize: no example sheet of %r: %s", example, reason)
            else:
                sheet = example_sheet(image, table, example, methods, degrees,
                                      params, seed, degree_kinds, originals=originals)
                write_png(stage_dir / "example_sheet.png", sheet)
                report["example_id"], report["example_sheet_originals"], sheet_done = example, originals, True
        if a.materialize:
            records = tqdm(_records(split, load), total=len(split.ids), desc=f"materialize {name}", unit="img")
            pairs = materialize_pairs(records, table, stage_dir / "pairs", name, methods=methods,
                                      degrees=degrees, params=params, seed=seed, degree_kinds=degree_kinds,
                                      include_original=a.materialize_original, opaque_names=a.opaque_names,
                                      names_file=stage_dir / f"names_{name}.json")
            report["splits"][name]["materialized"] = {"written": len(pairs["ids"]),
                                                      "excluded": len(pairs["excluded"])}
    if hosts.is_main():
        save_json(stage_dir / "report.json", report)
        save_text(stage_dir / "report.md", markdown(report))
        mark_complete(stage_dir, fp, splits=list(report["splits"]))
    hosts.barrier("anonymize: written")
    return f"{sum(kept.values())} images kept in {len(kept)} split(s); report in {stage_dir / 'report.md'}"


def model_input_size(config: ml_collections.ConfigDict) -> tuple[int, int] | None:
    """(canvas side, input side) of what the models see: images fitted to ``train.canvas_size``, then
    resized to ``embed.image_size``. None in a config without them (the anonymize stage alone), whose
    statistics are measured at the images' own resolution."""
    train, embed = config.get("train"), config.get("embed")
    if train is None or embed is None or "canvas_size" not in train or "image_size" not in embed:
        return None
    return cc.check_positive_int(config, "train.canvas_size"), cc.check_positive_int(config, "embed.image_size")


def _log_left_out(split: str, skipped: list[tuple[str, str]], failed: dict[str, str]) -> None:
    """One warning per file left out of ``split`` (the first 20, then a count; report.json lists all)."""
    left_out = [*skipped, *failed.items()]
    for name, reason in left_out[:20]:
        log.warning("anonymize: split %s: left out %s: %s", split, name, reason)
    if len(left_out) > 20:
        log.warning("anonymize: split %s: %d more left out, listed in report.json", split, len(left_out) - 20)


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
    by_kind = {kind: int(((table.kinds == k) & table.valid).sum()) for k, kind in enumerate(KINDS)}
    rows = np.arange(min(stats_images, len(table.ids)))
    index = {image_id: i for i, image_id in enumerate(split.ids)}
    views = _Views([load(index[table.ids[r]]) for r in rows], table.boxes[rows], params, canvas, image_size)
    text = (table.kinds[rows] == KINDS.index("text")) & table.valid[rows]
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
        "text_box_height_px": {"image": _quantiles(_heights(table.boxes[rows])[text]),
                               "model_input": None if canvas is None else _quantiles(_heights(views.boxes)[text])},
        "degrees": {},
    }
    for degree in degrees:
        selection = table.selection(degree, seed, degree_kinds=degree_kinds)
        area = [box_area_fraction(table.boxes[r][selection[r]], *sizes[r]) for r in range(len(table.ids))]
        entry: dict[str, Any] = {"boxes_per_image": _summary(selection.sum(1)), "area_fraction": _summary(area),
                                 "box_pixels_changed": {}}
        for method in methods:
            anonymized = views.anonymized(method, degree, selection[rows])
            entry["box_pixels_changed"][method] = _changed_in_boxes(views.original, anonymized, views.boxes,
                                                                    selection[rows])
        out["degrees"][str(percent(degree))] = entry
    out["warnings"] = _warnings(out)
    return out


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


def example_sheet(image: np.ndarray, table: BoxTable, image_id: str, methods, degrees, params, seed: int,
                  degree_kinds, *, originals: bool = True) -> np.ndarray:
    """One image as a sheet: a row per method, each degree across (labelled), after the original when
    ``originals``. False gives a sheet that can be shared: no original pixels, and the boxes a degree below
    100 % leaves as they are covered (``covered``), so that it shows only what the method does."""
    row = int(table.rows([image_id])[0])
    n = int(table.counts[row])
    boxes = table.boxes[row, :n]
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


def markdown(report: dict) -> str:
    """A short human-readable summary of ``report``."""
    methods = report["methods"]
    degrees = ", ".join(f"{percent(d)}%" for d in report["degrees"])
    lines = ["# Anonymization", "",
             f"Methods {', '.join(methods)}; degrees {degrees} ({report['count_rule']}); seed {report['seed']}; "
             f"parameters {report['params']}.", "", "## Detectors", ""]
    for kind, info in report["detectors"].items():
        models = ", ".join(f"{m['file']} (sha256 {m['sha256'][:16]}...)" for m in info["models"]) or "built in"
        lines.append(f"- {kind}: {info['backend']}; {models}")
    for name, s in report["splits"].items():
        empty = "kept" if report["keep_empty"] else "excluded"
        boxes = s["boxes_per_image"]
        lines += ["", f"## Split {name}", "",
                  f"{s['images_listed']} images listed, {s['images_unreadable']} unreadable, "
                  f"{s['images_failed']} failed reading or detection, {s['images_without_detection']} without "
                  f"detection ({empty}): **{s['images_kept']} kept**. "
                  f"Boxes per image: mean {boxes['mean']:.2f}, max {boxes['max']:.0f}.", "",
                  *_resolution_lines(s), "",
                  "| degree | boxes/image | area | " + " | ".join(f"box pixels changed ({m})" for m in methods)
                  + " |", "|---" * (3 + len(methods)) + "|"]
        for degree, d in s["degrees"].items():
            changed = " | ".join(_changed_cell(d["box_pixels_changed"][m]) for m in methods)
            lines.append(f"| {degree}% | {d['boxes_per_image']['mean']:.2f} | {d['area_fraction']['mean']:.3f} | "
                         f"{changed} |")
        lines += [line for warning in s["warnings"] for line in ("", f"**Warning:** {warning}.")]
        lines += _left_out_lines(s, names=report.get("originals", True))
    return "\n".join(lines) + "\n"


_LISTED = 50


def _left_out_lines(split: dict, names: bool = True) -> list[str]:
    """The files of a split that were left out, with their reasons, and the multi-page files; without
    ``names`` only their numbers (names and reasons, which hold paths, stay in report.json)."""
    left_out = [(e["file"], e["reason"]) for e in split["skipped"]] + list(split["failed"].items())
    multi_page = split["multi_page"]
    if not names:
        return [line for what, count in (("Files left out", len(left_out)),
                                         ("Multi-page files, first page used", len(multi_page))) if count
                for line in ("", f"{what}: {count}, named in report.json.")]
    lines = []
    if left_out:
        lines += ["", f"Left out ({len(left_out)}):", ""]
        lines += [f"- {literal(name)}: {literal(reason)}" for name, reason in left_out[:_LISTED]]
        if len(left_out) > _LISTED:
            lines.append(f"- ... and {len(left_out) - _LISTED} more, listed in report.json")
    if multi_page:
        lines += ["", f"Multi-page files, first page used ({len(multi_page)}):", ""]
        lines += [f"- {literal(e['file'])}: {e['pages']} pages" for e in multi_page[:_LISTED]]
    return lines


def _resolution_lines(split: dict) -> list[str]:
    """What the table's columns measure, and how tall the text boxes are where the models look."""
    n, size = split["stats_images"], split["model_input"]
    own, seen = split["text_box_height_px"]["image"], split["text_box_height_px"]["model_input"]
    where = ("at the resolution the model sees: canvas {canvas_size} px, input {image_size} px".format(**size)
             if size else "at the images' own resolution (the config does not set train.canvas_size and "
             "embed.image_size, so the models' input is not known)")
    heights = f"Text boxes in the first {n} images ({own['n']}): {_height(own)} tall in the images themselves"
    if size:
        heights += f", {_height(seen)} at the model input"
    return [f"Area: fraction of the pixels inside the selected boxes (all kept images). Box pixels changed: of "
            f"the pixels inside the selected boxes, the fraction each method altered (any channel by at least "
            f"one level), {where}; first {n} images, mean over images (pooled over all box pixels).", "",
            heights + "."]


def _height(q: dict) -> str:
    if q["median"] is None:
        return "n/a"
    return f"median {q['median']:.1f} px (10th percentile {q['p10']:.1f} px)"


def _changed_cell(c: dict) -> str:
    if c["images"] is None:
        return "n/a"
    return f"{c['images']:.3f} ({c['pixels']:.3f})"


def _richest(table: BoxTable) -> int:
    """Row of the image with the most kinds of detections (a face and text over text alone), then most boxes."""
    kinds = [len(set(table.kinds[r][table.valid[r]].tolist())) for r in range(len(table.ids))]
    return max(range(len(table.ids)), key=lambda r: (kinds[r], table.counts[r]))


def _summary(values) -> dict[str, float]:
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return {"mean": 0.0, "median": 0.0, "max": 0.0, "n": 0}
    return {"mean": float(values.mean()), "median": float(np.median(values)), "max": float(values.max()),
            "n": int(values.size)}


def _loader(split):
    """``load(i)``: the image of ``split.ids[i]``; raises when it cannot be decoded or ids disagree."""

    def load(i: int) -> np.ndarray:
        record = split.dataset[i]
        if record is None:
            raise ValueError(f"image {split.ids[i]!r} could not be decoded")
        if record["id"] != split.ids[i]:
            raise ValueError(f"record {i} is {record['id']!r}, expected {split.ids[i]!r}")
        return record["image"]

    return load


def _records(split, load):
    """(id, image) of every image of ``split``; None for an image that cannot be read (it fails closed)."""
    for i, image_id in enumerate(split.ids):
        try:
            yield image_id, load(i)
        except ValueError:
            yield image_id, None
