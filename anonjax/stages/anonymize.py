"""Stage ``anonymize``: detect faces, text and codes of every split (cached), then report what each method
and degree anonymizes, draw an example sheet, and, if asked, write the paired datasets.

Writes under ``<workdir>/anonymize/``:
  boxes/<split>/<fingerprint>/shard_*.npz   detections (see ``anonjax.anonymize.box_cache``)
  boxes/<split>/current.txt                 the fingerprint in use, for ``load_box_table(workdir, split)``
  report.json, report.md                    counts before/after exclusion, boxes per image, anonymized
                                            area and changed pixels per method and degree, detectors used
  example_sheet.png                         one image, each method (rows) at each degree (columns), after
                                            the original unless ``report.originals`` is False
  pairs/<variant>/<split>/*.png             with ``anonymize.materialize``; pairs/pairs_<split>.json lists them
  names_<split>.json                        with ``anonymize.opaque_names``: file names -> image ids
  DONE.json
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
from anonjax.anonymize import box_cache
from anonjax.anonymize.box_cache import BoxTable, detect_split, load_box_table
from anonjax.anonymize.boxes import box_area_fraction
from anonjax.anonymize.detection import KINDS, Detectors
from anonjax.anonymize.materialize import anonymized_variants, materialize_pairs, write_png
from anonjax.anonymize.methods import METHODS
from anonjax.anonymize.settings_checks import check_detector_settings
from anonjax.errors import DatasetError
from anonjax.files import save_json, save_text
from anonjax.layout import ORIGINAL, percent, variant_name
from anonjax.plan import study_plan
from anonjax.stages.fingerprint import fingerprint, is_complete, mark_complete

log = logging.getLogger(__name__)

_SHEET_HEIGHT = 256


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


def run(config: ml_collections.ConfigDict, workdir: Path) -> str:
    """Detect (cached), report, draw the example sheet and optionally materialize the pairs."""
    from anonjax.data import open_split

    a = config.anonymize
    stage_dir = Path(workdir) / "anonymize"
    plan = study_plan(config)
    seed = plan.seed
    kinds, settings = plan.detectors, plan.detector_settings
    splits = {name: open_split(config.data, name) for name in cc.as_tuple(a.splits)}
    cache_dirs = {name: stage_dir / "boxes" / name / fingerprint(config.data, name, kinds, settings)
                  for name in splits}
    originals = cc.report_originals(config)
    fp = fingerprint(config.data, a, seed, originals, {name: split.digest for name, split in splits.items()})
    if is_complete(stage_dir, fp) and all(_cache_ready(workdir, name, cache_dirs[name], len(split))
                                          for name, split in splits.items()):
        log.info("anonymize: outputs for this config and these files exist in %s", stage_dir)
        return "up to date"
    methods, degrees = cc.as_tuple(a.methods), tuple(float(d) for d in cc.as_tuple(a.degrees))
    params = plan.method_params
    degree_kinds = cc.as_tuple(a.degree_kinds)
    report: dict[str, Any] = {"seed": seed, "methods": methods, "degrees": degrees, "params": params,
                              "degree_kinds": degree_kinds,
                              "detectors": Detectors(kinds, settings).describe(), "keep_empty": a.keep_empty,
                              "count_rule": "ceil(degree * boxes of the degree kinds), nested; other kinds always",
                              "splits": {}}
    if a.materialize:
        shutil.rmtree(stage_dir / "pairs", ignore_errors=True)  # never leave a pair of an older run behind
    sheet_done = False
    for name, split in splits.items():
        unreadable = len(split.skipped)  # files left out when the split was indexed
        cache_dir = cache_dirs[name]
        load = _loader(split)
        computed = detect_split(split.ids, load, kinds, settings, cache_dir, stamps=split.stamps,
                                shard_size=a.shard_size, workers=a.workers, desc=f"detect {name}")
        save_text(cache_dir.parent / box_cache.CURRENT, cache_dir.name + "\n")
        table = load_box_table(cache_dir, keep_empty=a.keep_empty)
        log.info("anonymize: split %s: %d images, %d kept, %d shards detected now",
                 name, len(split.ids), len(table.ids), computed)
        _log_left_out(name, split.skipped, table.failed)
        report["splits"][name] = split_report(split, unreadable, table, load, methods, degrees, params, seed,
                                              a.stats_images, degree_kinds)
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
    save_json(stage_dir / "report.json", report)
    save_text(stage_dir / "report.md", markdown(report))
    mark_complete(stage_dir, fp, splits=list(report["splits"]))
    kept = sum(s["images_kept"] for s in report["splits"].values())
    return f"{kept} images kept in {len(report['splits'])} split(s); report in {stage_dir / 'report.md'}"


def _cache_ready(workdir: Path, split: str, cache_dir: Path, n_images: int) -> bool:
    """Whether the cache in use for ``split`` is ``cache_dir`` and holds readable shards for every image."""
    try:
        in_use = box_cache.cache_path(workdir, split)
    except DatasetError:
        return False
    return in_use == cache_dir and box_cache.intact(cache_dir, n_images)


def _log_left_out(split: str, skipped: list[tuple[str, str]], failed: dict[str, str]) -> None:
    """One warning per file left out of ``split`` (the first 20, then a count; report.json lists all)."""
    left_out = [*skipped, *failed.items()]
    for name, reason in left_out[:20]:
        log.warning("anonymize: split %s: left out %s: %s", split, name, reason)
    if len(left_out) > 20:
        log.warning("anonymize: split %s: %d more left out, listed in report.json", split, len(left_out) - 20)


def split_report(split, unreadable: int, table: BoxTable, load, methods, degrees, params, seed: int,
                 stats_images: int, degree_kinds) -> dict:
    """Counts before/after exclusion, boxes per image, and per method x degree the anonymized area and
    the fraction of pixels that changed (measured on the first ``stats_images`` kept images).

    ``unreadable`` files were left out when the split was indexed; images that could not be decoded or
    detected later are counted as failed."""
    counts = table.counts
    sizes = table.sizes
    by_kind = {kind: int(((table.kinds == k) & table.valid).sum()) for k, kind in enumerate(KINDS)}
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
        "degrees": {},
    }
    rows = list(range(min(stats_images, len(table.ids))))
    index = {image_id: i for i, image_id in enumerate(split.ids)}
    images = {r: load(index[table.ids[r]]) for r in rows}
    for degree in degrees:
        selection = table.selection(degree, seed, degree_kinds=degree_kinds)
        area = [box_area_fraction(table.boxes[r][selection[r]], *sizes[r]) for r in range(len(table.ids))]
        entry: dict[str, Any] = {"boxes_per_image": _summary(selection.sum(1)), "area_fraction": _summary(area),
                                 "changed_pixel_fraction": {}}
        for method in methods:
            changed = []
            for r in rows:
                n = int(counts[r])
                anon = anonymized_variants(images[r], table.boxes[r, :n], {degree: selection[r, :n]}, [method],
                                           params)[variant_name(method, degree)]
                changed.append(float((anon != images[r]).any(-1).mean()))
            entry["changed_pixel_fraction"][method] = _summary(changed)
        out["degrees"][str(percent(degree))] = entry
    return out


def example_sheet(image: np.ndarray, table: BoxTable, image_id: str, methods, degrees, params, seed: int,
                  degree_kinds, *, originals: bool = True) -> np.ndarray:
    """One image as a sheet: a row per method, each degree across (labelled), after the original when
    ``originals`` (False gives a sheet that can be shared: no original pixels)."""
    row = int(table.rows([image_id])[0])
    n = int(table.counts[row])
    masks = {d: table.selection(d, seed, [row], degree_kinds=degree_kinds)[0, :n] for d in degrees}
    variants = anonymized_variants(image, table.boxes[row, :n], masks, methods, params)
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
                  f"Area: fraction of the pixels inside the selected boxes (all kept images); changed: fraction "
                  f"of pixels each method altered (first {_n_changed(s)} images).", "",
                  "| degree | boxes/image | area | " + " | ".join(f"changed ({m})" for m in methods) + " |",
                  "|---" * (3 + len(methods)) + "|"]
        for degree, d in s["degrees"].items():
            changed = " | ".join(f"{d['changed_pixel_fraction'][m]['mean']:.3f}" for m in methods)
            lines.append(f"| {degree}% | {d['boxes_per_image']['mean']:.2f} | {d['area_fraction']['mean']:.3f} | "
                         f"{changed} |")
        lines += _left_out_lines(s)
    return "\n".join(lines) + "\n"


_LISTED = 50


def _left_out_lines(split: dict) -> list[str]:
    """The files of a split that were left out, with their reasons, and the multi-page files."""
    left_out = [(e["file"], e["reason"]) for e in split["skipped"]] + list(split["failed"].items())
    lines = []
    if left_out:
        lines += ["", f"Left out ({len(left_out)}):", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in left_out[:_LISTED]]
        if len(left_out) > _LISTED:
            lines.append(f"- ... and {len(left_out) - _LISTED} more, listed in report.json")
    if split["multi_page"]:
        lines += ["", f"Multi-page files, first page used ({len(split['multi_page'])}):", ""]
        lines += [f"- `{e['file']}`: {e['pages']} pages" for e in split["multi_page"][:_LISTED]]
    return lines


def _n_changed(split: dict) -> int:
    first = next(iter(split["degrees"].values()))
    return next(iter(first["changed_pixel_fraction"].values()))["n"]


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
