"""The rows of ``results/privacy.csv`` and ``results/privacy_recall.csv``, from per-image outcomes: pure.

``privacy.csv`` has one row per method x degree x model (the model only matters for ``linkage``; the image
measures repeat on every model's row of a variant, and a variant without any scored model has one row whose
``model`` is empty). For each measure (``COLUMNS``) the pooled fraction, its Wilson 95 % interval at the
images' effective sample size (``_lo``/``_hi``, ``aggregate``) and ``_n``, the items it pooled (words, lines,
faces, codes, MRZ lines; images for linkage); ``images`` is the sample size. A measure that could not be
taken, or had nothing to count, is an empty cell (None), never 0, and ``missing`` says why
(``column: reason (k of n images)``, joined by ``; ``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from anonjax.analysis.intervals import wilson_interval
from anonjax.privacy.aggregate import Aggregate, aggregate
from anonjax.privacy.outcome import Outcome

# column -> (measure of ``PrivacyProbe.measure``, its ratio, what a nothing-to-count sample lacked)
MEASURES: dict[str, tuple[str, str, str]] = {
    "text_words_readable": ("text", "words", "no words read on the originals"),
    "text_char_similarity": ("text", "similarity", "no text read on the originals"),
    "text_words_readable_in_boxes": ("text", "words_in_boxes", "no words read inside the anonymized boxes"),
    "text_char_similarity_in_boxes": ("text", "similarity_in_boxes", "no text read inside the anonymized boxes"),
    "faces_redetected": ("faces", "faces", "no faces detected on the originals"),
    "codes_decoded": ("codes", "codes", "no codes decoded on the originals"),
    "mrz_recovered": ("mrz", "mrz", "no MRZ lines on the originals"),
}
VALUE_COLUMNS = (*MEASURES, "linkage")
COLUMNS = ("method", "degree", "model", "images",
           *(f"{c}{suffix}" for c in VALUE_COLUMNS for suffix in ("", "_lo", "_hi", "_n")), "missing")
RECALL_COLUMNS = ("measure", "method", "value", "value_lo", "value_hi", "n", "images", "missing")
NO_RESULTS = "no evaluate results (results/scenarios.json): run the evaluate stage"


def _cells(column: str, agg: Aggregate, nothing: str) -> tuple[dict, list[str]]:
    """The four cells of ``column`` and the reasons it is (partly) missing."""
    reasons = [f"{column}: {reason} ({k} of {agg.images} images)" for reason, k in agg.reasons]
    if agg.fraction is None:
        if not agg.images:
            reasons.append(f"{column}: no images in the sample")
        elif not reasons or agg.measured:
            reasons.append(f"{column}: {nothing}" + (f" ({agg.measured} images measured)" if reasons else ""))
        return {column: None, f"{column}_lo": None, f"{column}_hi": None, f"{column}_n": 0}, reasons
    lo, hi = agg.interval
    return {column: agg.fraction, f"{column}_lo": lo, f"{column}_hi": hi, f"{column}_n": agg.pooled.total}, reasons


def variant_row(method: str, degree: float, outcomes: Sequence[Mapping[str, Outcome]]) -> dict:
    """The image measures of one method x degree over a sample: ``outcomes`` holds one
    ``PrivacyProbe.measure`` result per sampled image. No ``model``/``linkage`` yet (``with_linkage``)."""
    row: dict = {"method": method, "degree": float(degree), "images": len(outcomes)}
    missing: list[str] = []
    for column, (measure, ratio, nothing) in MEASURES.items():
        cells, reasons = _cells(column, aggregate([o[measure] for o in outcomes], ratio), nothing)
        row.update(cells)
        missing += reasons
    row["missing"] = missing
    return row


def with_linkage(rows: Sequence[Mapping], scenarios: Sequence[Mapping] | None) -> list[dict]:
    """Every variant row once per model scored on it in ``scenarios`` (the evaluate stage's rows), with that
    model's linkage rate and its Wilson interval over the ``n`` images; without scenarios (None), or for a
    variant no model was scored on, one row with an empty model and linkage, and the reason."""
    out = []
    for row in rows:
        scored = [s for s in scenarios or () if s["method"] == row["method"] and s["queries"] == "original"
                  and abs(float(s["degree"]) - row["degree"]) < 1e-9]
        if not scored:
            reason = f"linkage: {NO_RESULTS}" if scenarios is None else "linkage: no model was scored on this variant"
            out.append(_final({**row, "model": "", "linkage": None, "linkage_lo": None, "linkage_hi": None,
                               "linkage_n": 0, "missing": [*row["missing"], reason]}))
            continue
        for s in scored:
            linkage, n = s.get("linkage"), int(s.get("n") or 0)
            cells = {"linkage": None, "linkage_lo": None, "linkage_hi": None, "linkage_n": n}
            missing = list(row["missing"])
            if linkage is None or n < 1:
                missing.append("linkage: not in the evaluate results")
            else:
                lo, hi = wilson_interval(round(float(linkage) * n), n)
                cells.update(linkage=float(linkage), linkage_lo=lo, linkage_hi=hi)
            out.append(_final({**row, "model": s["model"], **cells, "missing": missing}))
    return out


def _final(row: dict) -> dict:
    """The row in column order, its reasons joined."""
    row = {**row, "missing": "; ".join(row["missing"])}
    return {c: row.get(c) for c in COLUMNS}


def recall_row(measure: str, method: str, outcomes: Sequence[Outcome], ratio: str | None = None) -> dict:
    """One row of ``privacy_recall.csv``: ratio ``ratio`` (default ``measure``) of ``outcomes`` pooled."""
    agg = aggregate(outcomes, ratio or measure)
    cells, reasons = _cells("value", agg, f"nothing drawn to find ({measure})")
    return {"measure": measure, "method": method, **cells, "n": cells.pop("value_n"), "images": agg.images,
            "missing": "; ".join(r.removeprefix("value: ") for r in reasons)}
