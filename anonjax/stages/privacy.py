"""Stage ``privacy``: what the study's anonymized images still give away, per method x degree of the grid.

On a seeded sample of the validation images the anonymize stage kept (``anonymize.privacy_images``, default 200;
``anonjax.privacy.sample``), every image is anonymized exactly as the study's variants are and measured against
its original with an attacker's tools (``anonjax.privacy.study_measures``): words still read by OCR (over all
text and inside the anonymized boxes), character similarity, faces still detected, codes still decoded, MRZ lines
still recovered. The linkage rate of every model is read from the evaluate stage's ``results/scenarios.json``,
not recomputed.

Every process measures its share of the sample; the main process writes (the others wait):

- ``results/privacy.csv`` / ``.json``: one row per method x degree x model (``anonjax.privacy.table``);
- ``results/privacy_recall.csv``: on the built-in synthetic documents only, each detector's recall against the
  drawn boxes (``text_lines``, ``faces``, ``codes``) and the drawn words still read after each method at 100 %
  (``words_after``; ``words_before``, the same on the original, is its ceiling);
- ``privacy/measures.json`` (the measured rows, reused when only the evaluate results changed) and
  ``privacy/DONE.json``.

A measure that cannot run (the OCR package is missing, a model fails on an image) is an empty cell with the
reason, never 0, and the stage still succeeds. The results are up to date while the data, the detections in use,
the grid, the method parameters, the seed, the sample size, whether OCR is installed and the evaluate results
are unchanged.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import ml_collections

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.anonymize import box_cache
from anonjax.files import csv_text, save_json, save_text, sha256_file
from anonjax.fingerprint import fingerprint, is_complete, mark_complete
from anonjax.layout import WorkDir
from anonjax.plan import study_plan, validate_grid
from anonjax.privacy import ocr, study_measures
from anonjax.privacy.study_measures import SPLIT
from anonjax.privacy.table import COLUMNS, RECALL_COLUMNS, with_linkage

log = logging.getLogger(__name__)

DEFAULT_IMAGES = 200
LAYOUT = 2  # of the outputs and of what the measures read; part of the fingerprint


def validate(config: ml_collections.ConfigDict) -> None:
    """Check the grid, the data, the method parameters and ``anonymize.privacy_images`` before any work."""
    from anonjax.data import validate as validate_data

    validate_grid(config)
    validate_data(cc.get(config, "data"))
    cc.check_positive_int(config, "anonymize.pixel.cells")
    cc.check_fraction(config, "anonymize.blur.sigma")
    cc.get(config, "anonymize.mask.fill")
    if sample_size(config) and SPLIT not in cc.as_tuple(cc.get(config, "anonymize.splits")):
        raise cc.ConfigError("anonymize.splits", f"must include {SPLIT!r}: the privacy stage measures the "
                             "validation images (or set anonymize.privacy_images=0)")


def sample_size(config: ml_collections.ConfigDict) -> int:
    """``anonymize.privacy_images``: a non-negative integer (``DEFAULT_IMAGES`` where the config has none)."""
    if "privacy_images" not in cc.get(config, "anonymize"):
        return DEFAULT_IMAGES
    return cc.check_nonnegative_int(config, "anonymize.privacy_images")


def run(config: ml_collections.ConfigDict, workdir: Path) -> str:
    """Measure the sample (or reuse the measures), join the linkage rates and write the results."""
    work = WorkDir(workdir)
    plan = study_plan(config)
    count = sample_size(config)
    split = cache = None
    if count:
        from anonjax.data import open_split

        split = open_split(config.data, SPLIT)
        cache = box_cache.cache_dir(workdir, config.data, SPLIT, plan.detectors, plan.detector_settings).name
    faces = dict(plan.detector_settings.get("faces", {}))
    measures_fp = fingerprint(LAYOUT, config.data, split.digest if split else None, cache,
                              [v.name for v in plan.variants], plan.method_params, plan.seed, plan.degree_kinds,
                              plan.keep_empty, faces, count, ocr.ocr_installed())
    fp = fingerprint(measures_fp, sha256_file(work.scenarios) if work.scenarios.is_file() else None)
    if hosts.main_decides(lambda: is_complete(work.privacy, fp) and work.privacy_csv.is_file()
                          and work.privacy_results.is_file()):
        log.info("privacy: results in %s are up to date", work.results)
        return "up to date"
    stored = _stored(work.privacy_measures, measures_fp) if hosts.is_main() else None
    if hosts.main_value(stored is not None):
        log.info("privacy: reusing the measures in %s", work.privacy_measures)
    else:
        stored = study_measures.measure_study(config, plan, work.root, split, count)
        hosts.on_main("privacy: measured", save_json, work.privacy_measures, {"fingerprint": measures_fp, **stored})
    hosts.on_main("privacy", _write, work, stored, fp)
    return f"{len(plan.variants)} variant(s) measured on a sample of at most {count} validation image(s); results " \
           f"in {work.privacy_csv}"


def _write(work: WorkDir, stored: dict, fp: str) -> None:
    """The results of the measures ``stored`` with the evaluate stage's linkage rates joined, then the marker."""
    scenarios = json.loads(work.scenarios.read_text(encoding="utf-8")) if work.scenarios.is_file() else None
    if scenarios is None:
        log.warning("privacy: no %s; the linkage column stays empty (run the evaluate stage)", work.scenarios)
    rows = with_linkage(stored["rows"], scenarios)
    save_text(work.privacy_csv, csv_text(rows, COLUMNS))
    save_json(work.privacy_results, {"settings": stored["settings"], "rows": rows, "recall": stored["recall"]})
    if stored["recall"]:
        save_text(work.privacy_recall_csv, csv_text(stored["recall"], RECALL_COLUMNS))
    else:
        work.privacy_recall_csv.unlink(missing_ok=True)
    mark_complete(work.privacy, fp)


def _stored(path: Path, measures_fp: str) -> dict | None:
    """The measures of an earlier run with the same fingerprint; None when there are none (or unreadable)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) and stored.get("fingerprint") == measures_fp else None
