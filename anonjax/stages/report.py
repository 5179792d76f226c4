"""Stage ``report``: ``report/report.md`` and a static ``report/index.html`` (opens from disk) built from
the files the other stages left in the work directory: result tables with confidence intervals, correlation
heatmaps, degree trends, the anonymization examples and statistics, attention maps, training curves and
findings computed from the numbers.

With ``report.originals`` False the report shows no original image: only an example sheet drawn without
its original column and attention maps drawn on anonymized images; figures of an earlier report are
removed, so the ``report/`` folder can be shared as it is.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path

import ml_collections

from anonjax.analysis import metrics_across_models, pearson_matrix
from anonjax.analysis.html import markdown_to_html
from anonjax.analysis.plots import degree_trend, training_curves
from anonjax.analysis.summary import findings
from anonjax.analysis.tables import MODEL_LABELS
from anonjax.config_checks import report_originals
from anonjax.data.listing import MissingInputError
from anonjax.files import save_text
from anonjax.layout import ORIGINAL, percent
from anonjax.stages.fingerprint import DONE

log = logging.getLogger(__name__)
_SHEET = "example_sheet.png"
TITLE = "anonjax report: the impact of anonymization on image retrieval"


def validate(config: ml_collections.ConfigDict) -> None:
    """The report reads only what other stages wrote; only ``report.originals`` is checked up front."""
    report_originals(config)


def run(config: ml_collections.ConfigDict, workdir: Path) -> None:
    """Write the report from whatever results the work directory holds."""
    results = workdir / "results"
    if not (results / "scenarios.json").is_file():
        raise MissingInputError(f"no results in {results}: run the evaluate stage first")
    out = workdir / "report"
    figures = out / "figures"
    shutil.rmtree(figures, ignore_errors=True)  # a figure of an earlier report (an original image) never lingers
    figures.mkdir(parents=True)
    originals = report_originals(config)
    scenarios = json.loads((results / "scenarios.json").read_text())
    downstream_file = results / "downstream.json"
    downstream = json.loads(downstream_file.read_text()) if downstream_file.is_file() else []

    md = [f"# {TITLE}", "", f"Work directory: `{workdir.resolve()}`", ""]
    md += _findings_section(scenarios, downstream)
    md += _tables_section(results, scenarios, figures)
    md += _trends_section(scenarios, downstream, figures)
    md += _anonymization_section(workdir / "anonymize", figures, originals)
    md += _attention_section(workdir / "attention", figures, originals)
    md += _training_section(workdir / "train", figures)
    md += ["## Files", "", "All numbers are also in `results/scenarios.csv`, `results/downstream.csv` and "
           "`results/*.json` for further analysis.", ""]
    text = "\n".join(md)
    save_text(out / "report.md", text)
    save_text(out / "index.html", markdown_to_html(text, TITLE))
    log.info("report: wrote %s", out / "index.html")


def _findings_section(scenarios: list[dict], downstream: list[dict]) -> list[str]:
    lines = ["## What this means", ""]
    for degree in sorted({r["degree"] for r in scenarios}):
        rows = [r for r in scenarios if r["degree"] == degree]
        down = [r for r in downstream if r["degree"] == degree]
        correlations = None
        if len(down) >= 3:
            names, matrix = pearson_matrix(metrics_across_models(rows, down))
            accuracy = [names.index("k-NN"), names.index("Linear")]
            retrieval = [(i, n) for i, n in enumerate(names) if n.startswith(("mAP", "mnDCG"))]
            mean_r = {n: float(matrix[i, accuracy].mean()) for i, n in retrieval}
            correlations = {n: r for n, r in mean_r.items() if math.isfinite(r)}
        lines.append(f"At {percent(degree)}% anonymization:")
        lines.append("")
        lines += [f"- {sentence}" for sentence in findings(rows, down, correlations)]
        lines.append("")
    return lines


def _tables_section(results: Path, scenarios: list[dict], figures: Path) -> list[str]:
    lines = ["## Results", ""]
    reference = results / "reference.json"
    if reference.is_file():
        r = json.loads(reference.read_text())
        lines += [f"Reference, keep the original embeddings (section V-F1): mAP {100 * r['map']:.1f}%, mnDCG "
                  f"{100 * r['mndcg']:.1f}%, linkage {100 * r['linkage']:.1f}%. Retrieval is then the original "
                  "system's, but every anonymized image stays linked to its original.", ""]
    for degree in sorted({r["degree"] for r in scenarios}):
        tag = percent(degree)
        tables = results / f"tables_{tag}.md"
        if tables.is_file():
            lines += [tables.read_text().replace("## ", "### "), ""]
        lines += ["95% bootstrap confidence intervals (over queries) and linkage rate:", "",
                  "| Model | Method | Queries | mAP | mAP 95% CI | mnDCG | mnDCG 95% CI | linkage |", "|" + "---|" * 8]
        for r in (r for r in scenarios if r["degree"] == degree):
            lines.append(
                f"| {MODEL_LABELS.get(r['model'], r['model'])} | {r['method']} | {r['queries']} | "
                f"{100 * r['map']:.1f} | {100 * r['map_low']:.1f}-{100 * r['map_high']:.1f} | {100 * r['mndcg']:.1f} | "
                f"{100 * r['mndcg_low']:.1f}-{100 * r['mndcg_high']:.1f} | {100 * r['linkage']:.1f} |")
        lines.append("")
        heatmap = results / f"correlation_{tag}.png"
        if heatmap.is_file():
            lines += [f"![Pearson correlation of all metrics across models, {tag}% anonymization]"
                      f"({_copy(heatmap, figures)})", ""]
    return lines


def _trends_section(scenarios: list[dict], downstream: list[dict], figures: Path) -> list[str]:
    if len({r["degree"] for r in scenarios}) < 2:
        return []
    lines = ["## Trends over the anonymization degree", ""]
    for metric in ("map", "mndcg"):
        for kind in ("original", "anonymized"):
            path = figures / f"trend_{metric}_{kind}.png"
            label = {"map": "mAP", "mndcg": "mnDCG"}[metric]
            degree_trend([r for r in scenarios if r["queries"] == kind], metric, path,
                         title=f"{label} with {kind} query images")
            lines += [f"![{label} by degree, {kind} queries](figures/{path.name})", ""]
    if downstream:
        degree_trend(downstream, "knn", figures / "trend_knn.png", title="k-NN accuracy on anonymized data")
        lines += ["![k-NN accuracy by degree](figures/trend_knn.png)", ""]
    return lines


def _anonymization_section(stage_dir: Path, figures: Path, originals: bool) -> list[str]:
    """The anonymize stage's summary and figures; without ``originals`` only an example sheet that the stage
    drew without its original column (as its report.json records)."""
    if not stage_dir.is_dir():
        return []
    lines = ["## Anonymization", ""]
    summary = stage_dir / "report.md"
    if summary.is_file():
        lines += [summary.read_text().replace("# ", "### "), ""]
    pngs = sorted(stage_dir.glob("*.png"))
    if not originals:
        details = stage_dir / "report.json"
        drawn_without = details.is_file() and json.loads(details.read_text()).get("example_sheet_originals") is False
        shown = [p for p in pngs if p.name == _SHEET and drawn_without]
        if len(shown) < len(pngs):
            lines += [f"The example sheet shows original images and is left out (`report.originals` is False). "
                      f"To draw one without them, delete `anonymize/{DONE}` and run the anonymize stage again "
                      "with `--config.report.originals=False` (the detections are cached).", ""]
        pngs = shown
    lines += [f"![{png.stem.replace('_', ' ')}]({_copy(png, figures)})" for png in pngs]
    return [*lines, ""]


def _attention_section(folder: Path, figures: Path, originals: bool) -> list[str]:
    """Attention maps by the view they were drawn on (``attention/<view>/``); the original view only with
    ``originals``."""
    views = sorted(p for p in folder.iterdir() if p.is_dir() and any(p.glob("*.png"))) if folder.is_dir() else []
    if not views:
        return []
    lines = ["## Attention maps", "", "Last-layer CLS attention of every head on validation images.", ""]
    for view in views:
        if view.name == ORIGINAL and not originals:
            lines += ["Maps drawn on original images are left out (`report.originals` is False). To draw them "
                      f"on anonymized images, delete `embeddings/{DONE}` and run the embed stage again with "
                      "`--config.report.originals=False` (finished embeddings are kept).", ""]
            continue
        lines += ["On the original images:" if view.name == ORIGINAL else f"On the images anonymized as `{view.name}`:",
                  ""]
        lines += [f"![{p.stem.replace('_', ' ')}]({_copy(p, figures)})" for p in sorted(view.glob("*.png"))]
        lines.append("")
    return lines


def _training_section(train_dir: Path, figures: Path) -> list[str]:
    logs = {p.parent.name: p for p in sorted(train_dir.glob("*/*.jsonl"))} if train_dir.is_dir() else {}
    if not logs or not training_curves(logs, figures / "training_loss.png"):
        return []
    return ["## Training", "", "![Training loss of every model](figures/training_loss.png)", ""]



def _copy(path: Path, figures: Path) -> str:
    """Copy a figure beside the report; the relative link to it."""
    target = figures / f"{path.parent.name}_{path.name}"
    shutil.copyfile(path, target)
    return f"figures/{target.name}"
