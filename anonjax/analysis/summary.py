"""The numbers behind the report's "what this means", for one degree: which scenario keeps retrieval closest to
the original system and which the furthest, what anonymizing the queries too changes, the methods ranked, the
linkage range, the best probe and the retrieval metric that tracks downstream accuracy best.

A difference between two scenarios counts as beyond the noise when their 95% bootstrap intervals do not
overlap (a conservative test: overlapping intervals can still differ).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]


def beyond_noise(a: Row, b: Row, metric: str = "mndcg") -> bool:
    """Whether the 95% intervals of ``metric`` in scenario rows ``a`` and ``b`` do not overlap."""
    return a[f"{metric}_low"] > b[f"{metric}_high"] or b[f"{metric}_low"] > a[f"{metric}_high"]


def degree_summary(scenarios: Sequence[Row], downstream: Sequence[Row] = (),
                   correlation: Sequence[tuple[str, float]] = ()) -> dict[str, Any]:
    """Summary of the scenario and downstream rows of one degree; ``correlation`` is each retrieval metric's
    mean Pearson r with downstream accuracy, strongest first (empty without probes)."""
    if not scenarios:
        return {}
    best = max(scenarios, key=lambda r: (r["mndcg"], r["map"]))
    worst = min(scenarios, key=lambda r: (r["mndcg"], r["map"]))
    out: dict[str, Any] = dict(best=dict(best), worst=dict(worst), gap_beyond_noise=beyond_noise(best, worst))
    by = {(r["model"], r["method"], r["queries"]): r for r in scenarios}
    pairs = [(r, by[(r["model"], r["method"], "anonymized")]) for r in scenarios
             if r["queries"] == "original" and (r["model"], r["method"], "anonymized") in by]
    if pairs:
        out["anonymized_queries"] = dict(
            pairs=len(pairs),
            rose=sum(a["mndcg"] > o["mndcg"] for o, a in pairs),
            beyond_noise=sum(beyond_noise(o, a) for o, a in pairs),
            mean_change=sum(a["mndcg"] - o["mndcg"] for o, a in pairs) / len(pairs),
        )
    methods = sorted({r["method"] for r in scenarios})
    mean = {m: sum(r["mndcg"] for r in scenarios if r["method"] == m) / sum(r["method"] == m for r in scenarios)
            for m in methods}
    out["methods"] = [dict(method=m, mndcg=mean[m]) for m in sorted(methods, key=mean.get, reverse=True)]
    highest = max(scenarios, key=lambda r: r["linkage"])
    out["linkage"] = dict(low=min(r["linkage"] for r in scenarios), high=highest["linkage"],
                          model=highest["model"], method=highest["method"])
    if downstream:
        top = max(downstream, key=lambda r: r["knn"])
        out["best_knn"] = dict(model=top["model"], method=top["method"], knn=top["knn"])
    if correlation:
        out["with_accuracy"] = [dict(metric=name, r=r) for name, r in correlation]
    return out
