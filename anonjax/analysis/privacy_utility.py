"""The privacy-utility trade-off of a study, from the privacy stage's rows and the evaluate stage's scenarios:
each point a model x method x degree, x its residual information (what the anonymized images still give away;
lower is more private), y its mnDCG with original queries against the anonymized database (higher is more
useful). Pure: the report stage renders what these return.

- Residual: words still read by OCR (``text_words_readable``) where text was measured, else faces still
  detected (``faces_redetected``): the first of ``RESIDUALS`` with a value in any row.
- Pareto front: the points no other point beats on both axes (as private or more, as useful or more, and
  strictly better on one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from anonjax.analysis.tables import model_label
from anonjax.layout import percent

RESIDUALS = {"text_words_readable": "text words still readable", "faces_redetected": "faces still detected"}
TEXT = "text_words_readable"


@dataclasses.dataclass(frozen=True)
class Point:
    """One model x method x degree: its residual information and its mnDCG (original queries), with intervals."""

    model: str
    method: str
    degree: float
    residual: float
    residual_lo: float | None
    residual_hi: float | None
    mndcg: float
    mndcg_lo: float | None
    mndcg_hi: float | None

    @property
    def label(self) -> str:
        return f"{model_label(self.model)}, {self.method} {percent(self.degree)}%"


def residual_column(rows: Sequence[Mapping]) -> str | None:
    """The residual the chart uses: the first of ``RESIDUALS`` measured in any row; None when neither was."""
    return next((c for c in RESIDUALS if any(r.get(c) is not None for r in rows)), None)


def points(rows: Sequence[Mapping], scenarios: Sequence[Mapping], column: str) -> list[Point]:
    """A point for every privacy row with a model and a value of ``column`` whose scenario (same model, method
    and degree, original queries) the evaluate stage scored."""
    scored = {(s["model"], s["method"], round(float(s["degree"]), 9)): s for s in scenarios
              if s.get("queries") == "original"}
    out = []
    for r in rows:
        s = scored.get((r.get("model"), r["method"], round(float(r["degree"]), 9)))
        if s is None or r.get(column) is None or s.get("mndcg") is None:
            continue
        out.append(Point(r["model"], r["method"], float(r["degree"]), float(r[column]), r.get(f"{column}_lo"),
                         r.get(f"{column}_hi"), float(s["mndcg"]), s.get("mndcg_low"), s.get("mndcg_high")))
    return out


def pareto_front(pts: Sequence[Point]) -> list[int]:
    """Indices of the points on the front, by increasing residual."""
    def beaten(p: Point) -> bool:
        return any(q.residual <= p.residual and q.mndcg >= p.mndcg and (q.residual < p.residual or q.mndcg > p.mndcg)
                   for q in pts)

    front = [i for i, p in enumerate(pts) if not beaten(p)]
    return sorted(front, key=lambda i: (pts[i].residual, -pts[i].mndcg))


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _with_interval(value: float, lo: float | None, hi: float | None) -> str:
    return _pct(value) if lo is None or hi is None else f"{_pct(value)} [{_pct(lo)}, {_pct(hi)}]"


def front_sentence(pts: Sequence[Point], column: str) -> str:
    """Which settings are on the front, and what the least-revealing setting costs in retrieval against the
    most useful one (mnDCG points, with both 95 % intervals)."""
    if not pts:
        return "No setting has both a privacy measure and a retrieval score, so there is no trade-off to show."
    what = RESIDUALS[column]
    front = [pts[i] for i in pareto_front(pts)]
    listed = "; ".join(f"{p.label} ({what} {_pct(p.residual)}, mnDCG {_pct(p.mndcg)})" for p in front)
    least = min(pts, key=lambda p: (p.residual, -p.mndcg))
    best = max(pts, key=lambda p: (p.mndcg, -p.residual))
    text = f"On the privacy-utility front ({len(front)} of {len(pts)} settings): {listed}. "
    if least == best:
        return text + (f"The least-revealing setting, {least.label}, is also the most useful: it costs nothing in "
                       "retrieval against the other settings.")
    cost = 100 * (best.mndcg - least.mndcg)
    overlap = None not in (least.mndcg_hi, best.mndcg_lo) and least.mndcg_hi >= best.mndcg_lo
    noise = " (their 95% intervals overlap: the cost may be noise at this size)" if overlap else ""
    return text + (f"The least-revealing setting, {least.label} ({what} "
                   f"{_with_interval(least.residual, least.residual_lo, least.residual_hi)}), costs {cost:.1f} "
                   f"mnDCG points against the most useful, {best.label} (mnDCG "
                   f"{_with_interval(least.mndcg, least.mndcg_lo, least.mndcg_hi)} against "
                   f"{_with_interval(best.mndcg, best.mndcg_lo, best.mndcg_hi)}){noise}.")


def best_below(rows: Sequence[Mapping], scenarios: Sequence[Mapping], max_readable: float) -> str:
    """The sentence of the report's "what this means": the setting with the best mnDCG (original queries)
    among those whose text words still readable are below ``max_readable``."""
    limit = _pct(max_readable)
    if not any(r.get(TEXT) is not None for r in rows):
        reasons = sorted({part for r in rows for part in (r.get("missing") or "").split("; ")
                          if part.startswith(f"{TEXT}:")})
        why = f" ({reasons[0].removeprefix(f'{TEXT}: ')})" if reasons else ""
        return f"Residual text was not measured{why}, so no setting can be named as keeping it below {limit}."
    pts = points(rows, scenarios, TEXT)
    if not pts:
        return f"No setting with measured residual text has a retrieval score, so none can be named below {limit}."
    below = [p for p in pts if p.residual < max_readable]
    if not below:
        least = min(pts, key=lambda p: (p.residual, -p.mndcg))
        return (f"No setting keeps the readable text below {limit} (`report.max_readable`); the least readable is "
                f"{least.label}, with {_pct(least.residual)} of the words still read and mnDCG {_pct(least.mndcg)}.")
    best, *rest = sorted(below, key=lambda p: (-p.mndcg, p.residual))
    text = (f"Among the {len(below)} setting(s) that keep the readable text below {limit} (`report.max_readable`), "
            f"{best.label} retrieves best: mnDCG {_with_interval(best.mndcg, best.mndcg_lo, best.mndcg_hi)} with "
            f"original queries, {_pct(best.residual)} of the words still read "
            f"({_with_interval(best.residual, best.residual_lo, best.residual_hi)})")
    if best.residual_hi is not None and best.residual_hi >= max_readable:
        text += (f", though its interval reaches {_pct(best.residual_hi)}: at this sample size the measure does not "
                 f"show it below {limit}")
    if not rest:
        return text + "."
    runner = rest[0]
    tied = None in (best.mndcg_lo, runner.mndcg_hi) or best.mndcg_lo <= runner.mndcg_hi
    return text + (f"; {'indistinguishable at this size from' if tied else 'beyond the noise of'} the runner-up, "
                   f"{runner.label} (mnDCG {_with_interval(runner.mndcg, runner.mndcg_lo, runner.mndcg_hi)}).")
