"""The report's "what this means": sentences rendered from the evaluate stage's summary of one degree
(:func:`anonjax.analysis.summary.degree_summary`), never fixed text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anonjax.analysis.tables import MODEL_LABELS


def _name(row: Mapping) -> str:
    return f"{MODEL_LABELS.get(row['model'], row['model'])}/{row['method']}"


def _scores(row: Mapping) -> str:
    return f"mAP {100 * row['map']:.1f}%, mnDCG {100 * row['mndcg']:.1f}%"


def findings(summary: Mapping[str, Any]) -> list[str]:
    """Plain-language findings for one degree."""
    if not summary:
        return []
    best, worst = summary["best"], summary["worst"]
    noise = ("beyond the noise (their mnDCG 95% intervals do not overlap)" if summary["gap_beyond_noise"]
             else "within the noise (their mnDCG 95% intervals overlap)")
    out = [f"Retrieval stays closest to the original system with {_name(best)} and {best['queries']} queries "
           f"({_scores(best)}); it is furthest with {_name(worst)} and {worst['queries']} queries ({_scores(worst)}); "
           f"the gap is {noise}."]
    if q := summary.get("anonymized_queries"):
        verdict = "helps" if q["rose"] > q["pairs"] / 2 else "does not help"
        out.append(f"Anonymizing the queries too {verdict} on balance: mnDCG rises in {q['rose']} of {q['pairs']} "
                   f"model/method pairs (mean change {100 * q['mean_change']:+.1f} points); the change is beyond "
                   f"the noise (95% intervals apart) in {q['beyond_noise']} of them.")
    if len(methods := summary["methods"]) > 1:
        out.append("Methods ordered by mean mnDCG: "
                   + ", ".join(f"{m['method']} ({100 * m['mndcg']:.1f}%)" for m in methods) + ".")
    link = summary["linkage"]
    out.append(f"Linkage risk: between {100 * link['low']:.1f}% and {100 * link['high']:.1f}% of anonymized "
               f"images have their own original as nearest neighbour (highest for {_name(link)}); higher means "
               "the anonymized image is easier to link back to the original.")
    if top := summary.get("best_knn"):
        out.append(f"The best k-NN accuracy on anonymized data comes from {_name(top)} ({100 * top['knn']:.1f}%).")
    if strongest := summary.get("with_accuracy"):
        metric, r = strongest[0]["metric"], strongest[0]["r"]
        out.append(f"Of the retrieval metrics, {metric} correlates most strongly with downstream accuracy "
                   f"(mean Pearson r {r:.2f} with k-NN and linear accuracy).")
    return out
