"""The report's "what this means": sentences rendered from the evaluate stage's summary of one degree
(:func:`anonjax.analysis.summary.degree_summary`), never fixed text. Every comparison says whether it is larger
than its noise; one inside the noise is reported as indistinguishable, never as a winner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anonjax.analysis.tables import model_label

INDISTINGUISHABLE = "indistinguishable at this size"


def _name(row: Mapping) -> str:
    return f"{model_label(row['model'])}/{row['method']}"


def _scores(row: Mapping) -> str:
    return f"mAP {100 * row['map']:.1f}%, mnDCG {100 * row['mndcg']:.1f}%"


def _points(d: Mapping, digits: int = 1) -> str:
    """A difference in points with its paired 95% interval."""
    return (f"{100 * d['diff']:+.{digits}f} points, 95% interval {100 * d['low']:+.{digits}f} to "
            f"{100 * d['high']:+.{digits}f}")


def _verdict(d: Mapping) -> str:
    return "beyond the noise" if d["separated"] else INDISTINGUISHABLE


def _model_verdict(a: Mapping) -> str:
    """A difference between two models against the sampling and the retraining noise."""
    if not a["separated"]:
        return INDISTINGUISHABLE
    if a["beyond_retraining"] is None:
        return "beyond the sampling noise (no control to measure the retraining noise)"
    noise = f"{100 * a['retraining_noise']:.2f} points"
    if a["beyond_retraining"]:
        return f"beyond the noise: outside its paired interval and larger than the retraining noise ({noise})"
    return f"within the retraining noise ({noise}): another seed moves the Unadapted model as much"


def findings(summary: Mapping[str, Any]) -> list[str]:
    """Plain-language findings for one degree."""
    if not summary:
        return []
    chance = summary["chance"]
    out = [f"A random ranking would score mAP {100 * chance['map']:.1f}% and mnDCG {100 * chance['mndcg']:.1f}% "
           "(the chance level): read every score against it."]
    if control := summary.get("control"):
        out.append(f"Retraining alone moves a model: the control (the Unadapted recipe, another seed) scores "
                   f"{_scores(control)} on the original data against the Unadapted model's 100%. Differences between "
                   "models smaller than the control's are not an effect of anonymization.")
    best, worst, gap = summary["best"], summary["worst"], summary["gap"]
    out.append(f"Retrieval stays closest to the original system with {_name(best)} and {best['queries']} queries "
               f"({_scores(best)}) and is furthest with {_name(worst)} and {worst['queries']} queries "
               f"({_scores(worst)}); the mnDCG gap ({_points(gap)}) is {_verdict(gap)}.")
    if q := summary.get("anonymized_queries"):
        same = q["pairs"] - q["rose"] - q["fell"]
        out.append(f"Anonymizing the queries too raises mnDCG beyond the noise in {q['rose']} of {q['pairs']} "
                   f"model/method pairs, lowers it in {q['fell']}, and is {INDISTINGUISHABLE} in {same} (mean change "
                   f"{100 * q['mean_change']:+.1f} points).")
    if len(methods := summary["methods"]) > 1:
        parts = []
        for m in methods:
            text = f"{m['method']} ({100 * m['mndcg']:.1f}%)"
            if m["next"] is not None:
                text += " >" if m["next"]["separated"] else " ≈"
            parts.append(text)
        out.append("Methods for the Unadapted model with original queries, by mnDCG (> separated beyond the noise, "
                   "≈ indistinguishable): " + " ".join(parts) + ".")
    for a in summary.get("adaptation", ()):
        out.append(f"Adapting to {a['method']}: the best adapted model, {model_label(a['model'])}, scores mnDCG "
                   f"{100 * a['mndcg']:.1f}% with original queries against the Unadapted model's "
                   f"{100 * a['unadapted']:.1f}% ({_points(a, 2)}); {_model_verdict(a)}.")
    link = summary["linkage"]
    out.append(f"Linkage risk: between {100 * link['low']:.1f}% and {100 * link['high']:.1f}% of anonymized "
               f"images have their own original as nearest neighbour (highest for {_name(link)}); higher means "
               "the anonymized image is easier to link back to the original.")
    if (probes := summary.get("probes")) and (top := probes["best_knn"]):
        low, high = top["interval"]
        text = (f"The best k-NN accuracy on anonymized data comes from {_name(top)}: {100 * top['knn']:.1f}% "
                f"(95% interval {100 * low:.1f}-{100 * high:.1f}%, {top['n']} test images)")
        if "runner_up" in top:
            runner = top["runner_up"]
            text += (f"; the runner-up, {_name(runner)} ({100 * runner['knn']:.1f}%), is "
                     f"{'below its interval: the lead is beyond the noise' if top['separated'] else INDISTINGUISHABLE}")
        out.append(text + ".")
    out += _correlation(summary.get("with_accuracy", ()))
    return out


def _correlation(entries) -> list[str]:
    """Per downstream accuracy, the retrieval metric that rises most with it, with its sign, points and interval
    (adjusted for the number of correlations it was picked from); where even that one falls beyond the noise, the
    sentence says that every metric does."""
    out = []
    for accuracy in dict.fromkeys(e["accuracy"] for e in entries):
        top = next(e for e in entries if e["accuracy"] == accuracy)
        interval = top["interval"]
        rises = (f"the retrieval metric that rises most with {accuracy} accuracy is {top['metric']}" if top["r"] > 0
                 else f"no retrieval metric rises with {accuracy} accuracy; the highest correlation is "
                      f"{top['metric']}'s")
        text = f"Across {top['n']} model/method pairs, {rises} (Pearson r {top['r']:+.2f}"
        if interval is None:
            text += "; too few points for an interval)."
        else:
            tests = top.get("tests", 1)  # results written before the adjustment hold plain 95% intervals
            family = f", Bonferroni-adjusted for the {tests} correlations tested" if tests > 1 else ""
            text += f", 95% interval {interval[0]:+.2f} to {interval[1]:+.2f}{family})"
            if interval[0] <= 0 <= interval[1]:
                text += ": no correlation is distinguishable from zero at this size."
            elif interval[1] < 0:  # even the highest is below zero beyond the noise, and so is every other
                text += f": every retrieval metric falls as {accuracy} accuracy rises, beyond the noise."
            else:
                text += "."
        out.append(text)
    return out
