"""Every variant of a study measured on a sample of validation images: the rows the privacy stage writes.

Each sampled image is anonymized exactly as the study's variants are (its cached boxes, the boxes selected at
the degree, the method's parameters: :func:`variant_images`, the path of the anonymize stage's example sheet
and materialized pairs) and measured against its original with an attacker's tools (:class:`PrivacyProbe`).
On the built-in synthetic documents the detectors' recall against the drawn boxes and the drawn words OCR
still reads after each method at 100 % are measured too (``anonjax.privacy.detector_recall``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ml_collections
import numpy as np
from tqdm.auto import tqdm

from anonjax.anonymize.box_cache import BoxTable, load_split_boxes
from anonjax.anonymize.materialize import anonymized_variants
from anonjax.layout import variant_name
from anonjax.plan import StudyPlan, Variant
from anonjax.privacy import ocr
from anonjax.privacy.decodable_codes import CodeReader
from anonjax.privacy.detector_recall import detectors_found, words_read
from anonjax.privacy.outcome import Missing, Outcome
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
    ``count`` images of ``split`` and, on synthetic documents, the detector recall rows (``recall_row``)."""
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
                found = {**detectors_found(page, table.row_boxes(row), table.row_kinds(row), plan.detectors),
                         "words_before": words_read(page, original.text),
                         **{f"words_after:{v.method}": words_read(page, observe(made[v.name][0]).text) for v in full}}
                for name, outcome in found.items():
                    recall.setdefault(name, []).append(outcome)
    rows = [variant_row(v.method, v.degree, outcomes[v.name]) for v in plan.variants]
    recall_rows = [recall_row(*_recall_key(name), found, ratio=_RECALL_RATIO.get(_recall_key(name)[0]))
                   for name, found in recall.items()]
    settings = dict(split=SPLIT, requested=count, images=len(sample), seed=plan.seed,
                    source=config.data.get("source", ""),
                    ocr="RapidOCR PP-OCRv3" if ocr.ocr_installed() else ocr.NOT_INSTALLED,
                    codes=CodeReader.describe(), synthetic=bool(recall_rows))
    return {"settings": settings, "rows": rows, "recall": recall_rows}


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
