"""Result tables in Markdown: the paper's layout (Tab. V-XI, models as rows, metrics x methods as columns)
and one row per scenario with its confidence intervals and linkage rate.

Rows are plain dicts as the evaluate stage writes them: scenario rows carry ``model, method, degree, queries,
map, mndcg`` (and ``map_low, map_high, mndcg_low, mndcg_high, linkage``); downstream rows carry ``model,
method, degree, knn, linear``. Values are fractions; tables print percentages with one decimal, and the
paper-layout tables mark the best value of each column (within each query block) in bold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from anonjax.layout import ADAPTATIONS, METHODS, QUERY_KINDS, UNADAPTED

MODEL_LABELS = {UNADAPTED: "Unadapted", **{a: f"Adaption {a}" for a in ADAPTATIONS}}
QUERY_LABELS = {"original": "With original query images", "anonymized": "With anonymized query images"}


def _ordered(values, order):
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))


def _block(rows, models, methods, metrics) -> list[list[str]]:
    """Formatted cells for one block; the best value per column in bold."""
    lookup = {(r["model"], r["method"]): r for r in rows}
    columns = [(metric, method) for metric in metrics for method in methods]
    # Percent with one decimal, as printed, so that equal-looking cells are marked alike.
    values = [[round(100 * lookup.get((m, meth), {}).get(metric, math.nan), 1) for metric, meth in columns]
              for m in models]
    best = [max((v[j] for v in values if not math.isnan(v[j])), default=math.nan) for j in range(len(columns))]
    table = []
    for model, row in zip(models, values, strict=True):
        cells = []
        for j, v in enumerate(row):
            text = "-" if math.isnan(v) else f"{v:.1f}"
            cells.append(f"**{text}**" if not math.isnan(v) and v == best[j] else text)
        table.append([MODEL_LABELS.get(model, model), *cells])
    return table


def _markdown(header: Sequence[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def scenario_table(rows: Sequence[Mapping], *, k: int | None = None) -> str:
    """Markdown table of mAP and mnDCG per model and method, one block per query kind (Tab. V style)."""
    models = _ordered([r["model"] for r in rows], (UNADAPTED, *ADAPTATIONS))
    methods = _ordered([r["method"] for r in rows], METHODS)
    ndcg = f"mnDCG{k}" if k else "mnDCG"
    header = ["Model", *(f"mAP {m}" for m in methods), *(f"{ndcg} {m}" for m in methods)]
    body: list[list[str]] = []
    for kind in _ordered([r["queries"] for r in rows], QUERY_KINDS):
        body.append([f"*{QUERY_LABELS.get(kind, kind)}*", *[""] * (len(header) - 1)])
        body += _block([r for r in rows if r["queries"] == kind], models, methods, ("map", "mndcg"))
    return _markdown(header, body)


def downstream_table(rows: Sequence[Mapping]) -> str:
    """Markdown table of k-NN and linear probe accuracy per model and method (Tab. VI style)."""
    models = _ordered([r["model"] for r in rows], (UNADAPTED, *ADAPTATIONS))
    methods = _ordered([r["method"] for r in rows], METHODS)
    header = ["Model", *(f"k-NN {m}" for m in methods), *(f"Linear {m}" for m in methods)]
    return _markdown(header, _block(rows, models, methods, ("knn", "linear")))


def interval_table(rows: Sequence[Mapping]) -> str:
    """Markdown table of every scenario row with its 95% bootstrap intervals and linkage rate, in row order."""
    header = ["Model", "Method", "Queries", "mAP", "mAP 95% CI", "mnDCG", "mnDCG 95% CI", "linkage"]
    body = [[MODEL_LABELS.get(r["model"], r["model"]), r["method"], r["queries"], f"{100 * r['map']:.1f}",
             f"{100 * r['map_low']:.1f}-{100 * r['map_high']:.1f}", f"{100 * r['mndcg']:.1f}",
             f"{100 * r['mndcg_low']:.1f}-{100 * r['mndcg_high']:.1f}", f"{100 * r['linkage']:.1f}"] for r in rows]
    return _markdown(header, body)
