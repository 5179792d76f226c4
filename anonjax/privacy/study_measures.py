"""Every variant of a study measured on a sample of validation images: the rows the privacy stage writes.

Each sampled image is anonymized exactly as the study's variants are (its cached boxes, the boxes selected at
the degree, the method's parameters: :func:`variant_images`, the path of the anonymize stage's example sheet
and materialized pairs) and measured against its original with an attacker's tools (:class:`PrivacyProbe`).
On the built-in synthetic documents the detectors' recall against the drawn boxes and the drawn words OCR
still reads after each method at 100 % are measured too (``anonjax.privacy.detector_recall``).
"""

from __future__ import annotations

import collections
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ml_collections
import numpy as np
from tqdm.auto import tqdm

from anonjax import hosts
from anonjax.anonymize.box_cache import BoxTable, load_split_boxes
from anonjax.anonymize.materialize import anonymized_variants
from anonjax.layout import variant_name
from anonjax.plan import StudyPlan, Variant
from anonjax.privacy import ocr
from anonjax.privacy.decodable_codes import CodeReader
from anonjax.privacy.detector_recall import detectors_found, words_read
from anonjax.privacy.outcome import Missing, Outcome, outcome_from_json, outcome_json
from anonjax.privacy.probe import MEASURES, Observation, PrivacyProbe
from anonjax.privacy.sample import privacy_sample
from anonjax.privacy.table import recall_row, variant_row

log = logging.getLogger(__name__)

SPLIT = "val"
FULL = 1.0  # the degree of the words-after measure on synthetic pages
_RECALL_RATIO = {"words_after": "words", "words_before": "words"}


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
    """``{"settings", "rows", "recall"}``: every variant's measures (``variant_row``) over the sample of
    ``count`` images of ``split`` and, on synthetic documents, the detector recall rows (``recall_row``).

    Each process of a run measures its share of the sample (``hosts.share``); the per-image outcomes are gathered
    in sample order (``hosts.gathered``), so every process returns what one process measuring all would."""
    outcomes: dict[str, list[dict[str, Outcome]]] = {v.name: [] for v in plan.variants}
    recall: dict[str, list[Outcome]] = {}
    sample: list[str] = []
    if count:
        table = load_split_boxes(workdir, config.data, split, plan.detectors, plan.detector_settings,
                                 keep_empty=plan.keep_empty)
        sample = [table.ids[i] for i in privacy_sample(plan.seed, table.ids, count)]
        mine = hosts.share(len(sample))
        log.info("privacy: process %d of %d measures %d of the %d sampled images", hosts.index() + 1, hosts.count(),
                 len(mine), len(sample))
        measure = _ImageMeasures(config, plan, split, table, probe)
        measured = [measure(position, sample[position])
                    for position in tqdm(mine, desc=f"privacy {SPLIT}", unit="img")]
        for record in _in_sample_order(hosts.gathered(measured), sample):
            for name, found in record["variants"].items():
                outcomes[name].append({m: outcome_from_json(o) for m, o in found.items()})
            for name, found in record["recall"].items():
                recall.setdefault(name, []).append(outcome_from_json(found))
    rows = [variant_row(v.method, v.degree, outcomes[v.name]) for v in plan.variants]
    recall_rows = [recall_row(*_recall_key(name), found, ratio=_RECALL_RATIO.get(_recall_key(name)[0]))
                   for name, found in recall.items()]
    settings = dict(split=SPLIT, requested=count, images=len(sample), seed=plan.seed,
                    source=config.data.get("source", ""),
                    ocr="RapidOCR PP-OCRv3" if ocr.ocr_installed() else ocr.NOT_INSTALLED,
                    codes=CodeReader.describe(), synthetic=bool(recall_rows))
    return {"settings": settings, "rows": rows, "recall": recall_rows}


class _ImageMeasures:
    """One sampled image measured: ``{"position", "id", "variants": {variant: {measure: outcome}}, "recall": {name:
    outcome}}``, outcomes as JSON holds them (``outcome_json``). The models are made on the first image."""

    def __init__(self, config: ml_collections.ConfigDict, plan: StudyPlan, split, table: BoxTable,
                 probe: PrivacyProbe | None):
        self.plan, self.split, self.table, self._probe = plan, split, table, probe
        self.pages = _pages(config.data)
        self.full = [Variant(m, FULL) for m in dict.fromkeys(v.method for v in plan.variants)] if self.pages else []
        self.wanted = list(dict.fromkeys([*plan.variants, *self.full]))
        self.position = {image_id: i for i, image_id in enumerate(split.ids)}

    def __call__(self, position: int, image_id: str) -> dict:
        plan, table = self.plan, self.table
        if self._probe is None:
            self._probe = make_probe(plan)
        probe, row = self._probe, int(table.rows([image_id])[0])
        observe = _Observer(probe)
        try:
            record = self.split.dataset[self.position[image_id]]
            if record is None:
                raise ValueError("the image could not be decoded")
            image = record["image"]
            made = variant_images(image, table, row, self.wanted, plan.method_params, plan.seed, plan.degree_kinds)
        except Exception as e:  # fail closed: an image that cannot be anonymized is missing, never 0
            log.warning("privacy: image %r not measured: %s: %s", image_id, type(e).__name__, e)
            failed = outcome_json(Missing(f"image not read or anonymized ({type(e).__name__}: {e}; the run log "
                                          "names it)"))
            return {"position": position, "id": image_id,
                    "variants": {v.name: dict.fromkeys(MEASURES, failed) for v in plan.variants},
                    "recall": dict.fromkeys(_recall_names(self.full), failed)}
        original = observe(image)
        page = self.pages(image_id) if self.pages else None
        mrz = list(page.mrz_lines) if page is not None else None
        variants = {}
        for v in plan.variants:
            pixels, boxes = made[v.name]
            variants[v.name] = probe.measure(original, observe(pixels), boxes, image.shape, mrz_lines=mrz)
        found = {}
        if page is not None:
            found = {**detectors_found(page, table.row_boxes(row), table.row_kinds(row), plan.detectors),
                     "words_before": words_read(page, original.text),
                     **{f"words_after:{v.method}": words_read(page, observe(made[v.name][0]).text) for v in self.full}}
        return {"position": position, "id": image_id,
                "variants": {name: {m: outcome_json(o) for m, o in measures.items()}
                             for name, measures in variants.items()},
                "recall": {name: outcome_json(o) for name, o in found.items()}}


def _in_sample_order(shares: Sequence[Sequence[dict]], sample: Sequence[str]) -> list[dict]:
    """The image records of every process's share, in sample order; RuntimeError unless they hold each image of
    ``sample`` exactly once (a result is never pooled over a sample with an image missing, twice, or from another
    process's view of the split)."""
    records = sorted((r for share in shares for r in share), key=lambda r: r["position"])
    wanted = list(enumerate(sample))
    if [(r["position"], r["id"]) for r in records] != wanted:
        held, expected = collections.Counter((r["position"], r["id"]) for r in records), set(wanted)
        missing = [image_id for position, image_id in wanted if (position, image_id) not in held]
        extra = [key[1] for key, k in held.items() if k > 1 or key not in expected]
        raise RuntimeError(f"the processes' privacy measures do not hold each of the {len(sample)} sampled images "
                           f"once (missing: {missing[:5]}; twice or not in the sample: {extra[:5]}; at most 5 of each"
                           " shown)")
    return records


def _recall_key(name: str) -> tuple[str, str]:
    """(measure, method) of a recall name such as ``words_after:mask``."""
    measure, _, method = name.partition(":")
    return measure, method


def _recall_names(full: Sequence[Variant]) -> list[str]:
    return ["text_lines", "faces", "codes", "words_before", *(f"words_after:{v.method}" for v in full)] if full else []


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
