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
shard (``box_shards.assemble_table``). Everything else above, pairs included, is written by the main process
alone (pairs are numbered and listed in one order, so they are not split); the others wait for it at a
barrier, so the outputs are complete when the stage returns in any process.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import ml_collections
from tqdm.auto import tqdm

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.analysis.anonymization_summary import markdown
from anonjax.anonymize import box_cache
from anonjax.anonymize.box_cache import detect_split
from anonjax.anonymize.box_shards import assemble_table, intact
from anonjax.anonymize.detection import Detectors
from anonjax.anonymize.example_sheet import example_image, example_sheet
from anonjax.anonymize.materialize import materialize_pairs, write_png
from anonjax.anonymize.settings_checks import check_anonymize_settings
from anonjax.anonymize.statistics import log_left_out, split_report
from anonjax.data.image_io import DEFAULT_MAX_PIXELS
from anonjax.data.split_images import image_loader, images_or_none
from anonjax.files import save_json, save_text
from anonjax.fingerprint import fingerprint, is_complete, mark_complete, results_settings
from anonjax.layout import WorkDir
from anonjax.plan import study_plan

log = logging.getLogger(__name__)


def validate(config: ml_collections.ConfigDict) -> None:
    """Check the data and anonymization settings before any work."""
    from anonjax.data import validate as validate_data

    validate_data(cc.get(config, "data"))
    check_anonymize_settings(config)
    cc.report_originals(config)
    model_input_size(config)


def run(config: ml_collections.ConfigDict, workdir: Path) -> str:
    """Detect (cached; split over the processes), report, draw the example sheet and optionally materialize
    the pairs (the main process)."""
    from anonjax.data import open_split

    a = config.anonymize
    work = WorkDir(workdir)
    stage_dir = work.anonymize
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
    if hosts.main_decides(lambda: is_complete(stage_dir, fp) and all(intact(cache_dirs[name], len(split))
                                                                     for name, split in splits.items())):
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
        shutil.rmtree(work.pairs, ignore_errors=True)  # never leave a pair of an older run behind
    loads = {name: image_loader(split) for name, split in splits.items()}
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
        log_left_out(name, split.skipped, table.failed)
        report["splits"][name] = split_report(split, unreadable, table, load, methods, degrees, params, seed,
                                              a.stats_images, degree_kinds, canvas=canvas, image_size=image_size)
        for warning in report["splits"][name]["warnings"]:
            log.warning("anonymize: split %s: %s", name, warning)
        report["splits"][name]["cache"] = str(cache_dir.relative_to(stage_dir))
        if not sheet_done and table.ids and (example := example_image(table, split, load, a.example_id)):
            example_id, image = example
            write_png(work.example_sheet, example_sheet(image, table, example_id, methods, degrees, params, seed,
                                                        degree_kinds, originals=originals))
            report["example_id"], report["example_sheet_originals"], sheet_done = example_id, originals, True
        if a.materialize:
            records = tqdm(images_or_none(split, load), total=len(split.ids), desc=f"materialize {name}", unit="img")
            pairs = materialize_pairs(records, table, work.pairs, name, methods=methods,
                                      degrees=degrees, params=params, seed=seed, degree_kinds=degree_kinds,
                                      include_original=a.materialize_original, opaque_names=a.opaque_names,
                                      names_file=work.opaque_names(name))
            report["splits"][name]["materialized"] = {"written": len(pairs["ids"]),
                                                      "excluded": len(pairs["excluded"])}
    if hosts.is_main():
        save_json(work.anonymize_report, report)
        save_text(work.anonymize_summary, markdown(report))
        mark_complete(stage_dir, fp, splits=list(report["splits"]))
    hosts.barrier("anonymize: written")
    return f"{sum(kept.values())} images kept in {len(kept)} split(s); report in {work.anonymize_summary}"


def model_input_size(config: ml_collections.ConfigDict) -> tuple[int, int] | None:
    """(canvas side, input side) of what the models see: images fitted to ``train.canvas_size``, then
    resized to ``embed.image_size``. None in a config without them (the anonymize stage alone), whose
    statistics are measured at the images' own resolution."""
    train, embed = config.get("train"), config.get("embed")
    if train is None or embed is None or "canvas_size" not in train or "image_size" not in embed:
        return None
    return cc.check_positive_int(config, "train.canvas_size"), cc.check_positive_int(config, "embed.image_size")
