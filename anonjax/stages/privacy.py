"""Stage ``privacy``: what the study's anonymized images still give away, per method x degree of the grid.

On a seeded sample of the validation images the anonymize stage kept (``anonymize.privacy_images``, default 200;
``anonjax.privacy.sample``), every image is anonymized exactly as the study's variants are (its cached boxes, the
boxes selected at the degree, the method's parameters: :func:`variant_images`, the path of the anonymize stage's
example sheet and materialized pairs) and measured against its original with an attacker's tools
(:class:`anonjax.privacy.probe.PrivacyProbe`): words still read by OCR (over all text and inside the anonymized
boxes), character similarity, faces still detected, codes still decoded, MRZ lines still recovered. The linkage
rate of every model is read from the evaluate stage's ``results/scenarios.json``, not recomputed.

Writes (the main process; the others wait):

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

import hashlib
import importlib.util
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ml_collections
import numpy as np
from tqdm.auto import tqdm

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.anonymize import box_cache
from anonjax.anonymize.box_cache import BoxTable, load_split_boxes
from anonjax.anonymize.detection import KINDS
from anonjax.anonymize.materialize import anonymized_variants
from anonjax.files import csv_text, save_json, save_text, sha256_file
from anonjax.layout import variant_name
from anonjax.plan import StudyPlan, Variant, study_plan, validate_grid
from anonjax.privacy.decodable_codes import CodeReader
from anonjax.privacy.detector_recall import boxes_found, drawn_words_read, lines_found
from anonjax.privacy.ocr import NOT_INSTALLED
from anonjax.privacy.outcome import Measured, Missing, Outcome
from anonjax.privacy.probe import MEASURES, Observation, PrivacyProbe
from anonjax.privacy.sample import privacy_sample
from anonjax.privacy.table import COLUMNS, RECALL_COLUMNS, recall_row, variant_row, with_linkage
from anonjax.stages.fingerprint import fingerprint, is_complete, mark_complete

log = logging.getLogger(__name__)

SPLIT = "val"
DEFAULT_IMAGES = 200
FULL = 1.0  # the degree of the words-after measure on synthetic pages
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


def ocr_installed() -> bool:
    """Whether the OCR package can be imported (part of the fingerprint: installing it redoes the text)."""
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def run(config: ml_collections.ConfigDict, workdir: Path) -> str:
    """Measure the sample (or reuse the measures), join the linkage rates and write the results."""
    workdir = Path(workdir)
    plan = study_plan(config)
    stage_dir, results = workdir / "privacy", workdir / "results"
    count = sample_size(config)
    split = cache = None
    if count:
        from anonjax.data import open_split

        split = open_split(config.data, SPLIT)
        cache = box_cache.cache_dir(workdir, config.data, SPLIT, plan.detectors, plan.detector_settings).name
    measures_fp = fingerprint(LAYOUT, config.data, split.digest if split else None, cache,
                              [v.name for v in plan.variants], plan.method_params, plan.seed, plan.degree_kinds,
                              plan.keep_empty, dict(plan.detector_settings.get("faces", {})), count, ocr_installed())
    scenarios_file = results / "scenarios.json"
    fp = fingerprint(measures_fp, sha256_file(scenarios_file) if scenarios_file.is_file() else None)
    outputs = [results / "privacy.csv", results / "privacy.json"]
    if hosts.main_value(is_complete(stage_dir, fp) and all(p.is_file() for p in outputs)):
        log.info("privacy: results in %s are up to date", results)
        return "up to date"
    hosts.on_main("privacy", _write, config, plan, workdir, split, count, measures_fp, fp)
    return f"{len(plan.variants)} variant(s) measured on a sample of at most {count} validation image(s); results " \
           f"in {results / 'privacy.csv'}"


def _write(config: ml_collections.ConfigDict, plan: StudyPlan, workdir: Path, split, count: int, measures_fp: str,
           fp: str) -> None:
    stage_dir, results = workdir / "privacy", workdir / "results"
    stored = _stored(stage_dir / "measures.json", measures_fp)
    if stored is None:
        stored = measure_study(config, plan, workdir, split, count)
        save_json(stage_dir / "measures.json", {"fingerprint": measures_fp, **stored})
    else:
        log.info("privacy: reusing the measures in %s", stage_dir / "measures.json")
    scenarios_file = results / "scenarios.json"
    scenarios = json.loads(scenarios_file.read_text(encoding="utf-8")) if scenarios_file.is_file() else None
    if scenarios is None:
        log.warning("privacy: no %s; the linkage column stays empty (run the evaluate stage)", scenarios_file)
    rows = with_linkage(stored["rows"], scenarios)
    save_text(results / "privacy.csv", csv_text(rows, COLUMNS))
    save_json(results / "privacy.json", {"settings": stored["settings"], "rows": rows, "recall": stored["recall"]})
    if stored["recall"]:
        save_text(results / "privacy_recall.csv", csv_text(stored["recall"], RECALL_COLUMNS))
    else:
        (results / "privacy_recall.csv").unlink(missing_ok=True)
    mark_complete(stage_dir, fp)


def _stored(path: Path, measures_fp: str) -> dict | None:
    """The measures of an earlier run with the same fingerprint; None when there are none (or unreadable)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) and stored.get("fingerprint") == measures_fp else None


def variant_images(image: np.ndarray, table: BoxTable, row: int, variants: Sequence[Variant],
                   params: Mapping[str, Mapping[str, Any]], seed: int,
                   degree_kinds: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Variant name -> (anonymized image, the boxes anonymized [k, 4]) of ``image``, row ``row`` of ``table``:
    the boxes selected at each degree (``BoxTable.selection``) anonymized by ``anonymized_variants``, as the
    anonymize stage draws its example sheet and writes the materialized pairs. ValueError when the image is
    not the one its boxes were detected on."""
    if reason := table.changed(row, image):
        raise ValueError(reason)
    n = int(table.counts[row])
    boxes = table.row_boxes(row)
    out = {}
    for method in dict.fromkeys(v.method for v in variants):
        degrees = [v.degree for v in variants if v.method == method]
        masks = {d: table.selection(d, seed, [row], degree_kinds=degree_kinds)[0, :n] for d in degrees}
        made = anonymized_variants(image, boxes, masks, [method], params)
        out.update({variant_name(method, d): (made[variant_name(method, d)], boxes[masks[d]]) for d in degrees})
    return out


def make_probe(plan: StudyPlan) -> PrivacyProbe:
    """The attacker's models: RapidOCR PP-OCRv3, MTCNN with the study's face settings, OpenCV's decoders."""
    from anonjax.anonymize.faces import FaceDetector

    faces = dict(plan.detector_settings.get("faces", {}))
    return PrivacyProbe(face_detector=FaceDetector(**faces), code_reader=CodeReader())


class _Observer:
    """``probe.observe`` that reads each distinct image of one original once (a variant that changed nothing,
    such as a degree that selects no box, is the original again)."""

    def __init__(self, probe: PrivacyProbe):
        self.probe, self._seen = probe, {}

    def __call__(self, image: np.ndarray) -> Observation:
        key = hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest(), image.shape
        if key not in self._seen:
            self._seen[key] = self.probe.observe(image)
        return self._seen[key]


def measure_study(config: ml_collections.ConfigDict, plan: StudyPlan, workdir: Path, split, count: int,
                  probe: PrivacyProbe | None = None) -> dict:
    """``{"settings", "rows", "recall"}``: every variant's measures (``variant_row``) over the sample and, on
    synthetic documents, the detector recall rows (``recall_row``)."""
    outcomes: dict[str, list[dict[str, Outcome]]] = {v.name: [] for v in plan.variants}
    recall: dict[str, list[Outcome]] = {}
    sample: list[str] = []
    if count:
        table = load_split_boxes(workdir, config.data, split, plan.detectors, plan.detector_settings,
                                 keep_empty=plan.keep_empty)
        sample = [table.ids[i] for i in privacy_sample(plan.seed, table.ids, count)]
        pages = _pages(config.data)
        probe = make_probe(plan) if probe is None else probe
        full = [Variant(m, FULL) for m in dict.fromkeys(v.method for v in plan.variants)] if pages else []
        wanted = list(dict.fromkeys([*plan.variants, *full]))
        position = {image_id: i for i, image_id in enumerate(split.ids)}
        for image_id in tqdm(sample, desc=f"privacy {SPLIT}", unit="img"):
            row = int(table.rows([image_id])[0])
            observe = _Observer(probe)
            try:
                record = split.dataset[position[image_id]]
                if record is None:
                    raise ValueError("the image could not be decoded")
                image = record["image"]
                made = variant_images(image, table, row, wanted, plan.method_params, plan.seed, plan.degree_kinds)
            except Exception as e:  # fail closed: an image that cannot be anonymized is missing, never 0
                log.warning("privacy: image %r not measured: %s: %s", image_id, type(e).__name__, e)
                failed = Missing(f"image not read or anonymized ({type(e).__name__}: {e}; the run log names it)")
                for v in plan.variants:
                    outcomes[v.name].append(dict.fromkeys(MEASURES, failed))
                for name in _recall_names(full):
                    recall.setdefault(name, []).append(failed)
                continue
            original = observe(image)
            page = pages(image_id) if pages else None
            mrz = list(page.mrz_lines) if page is not None else None
            for v in plan.variants:
                pixels, boxes = made[v.name]
                outcomes[v.name].append(probe.measure(original, observe(pixels), boxes, image.shape, mrz_lines=mrz))
            if page is not None:
                for name, outcome in _page_recall(page, table, row, plan, original,
                                                  {v.method: observe(made[v.name][0]) for v in full}).items():
                    recall.setdefault(name, []).append(outcome)
    rows = [variant_row(v.method, v.degree, outcomes[v.name]) for v in plan.variants]
    recall_rows = [recall_row(*_recall_key(name), found, ratio=_RECALL_RATIO.get(_recall_key(name)[0]))
                   for name, found in recall.items()]
    settings = dict(split=SPLIT, requested=count, images=len(sample), seed=plan.seed,
                    source=config.data.get("source", ""), ocr="RapidOCR PP-OCRv3" if ocr_installed() else NOT_INSTALLED,
                    codes=CodeReader.describe(), synthetic=bool(recall_rows))
    return {"settings": settings, "rows": rows, "recall": recall_rows}


_RECALL_RATIO = {"words_after": "words", "words_before": "words"}


def _recall_key(name: str) -> tuple[str, str]:
    """(measure, method) of a recall name such as ``words_after:mask``."""
    measure, _, method = name.partition(":")
    return measure, method


def _recall_names(full: Sequence[Variant]) -> list[str]:
    return ["text_lines", "faces", "codes", "words_before", *(f"words_after:{v.method}" for v in full)] if full else []


def _page_recall(page, table: BoxTable, row: int, plan: StudyPlan, original: Observation,
                 anonymized: Mapping[str, Observation]) -> dict[str, Outcome]:
    """Recall of each detector against the drawn boxes (from the detections in use), and the drawn words OCR
    reads on the original and after each method at 100 %."""
    boxes, kinds = table.row_boxes(row), table.row_kinds(row)
    height, width = page.image.shape[:2]
    lines = [box for line, box in zip(page.texts, page.text_boxes, strict=True) if any(map(str.isalnum, line))]
    out: dict[str, Outcome] = {}
    for kind, name, drawn in (("text", "text_lines", lines), ("faces", "faces", page.face_boxes),
                              ("codes", "codes", page.code_boxes)):
        found = boxes[kinds == KINDS.index(kind)]
        if kind not in plan.detectors:
            out[name] = Missing(f"the study does not run the {kind} detector")
        elif kind == "text":
            out[name] = Measured({name: lines_found(drawn, found, height, width)})
        else:
            out[name] = Measured({name: boxes_found(drawn, found)})

    def words(observation: Observation) -> Outcome:
        if isinstance(observation.text, Missing):
            return observation.text
        return Measured({"words": drawn_words_read(page.texts, page.text_boxes, observation.text)})

    out["words_before"] = words(original)
    out.update({f"words_after:{method}": words(obs) for method, obs in anonymized.items()})
    return out


def _pages(data: ml_collections.ConfigDict) -> Callable[[str], Any] | None:
    """For the built-in synthetic documents, image id -> its ``Page`` (drawn again, with everything drawn on
    it); None for any other source."""
    if data.get("source") != "synthetic":
        return None
    from anonjax.data.synthetic import list_split, render_page

    listing = list_split(data, SPLIT)
    items = dict(zip(listing.ids, listing.items, strict=True))

    def page(image_id: str):
        kind, seed = items[image_id]
        return render_page(kind, seed, int(data.page_width), int(data.page_height))

    return page


