"""The report's "what this means": sentences computed from the results, never fixed text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from anonjax.analysis.tables import MODEL_LABELS


def _name(row: Mapping) -> str:
    return f"{MODEL_LABELS.get(row['model'], row['model'])}/{row['method']}"


def findings(scenarios: Sequence[Mapping], downstream: Sequence[Mapping] = (),
             correlations: Mapping[str, float] | None = None) -> list[str]:
    """Plain-language findings for one dataset and degree (rows of a single degree)."""
    if not scenarios:
        return []
    out = []
    best = max(scenarios, key=lambda r: (r["mndcg"], r["map"]))
    worst = min(scenarios, key=lambda r: (r["mndcg"], r["map"]))
    out.append(
        f"Retrieval stays closest to the original system with {_name(best)} and {best['queries']} queries "
        f"(mAP {100 * best['map']:.1f}%, mnDCG {100 * best['mndcg']:.1f}%); it is furthest with {_name(worst)} "
        f"and {worst['queries']} queries (mAP {100 * worst['map']:.1f}%, mnDCG {100 * worst['mndcg']:.1f}%)."
    )
    by = {(r["model"], r["method"], r["queries"]): r for r in scenarios}
    pairs = [(by[(m, meth, "original")], by[(m, meth, "anonymized")])
             for (m, meth, q) in by if q == "original" and (m, meth, "anonymized") in by]
    if pairs:
        helped = [p for p in pairs if p[1]["mndcg"] > p[0]["mndcg"]]
        mean_change = sum(a["mndcg"] - o["mndcg"] for o, a in pairs) / len(pairs)
        verdict = "helps" if len(helped) > len(pairs) / 2 else "does not help"
        out.append(
            f"Anonymizing the queries too {verdict} on balance: mnDCG rises in {len(helped)} of {len(pairs)} "
            f"model/method pairs (mean change {100 * mean_change:+.1f} points)."
        )
    methods = sorted({r["method"] for r in scenarios})
    if len(methods) > 1:
        mean = {m: sum(r["mndcg"] for r in scenarios if r["method"] == m) / sum(r["method"] == m for r in scenarios)
                for m in methods}
        order = sorted(methods, key=mean.get, reverse=True)
        out.append("Methods ordered by mean mnDCG: " + ", ".join(f"{m} ({100 * mean[m]:.1f}%)" for m in order) + ".")
    link = [r["linkage"] for r in scenarios if "linkage" in r]
    if link:
        worst_link = max(scenarios, key=lambda r: r.get("linkage", 0))
        out.append(
            f"Linkage risk: between {100 * min(link):.1f}% and {100 * max(link):.1f}% of anonymized images have "
            f"their own original as nearest neighbour (highest for {_name(worst_link)}); higher means the "
            f"anonymized image is easier to link back to the original."
        )
    if downstream:
        top = max(downstream, key=lambda r: r["knn"])
        out.append(f"The best k-NN accuracy on anonymized data comes from {_name(top)} ({100 * top['knn']:.1f}%).")
    if correlations:
        metric, r = max(correlations.items(), key=lambda kv: abs(kv[1]))
        out.append(f"Of the retrieval metrics, {metric} correlates most strongly with downstream accuracy "
                   f"(mean Pearson r {r:.2f} with k-NN and linear accuracy).")
    return out
