"""The sections of the study report (Markdown, with the figures they link drawn into ``figures/``), rendered from
the results the evaluate and privacy stages computed and the files the other stages left in the work directory.
Every number is one those stages computed; text from data (paths, reasons) enters through ``literal``."""

from __future__ import annotations

import json
from pathlib import Path

from anonjax.analysis import downstream_table, interval_table, load_correlation, scenario_table
from anonjax.analysis.findings import findings
from anonjax.analysis.markdown_text import literal
from anonjax.analysis.plots import correlation_heatmap, degree_trend, privacy_utility_chart, training_curves
from anonjax.analysis.privacy_utility import RESIDUALS, front_sentence, pareto_front, points, residual_column
from anonjax.analysis.tables import model_label
from anonjax.errors import DatasetError
from anonjax.fingerprint import DONE
from anonjax.layout import NO_ANONYMIZATION, ORIGINAL, WorkDir, percent
from anonjax.paths import copy_file

_NAMES = WorkDir(Path())  # paths relative to the work directory, as a report names them


def scale_section(settings: dict) -> list[str]:
    """What produced the numbers, first: backbone, resolution, training, sizes, and whether they demonstrate the
    pipeline at toy scale rather than measure anything about real data."""
    lines = ["## Scale of this study", ""]
    scale = settings.get("scale")
    if settings.get("builtin"):
        lines.append("The embeddings are the built-in set made by code (no model, no images): the numbers "
                     "demonstrate the evaluation, not a finding.")
    elif scale:
        weights = f"continued from the released `{scale['pretrained']}` weights" if scale["pretrained"] else \
            "trained from scratch"
        lines.append(f"Backbone `{scale['backbone']}`, {weights} for {scale['steps']:,} steps of {scale['batch']} "
                     f"images; images are fitted into a {scale['canvas']} px canvas and the model sees them at "
                     f"{scale['input']} x {scale['input']} px.")
    else:
        lines.append("The embeddings were brought from elsewhere; their model and training are not recorded here.")
    splits = " + ".join(f"`{s}`" for s in settings["splits"])
    lines.append(f"Retrieval: {settings['n']:,} queries against a database of the same {settings['n']:,} images "
                 f"({splits}); k = {settings['k']} relevant items per query.")
    if settings.get("toy"):
        lines.append("**These numbers demonstrate the pipeline at toy scale**: a model this small or this briefly "
                     "trained, or a set this small, says little about a real archive.")
    lines.append("")
    lines += [f"**Warning:** {w}" for w in settings.get("warnings", ())]
    return [*lines, ""] if settings.get("warnings") else lines


def findings_section(summary: dict) -> list[str]:
    lines = ["## What this means", "",
             "Every score is compared with the Unadapted model's retrievals on the original images (the ground "
             "truth). Two controls say how much a number means: the chance level (what a random ranking scores) and "
             "the control model (the Unadapted recipe retrained with another seed: the retraining noise). "
             "Differences are tested by a paired bootstrap over queries; one inside its 95% interval is reported "
             "as indistinguishable.", ""]
    for degree in summary["degrees"]:
        lines += [f"At {percent(degree['degree'])}% anonymization:", ""]
        lines += [f"- {sentence}" for sentence in findings(degree)]
        lines.append("")
    if nested := [n for n in summary.get("nested", ()) if n["separated"] and n["diff"] > 0]:
        lines += ["The boxes of a lower degree are a subset of a higher degree's, yet for the Unadapted model with "
                  "original queries more anonymization retrieved better beyond the noise for: "
                  + ", ".join(f"{n['method']} {percent(n['degree'])}% over {percent(n['lower'])}% "
                              f"({100 * n['diff']:+.1f} mAP points)" for n in nested) + ".", ""]
    return lines


def _settings_text(settings: dict) -> list[str]:
    """What the scores mean, from the settings the evaluate stage recorded."""
    k, n = settings["k"], settings["n"]
    splits = " + ".join(f"`{s}`" for s in settings["splits"])
    text = (f"Each scenario queries the {n} images of {splits} against the same {n} images as database. "
            f"A query's relevant set is the top {k} ({100 * settings['fraction']:g}%) of the Unadapted model's "
            "ranking on the original images; mnDCG weighs every item by that model's cosine similarity. ")
    if settings["exclude_self"]:
        text += "A query's own image is left out of its ranking"
        text += (" (automatically: kept, it would be more than 5% of its relevant set). "
                 if settings.get("self_matches") == "auto" else ". ")
    elif k == 1:
        text += ("A query's own image stays in its ranking, so its relevant set is its own image alone: at this size "
                 "the scores measure little more than whether a query finds itself. ")
    else:
        text += f"A query's own image stays in its ranking and is one of its {k} relevant items ({100 / k:.1f}%"
        text += ("): at this size self-matches weigh heavily in every score. " if 100 / k > 5 else "). ")
    text += f"Intervals are 95% percentile-bootstrap intervals over queries ({settings['n_bootstrap']} resamples)."
    if settings["train_split"]:
        text += (f" The k-NN and linear probes are fitted on split `{settings['train_split']}` and tested on "
                 f"`{settings['test_split']}` ({settings['n_test']} images; accuracies carry 95% Wilson intervals).")
    return [text, ""]


def results_section(work: WorkDir, summary: dict, scenarios: list[dict], downstream: list[dict],
                     reference: dict | None, figures: Path) -> list[str]:
    lines = ["## Results", "", *_settings_text(summary["settings"])]
    if reference:
        lines += [f"Reference, keep the original embeddings (section V-F1): mAP {100 * reference['map']:.1f}%, "
                  f"mnDCG {100 * reference['mndcg']:.1f}%, linkage {100 * reference['linkage']:.1f}%. Retrieval is "
                  "then the original system's, but every anonymized image stays linked to its original.", ""]
    k = summary["settings"]["k"]
    none_rows = [r for r in scenarios if r["method"] == NO_ANONYMIZATION]
    if none_rows:
        lines += ["### Without anonymization", "", "Each model with original queries against the original database: "
                  "100% for the Unadapted model by definition; for the control, the retraining noise; for an adapted "
                  "model, the drift its adaptation caused.", "", interval_table(none_rows)]
    for degree in summary["degrees"]:
        tag = percent(degree["degree"])
        rows = [r for r in scenarios if r["degree"] == degree["degree"] and r["method"] != NO_ANONYMIZATION]
        down = [r for r in downstream if r["degree"] == degree["degree"]]
        marks = degree.get("marks", [])
        lines += [f"### Retrieval at {tag}% anonymization (mAP, mnDCG{k}; %)", "",
                  scenario_table(rows, k=k, none_rows=none_rows, marks=marks),
                  "Bold: best in its column and separated from the runner-up beyond the noise (paired bootstrap).", ""]
        if down:
            lines += [f"### Downstream accuracy at {tag}% anonymization (%)", "", downstream_table(down, marks),
                      "Bold: best in its column, its 95% Wilson interval above the runner-up's.", ""]
        lines += ["95% bootstrap confidence intervals (over queries) and linkage rate:", "", interval_table(rows)]
        if degree["correlation"]:
            try:
                names, matrix = load_correlation(work.correlation(degree["degree"]))
            except (OSError, ValueError) as e:
                raise DatasetError(f"{e}: run the evaluate stage again") from None
            heatmap = figures / f"correlation_{tag}.png"
            correlation_heatmap(names, matrix, heatmap,
                                title=f"Pearson correlation of metrics across models, {tag}% anonymization")
            lines += [f"![Pearson correlation of all metrics across models, {tag}% anonymization]"
                      f"(figures/{heatmap.name})", ""]
    return lines


def trends_section(scenarios: list[dict], downstream: list[dict], figures: Path) -> list[str]:
    scenarios = [r for r in scenarios if r["method"] != NO_ANONYMIZATION]
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


def anonymization_section(work: WorkDir, figures: Path, originals: bool) -> list[str]:
    """The anonymize stage's summary and figures; without ``originals`` only a summary and an example sheet
    that the stage made for sharing (as its report.json records)."""
    stage_dir = work.anonymize
    if not stage_dir.is_dir():
        return []
    lines = ["## Anonymization", ""]
    summary = work.anonymize_summary
    details = work.anonymize_report
    made = json.loads(details.read_text()) if details.is_file() else {}
    rerun = (f"delete `{_NAMES.anonymize / DONE}` and run the anonymize stage again with "
             "`--config.report.originals=False` (the detections are cached).")
    if summary.is_file() and (originals or made.get("originals") is False):
        lines += [summary.read_text().replace("# ", "### "), ""]
    elif summary.is_file():
        lines += [f"The anonymization summary names source files and is left out (`report.originals` is False). "
                  f"To write one without names, {rerun}", ""]
    pngs = sorted(stage_dir.glob("*.png"))
    if not originals:
        shown = [p for p in pngs if p.name == work.example_sheet.name and made.get("example_sheet_originals") is False]
        if len(shown) < len(pngs):
            lines += [f"The example sheet shows original images and is left out (`report.originals` is False). "
                      f"To draw one without them, {rerun}", ""]
        if shown:
            lines += ["Boxes that a degree below 100% leaves as they are are covered grey and crossed out.", ""]
        pngs = shown
    lines += [f"![{png.stem.replace('_', ' ')}]({_copy(png, figures)})" for png in pngs]
    return [*lines, ""]


def attention_section(work: WorkDir, figures: Path, originals: bool) -> list[str]:
    """Attention maps by the view they were drawn on (``attention/<view>/``); the original view only with
    ``originals``."""
    folder = work.attention
    views = sorted(p for p in folder.iterdir() if p.is_dir() and any(p.glob("*.png"))) if folder.is_dir() else []
    if not views:
        return []
    lines = ["## Attention maps", "", "Last-layer CLS attention of every head on validation images.", ""]
    for view in views:
        if view.name == ORIGINAL and not originals:
            lines += ["Maps drawn on original images are left out (`report.originals` is False). To draw them "
                      f"on anonymized images, delete `{_NAMES.embeddings / DONE}` and run the embed stage again with "
                      "`--config.report.originals=False` (finished embeddings are kept).", ""]
            continue
        lines += ["On the original images:" if view.name == ORIGINAL else f"On the images anonymized as `{view.name}`:",
                  ""]
        lines += [f"![{p.stem.replace('_', ' ')}]({_copy(p, figures)})" for p in sorted(view.glob("*.png"))]
        lines.append("")
    return lines


def training_section(work: WorkDir, figures: Path) -> list[str]:
    """The training loss of every model, from the train stage's logs."""
    runs = sorted(run.name for run in work.train.iterdir()) if work.train.is_dir() else []
    logs = {name: work.training_log(name) for name in runs if work.training_log(name).is_file()}
    if not logs or not training_curves(logs, figures / "training_loss.png"):
        return []
    return ["## Training", "", "![Training loss of every model](figures/training_loss.png)", ""]


def _copy(path: Path, figures: Path) -> str:
    """Copy a figure beside the report; the relative link to it."""
    target = figures / f"{path.parent.name}_{path.name}"
    copy_file(path, target)
    return f"figures/{target.name}"


_PRIVACY_COLUMNS = {"text_words_readable": "words read", "text_words_readable_in_boxes": "words read in boxes",
                    "text_char_similarity": "char. similarity", "text_char_similarity_in_boxes": "similarity in boxes",
                    "faces_redetected": "faces found", "codes_decoded": "codes decoded", "mrz_recovered": "MRZ lines"}
_RECALL_LABELS = {"text_lines": "text detector: drawn lines found", "faces": "face detector: drawn faces found",
                  "codes": "code detector: drawn codes found", "words_before": "drawn words OCR reads on the original",
                  "words_after": "drawn words OCR still reads after {method} at 100%"}


def _cell(row: dict, column: str) -> str:
    """``value [lo, hi] (n)`` in percent, or a dash where the measure is missing."""
    if row.get(column) is None:
        return "—"
    return (f"{100 * row[column]:.1f} [{100 * row[f'{column}_lo']:.1f}, {100 * row[f'{column}_hi']:.1f}] "
            f"({row[f'{column}_n']})")


def privacy_section(privacy: dict, scenarios: list[dict], figures: Path) -> list[str]:
    """The privacy stage's results: what the anonymized images still give away per method x degree, the linkage
    rate per model, the privacy-utility chart with its front, and the detectors' recall on synthetic pages."""
    settings, rows = privacy["settings"], privacy["rows"]
    lines = ["## Privacy: what the anonymized images still give away", "",
             f"Measured on {settings['images']} validation image(s) (a seeded sample of at most "
             f"{settings['requested']}) with an attacker's tools: OCR ({settings['ocr']}), MTCNN face detection and "
             f"{settings['codes']}, on the whole anonymized image against its original. Each cell is the pooled "
             "fraction in %, its 95% interval (Wilson's, at the effective sample size of the images: the words of "
             "a page share its fate) and the number of items pooled (words, lines, faces, codes); a dash is a "
             "measure that could not be taken or had nothing to count (reasons below), never 0.", ""]
    variants = list({(r["method"], r["degree"]): r for r in rows}.values())
    lines += ["| method | degree | " + " | ".join(_PRIVACY_COLUMNS.values()) + " |",
              "|---" * (2 + len(_PRIVACY_COLUMNS)) + "|"]
    for r in variants:
        lines.append(f"| {r['method']} | {percent(r['degree'])}% | "
                     + " | ".join(_cell(r, c) for c in _PRIVACY_COLUMNS) + " |")
    lines.append("")
    reasons = sorted({f"{r['method']} {percent(r['degree'])}%: {part}" for r in rows
                      for part in (r.get("missing") or "").split("; ") if part and not part.startswith("linkage")})
    if reasons:
        lines += ["Missing or empty:", "", *(f"- {literal(reason)}" for reason in reasons), ""]
    linked = [r for r in rows if r.get("model")]
    if linked:
        lines += ["Linkage rate (the evaluate stage's: anonymized images whose nearest original is their own):", "",
                  "| model | method | degree | linkage |", "|---|---|---|---|"]
        lines += [f"| {model_label(r['model'])} | {r['method']} | {percent(r['degree'])}% | {_cell(r, 'linkage')} |"
                  for r in linked]
        lines.append("")
    column = residual_column(rows)
    pts = points(rows, scenarios, column) if column else []
    if pts:
        front = pareto_front(pts)
        chart = figures / "privacy_utility.png"
        source = settings.get("source") or "data"
        privacy_utility_chart(pts, front, chart, xlabel=RESIDUALS[column],
                              title=f"Privacy-utility trade-off ({source})")
        lines += [f"![Privacy-utility trade-off: {RESIDUALS[column]} against mnDCG](figures/{chart.name})", "",
                  front_sentence(pts, column), ""]
    else:
        lines += ["No privacy-utility chart: no setting has both a residual measure (text or faces) and a retrieval "
                  "score.", ""]
    if privacy.get("recall"):
        lines += ["### Detectors against the drawn ground truth (synthetic documents)", "",
                  "| measure | % [95% interval] (items) |", "|---|---|"]
        for r in privacy["recall"]:
            label = _RECALL_LABELS.get(r["measure"], r["measure"]).format(method=r["method"])
            value = "—" if r["value"] is None else \
                f"{100 * r['value']:.1f} [{100 * r['value_lo']:.1f}, {100 * r['value_hi']:.1f}] ({r['n']})"
            lines.append(f"| {label} | {value} |")
        lines.append("")
        lines += ["- " + literal(f"{r['measure']} {r['method']}: {r['missing']}".replace("  ", " "))
                  for r in privacy["recall"] if r["missing"]]
        lines.append("")
    return lines
