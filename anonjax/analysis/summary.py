"""The numbers behind the report's "what this means", each with the noise it must be read against.

- Two retrieval scenarios are compared by a paired bootstrap over queries of their difference (both are scored
  on the same queries): a difference whose 95% interval holds 0 is indistinguishable at this size.
- Two models are compared against the retraining noise as well: the gap between the Unadapted model and a
  control (the same recipe, another seed) in the same scenario. No adaptation can be expected to beat it.
- Probe accuracies carry Wilson intervals; correlations their sign, number of points and Fisher interval.
- Every scenario has a chance level: the expected score of a random ranking.

The evaluate stage computes these (it holds the per-query scores) and writes them to ``summary.json``; the
report renders them (:mod:`anonjax.analysis.findings`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from anonjax.analysis.correlation import correlation_csv, metrics_across_models, pearson_matrix, with_accuracy
from anonjax.analysis.intervals import wilson_interval
from anonjax.layout import ADAPTATIONS, CONTROL, NO_ANONYMIZATION, UNADAPTED

Row = Mapping[str, Any]
# (row a, row b, metric) -> (mean of a - b over queries, 95% low, 95% high), paired over the same queries.
Paired = Callable[[Row, Row, str], tuple[float, float, float]]
METRICS = ("map", "mndcg")


def difference(paired: Paired, a: Row, b: Row, metric: str = "mndcg") -> dict[str, Any]:
    """``a - b`` in ``metric`` with its paired interval and whether that interval excludes 0."""
    diff, low, high = paired(a, b, metric)
    return dict(diff=diff, low=low, high=high, separated=bool(low > 0 or high < 0))


def retraining_noise(rows: Sequence[Row], metric: str = "mndcg") -> dict[tuple, float]:
    """Per scenario (method, degree, queries): |Unadapted - first control| in ``metric``, the difference that
    retraining with another seed alone makes there."""
    by = {(r["model"], r["method"], r["degree"], r["queries"]): r[metric] for r in rows}
    return {key[1:]: abs(value - by[(CONTROL, *key[1:])]) for key, value in by.items()
            if key[0] == UNADAPTED and (CONTROL, *key[1:]) in by}


def degree_summary(scenarios: Sequence[Row], paired: Paired, *, none_rows: Sequence[Row] = (),
                   downstream: Sequence[Row] = (), n_test: int = 0,
                   correlation: Sequence[Mapping] = ()) -> dict[str, Any]:
    """Summary of the scenario rows of one degree.

    ``none_rows``: every model's scenario without anonymization; ``downstream``: probe rows of this degree,
    tested on ``n_test`` images; ``correlation``: entries of :func:`anonjax.analysis.correlation.with_accuracy`.
    """
    if not scenarios:
        return {}
    out: dict[str, Any] = dict(chance={m: scenarios[0][f"{m}_chance"] for m in METRICS})
    best = max(scenarios, key=lambda r: (r["mndcg"], r["map"]))
    worst = min(scenarios, key=lambda r: (r["mndcg"], r["map"]))
    out.update(best=dict(best), worst=dict(worst), gap=difference(paired, best, worst))
    out["anonymized_queries"] = _anonymized_queries(scenarios, paired)
    out["methods"] = _methods(scenarios, paired)
    out["adaptation"] = _adaptation(scenarios, paired)
    if control := next((r for r in none_rows if r["model"] == CONTROL), None):
        out["control"] = {m: control[m] for m in METRICS}
    highest = max(scenarios, key=lambda r: r["linkage"])
    out["linkage"] = dict(low=min(r["linkage"] for r in scenarios), high=highest["linkage"],
                          model=highest["model"], method=highest["method"])
    out["marks"] = table_marks(scenarios, paired)
    if downstream:
        out["probes"] = _probes(downstream, n_test)
        out["marks"] += downstream_marks(downstream, n_test)
    if correlation:
        out["with_accuracy"] = [dict(c) for c in correlation]
    return out


def _anonymized_queries(scenarios: Sequence[Row], paired: Paired) -> dict[str, Any] | None:
    """What anonymizing the queries too does, per (model, method): mnDCG raised or lowered beyond the noise,
    or indistinguishable."""
    by = {(r["model"], r["method"], r["queries"]): r for r in scenarios}
    changes = [difference(paired, by[(r["model"], r["method"], "anonymized")], r) for r in scenarios
               if r["queries"] == "original" and (r["model"], r["method"], "anonymized") in by]
    if not changes:
        return None
    return dict(pairs=len(changes), rose=sum(c["separated"] and c["diff"] > 0 for c in changes),
                fell=sum(c["separated"] and c["diff"] < 0 for c in changes),
                mean_change=sum(c["diff"] for c in changes) / len(changes))


def _methods(scenarios: Sequence[Row], paired: Paired) -> list[dict[str, Any]]:
    """The methods ordered by the Unadapted model's mnDCG with original queries, each compared with the next."""
    rows = sorted((r for r in scenarios if r["model"] == UNADAPTED and r["queries"] == "original"),
                  key=lambda r: -r["mndcg"])
    return [dict(method=r["method"], mndcg=r["mndcg"],
                 next=difference(paired, r, rows[i + 1]) if i + 1 < len(rows) else None)
            for i, r in enumerate(rows)]


def _adaptation(scenarios: Sequence[Row], paired: Paired) -> list[dict[str, Any]]:
    """Per method, with original queries: the best adapted model against the Unadapted one, and whether the
    difference exceeds both the sampling noise (paired interval) and the retraining noise (the control's gap)."""
    noise = retraining_noise(scenarios)
    out = []
    for method in dict.fromkeys(r["method"] for r in scenarios):
        rows = [r for r in scenarios if r["method"] == method and r["queries"] == "original"]
        unadapted = next((r for r in rows if r["model"] == UNADAPTED), None)
        adapted = [r for r in rows if r["model"] in ADAPTATIONS]
        if unadapted is None or not adapted:
            continue
        best = max(adapted, key=lambda r: r["mndcg"])
        d = difference(paired, best, unadapted)
        retrain = noise.get((method, best["degree"], "original"))
        d["beyond_retraining"] = None if retrain is None else bool(d["separated"] and abs(d["diff"]) > retrain)
        out.append(dict(method=method, model=best["model"], mndcg=best["mndcg"], unadapted=unadapted["mndcg"],
                        retraining_noise=retrain, **d))
    return out


def _probes(downstream: Sequence[Row], n_test: int) -> dict[str, Any]:
    """The best k-NN accuracy with its Wilson interval, and whether it is separated from the runner-up's."""
    ranked = sorted(downstream, key=lambda r: -r["knn"])
    best = dict(model=ranked[0]["model"], method=ranked[0]["method"], knn=ranked[0]["knn"],
                interval=wilson_interval(ranked[0]["knn"] * n_test, n_test), n=n_test)
    if len(ranked) > 1:
        runner = wilson_interval(ranked[1]["knn"] * n_test, n_test)
        best["runner_up"] = dict(model=ranked[1]["model"], method=ranked[1]["method"], knn=ranked[1]["knn"])
        best["separated"] = bool(best["interval"][0] > runner[1])
    return dict(best_knn=best)


def table_marks(scenarios: Sequence[Row], paired: Paired) -> list[dict[str, Any]]:
    """The cells of the retrieval tables marked best: per query kind, metric and method, the best model, only
    where its paired interval against the runner-up excludes 0."""
    marks = []
    for kind in dict.fromkeys(r["queries"] for r in scenarios):
        for method in dict.fromkeys(r["method"] for r in scenarios):
            rows = [r for r in scenarios if r["queries"] == kind and r["method"] == method]
            for metric in METRICS:
                ranked = sorted(rows, key=lambda r: -r[metric])
                if len(ranked) > 1 and difference(paired, ranked[0], ranked[1], metric)["separated"]:
                    marks.append(dict(table="retrieval", queries=kind, method=method, metric=metric,
                                      model=ranked[0]["model"]))
    return marks


def downstream_marks(downstream: Sequence[Row], n_test: int) -> list[dict[str, Any]]:
    """The cells of the probe table marked best: per method and probe, only where the best accuracy's Wilson
    interval lies above the runner-up's."""
    marks = []
    for method in dict.fromkeys(r["method"] for r in downstream):
        rows = [r for r in downstream if r["method"] == method]
        for metric in ("knn", "linear"):
            ranked = sorted(rows, key=lambda r: -r[metric])
            if len(ranked) > 1 and (wilson_interval(ranked[0][metric] * n_test, n_test)[0]
                                    > wilson_interval(ranked[1][metric] * n_test, n_test)[1]):
                marks.append(dict(table="downstream", method=method, metric=metric, model=ranked[0]["model"]))
    return marks


def nested_degrees(scenarios: Sequence[Row], paired: Paired) -> list[dict[str, Any]]:
    """The boxes of a lower degree are a subset of a higher one's, so more anonymization should not retrieve
    better: per method, the Unadapted model's mAP with original queries at the highest degree against every
    lower degree (a positive difference beyond the noise is an anomaly worth reading)."""
    out = []
    for method in dict.fromkeys(r["method"] for r in scenarios):
        rows = sorted((r for r in scenarios if r["model"] == UNADAPTED and r["method"] == method
                       and r["queries"] == "original"), key=lambda r: r["degree"])
        for lower in rows[:-1]:
            out.append(dict(method=method, degree=rows[-1]["degree"], lower=lower["degree"],
                            **difference(paired, rows[-1], lower, "map")))
    return out


def study_summary(scenarios: Sequence[Row], downstream: Sequence[Row], settings: dict[str, Any], paired: Paired, *,
                  correlation_file: Callable[[float], str]) -> tuple[dict[str, Any], dict[float, str]]:
    """The content of ``summary.json`` (the settings, per degree the comparisons the findings state, the nested
    degrees) and, per degree with probe results of at least three (model, method) pairs, the CSV text of the
    Pearson matrix of all metrics across models, which the degree's entry names by ``correlation_file``."""
    anonymized = [r for r in scenarios if r["method"] != NO_ANONYMIZATION]
    none_rows = [r for r in scenarios if r["method"] == NO_ANONYMIZATION]
    degrees, correlations = [], {}
    for degree in sorted({r["degree"] for r in anonymized}):
        rows = [r for r in anonymized if r["degree"] == degree]
        down = [r for r in downstream if r["degree"] == degree]
        entry, correlation = dict(degree=degree, correlation=None), []
        metrics = metrics_across_models(rows, down) if down else {}
        if len(metrics.get("k-NN", ())) >= 3:  # the model x method points, the controls apart
            names, matrix = pearson_matrix(metrics)
            entry["correlation"] = correlation_file(degree)
            correlations[degree] = correlation_csv(names, matrix)
            correlation = with_accuracy(names, matrix, len(metrics["k-NN"]))
            entry["control_points"] = metrics_across_models(rows, down, controls=True)
        degrees.append({**entry, **degree_summary(rows, paired, none_rows=none_rows, downstream=down,
                                                  n_test=settings["n_test"] or 0, correlation=correlation)})
    return dict(settings=settings, degrees=degrees, nested=nested_degrees(anonymized, paired)), correlations
