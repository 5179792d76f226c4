"""Result tables in Markdown: the paper's layout (Tab. V-XI, models as rows, metrics x methods as columns)
and one row per scenario with its confidence intervals and linkage rate.

Rows are plain dicts as the evaluate stage writes them: scenario rows carry ``model, model_name, method, degree,
queries, map, mndcg, map_chance, mndcg_chance`` (and ``map_low, map_high, mndcg_low, mndcg_high, linkage``);
downstream rows carry ``model, method, degree, knn, linear``. Values are fractions; tables print percentages
with one decimal. A cell is bold only where the summary found it separated from the runner-up (``marks``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from anonjax.layout import ADAPTATIONS, CONTROL, METHODS, QUERY_KINDS, UNADAPTED

QUERY_LABELS = {"original": "With original query images", "anonymized": "With anonymized query images"}
NONE_LABEL = "Without anonymization (original queries and database; adapted models: the one of the column)"


def model_label(model: str) -> str:
    """How tables and sentences name a model of the results: Unadapted, Control (2, ...), Adaption A."""
    if model == UNADAPTED:
        return "Unadapted"
    if model.startswith(CONTROL):
        return f"Control {model[len(CONTROL):]}".rstrip()
    return f"Adaption {model}" if model in ADAPTATIONS else model


def model_order(models) -> list[str]:
    """Unadapted, the controls, then the adaptations, then anything else."""
    present = set(models)
    controls = sorted((m for m in present if m.startswith(CONTROL)), key=lambda m: (len(m), m))
    order = [UNADAPTED, *controls, *ADAPTATIONS]
    return [m for m in order if m in present] + sorted(present - set(order))


def _ordered(values, order):
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))


def _block(lookup: Mapping, models, methods, metrics, marked=frozenset()) -> list[list[str]]:
    """Formatted cells for one block; ``marked`` holds the (model, metric, method) cells to print in bold."""
    table = []
    for model in models:
        cells = []
        for metric in metrics:
            for method in methods:
                v = lookup.get((model, method), {}).get(metric, math.nan)
                text = "-" if v is None or math.isnan(v) else f"{100 * v:.1f}"
                cells.append(f"**{text}**" if (model, metric, method) in marked else text)
        table.append([model_label(model), *cells])
    return table


def _markdown(header: Sequence[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def scenario_table(rows: Sequence[Mapping], *, k: int | None = None, none_rows: Sequence[Mapping] = (),
                   marks: Sequence[Mapping] = ()) -> str:
    """Markdown table of mAP and mnDCG per model and method (Tab. V style): one block per query kind, a block
    without anonymization (each model's ``none`` row, for an adapted model the one trained for the column's
    method at this degree), and the chance level of a random ranking."""
    models = model_order([r["model"] for r in rows])
    methods = _ordered([r["method"] for r in rows], METHODS)
    ndcg = f"mnDCG{k}" if k else "mnDCG"
    header = ["Model", *(f"mAP {m}" for m in methods), *(f"{ndcg} {m}" for m in methods)]
    body: list[list[str]] = []
    for kind in _ordered([r["queries"] for r in rows], QUERY_KINDS):
        body.append([f"*{QUERY_LABELS.get(kind, kind)}*", *[""] * (len(header) - 1)])
        marked = {(m["model"], m["metric"], m["method"]) for m in marks
                  if m.get("table") == "retrieval" and m.get("queries") == kind}
        lookup = {(r["model"], r["method"]): r for r in rows if r["queries"] == kind}
        body += _block(lookup, models, methods, ("map", "mndcg"), marked)
    if none_rows:
        by_name = {r["model_name"]: r for r in none_rows}
        lookup = {(r["model"], r["method"]): by_name[r["model_name"]] for r in rows
                  if r["queries"] == "original" and r["model_name"] in by_name}
        body.append([f"*{NONE_LABEL}*", *[""] * (len(header) - 1)])
        body += _block(lookup, models, methods, ("map", "mndcg"))
    if rows:
        chance = [f"{100 * r[f'{metric}_chance']:.1f}" for metric in ("map", "mndcg") for r in
                  (next(x for x in rows if x["method"] == m) for m in methods)]
        body.append(["*Random ranking (chance)*", *chance])
    return _markdown(header, body)


def downstream_table(rows: Sequence[Mapping], marks: Sequence[Mapping] = ()) -> str:
    """Markdown table of k-NN and linear probe accuracy per model and method (Tab. VI style)."""
    models = model_order([r["model"] for r in rows])
    methods = _ordered([r["method"] for r in rows], METHODS)
    header = ["Model", *(f"k-NN {m}" for m in methods), *(f"Linear {m}" for m in methods)]
    marked = {(m["model"], m["metric"], m["method"]) for m in marks if m.get("table") == "downstream"}
    lookup = {(r["model"], r["method"]): r for r in rows}
    return _markdown(header, _block(lookup, models, methods, ("knn", "linear"), marked))


def interval_table(rows: Sequence[Mapping]) -> str:
    """Markdown table of every scenario row with its 95% bootstrap intervals, chance level and linkage rate, in
    row order."""
    header = ["Model", "Method", "Queries", "mAP", "mAP 95% CI", "mnDCG", "mnDCG 95% CI", "chance mAP / mnDCG",
              "linkage"]
    body = [[model_label(r["model"]) + (f" ({r['model_name']})" if r.get("model_name", r["model"]) != r["model"]
                                        else ""), r["method"], r["queries"], f"{100 * r['map']:.1f}",
             f"{100 * r['map_low']:.1f}-{100 * r['map_high']:.1f}", f"{100 * r['mndcg']:.1f}",
             f"{100 * r['mndcg_low']:.1f}-{100 * r['mndcg_high']:.1f}",
             f"{100 * r['map_chance']:.1f} / {100 * r['mndcg_chance']:.1f}",
             "-" if r["linkage"] is None else f"{100 * r['linkage']:.1f}"] for r in rows]
    return _markdown(header, body)
