"""Stage ``report``: ``report/report.md`` and a static ``report/index.html`` (opens from disk) rendered from
the files the other stages left in the work directory, and from nothing else: the evaluate stage's results
(``results/summary.json``, ``scenarios.json``, ``downstream.json``, ``reference.json`` and the
``correlation_<percent>.csv`` files that ``summary.json`` names) become findings, tables with confidence
intervals, correlation heatmaps and degree trends; the privacy stage's ``results/privacy.json``, when present,
becomes the privacy table, the privacy-utility chart with its Pareto front (``anonjax.analysis.privacy_utility``)
and the "what this means" sentence on the most useful setting below ``report.max_readable``; the anonymize
stage's summary and figures, the attention maps and the training logs follow. Every number is one the evaluate
or privacy stage computed; this stage only lays it out (and picks the front and the setting it names).

With ``report.originals`` False the report shows no original image and no source name: only an example sheet
and an anonymize summary that the anonymize stage made for sharing (no original column, the boxes a degree
leaves as they are covered, files left out counted, not named) and attention maps drawn on images with every
detected box masked, named by number; figures of an earlier report are removed, so the ``report/`` folder can
be shared as it is. Text from data (paths, reasons) enters the Markdown through ``literal``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import ml_collections

from anonjax import hosts
from anonjax.analysis.html import markdown_to_html
from anonjax.analysis.markdown_text import literal
from anonjax.analysis.privacy_utility import best_below
from anonjax.analysis.report_sections import (
    anonymization_section,
    attention_section,
    findings_section,
    privacy_section,
    results_section,
    scale_section,
    training_section,
    trends_section,
)
from anonjax.config_checks import ConfigError, report_originals
from anonjax.errors import DatasetError, MissingInputError
from anonjax.files import save_text
from anonjax.layout import WorkDir

log = logging.getLogger(__name__)
TITLE = "anonjax report: the impact of anonymization on image retrieval"


MAX_READABLE = 0.01


def validate(config: ml_collections.ConfigDict) -> None:
    """The report reads only what other stages wrote; ``report.originals`` and ``report.max_readable`` are
    checked up front."""
    report_originals(config)
    max_readable(config)


def max_readable(config: ml_collections.ConfigDict) -> float:
    """``report.max_readable``: the residual readable text (a fraction in [0, 1]) below which "what this means"
    names the most useful setting; ``MAX_READABLE`` where the config has none."""
    value = config.get("report", {}).get("max_readable", MAX_READABLE)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError("report.max_readable", f"must be a fraction in [0, 1], got {value!r}")
    return float(value)


def run(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> str:
    """Write the report from whatever results the work directory holds (the main process of a multi-host run;
    the others wait for it); a one-line account of it."""
    work = WorkDir(workdir)
    if not hosts.main_decides(lambda: all(path.is_file() for path in (work.summary, work.scenarios))):
        raise MissingInputError(f"no results in {work.results} ({work.summary.name} and {work.scenarios.name}): run "
                                "the evaluate stage first")
    hosts.on_main("report", _write, config, work)
    return f"report in {work.report_html}"


def _write(config: ml_collections.ConfigDict, work: WorkDir) -> None:
    figures = work.report_figures
    figures.rmtree(missing_ok=True)  # a figure of an earlier report (an original image) never lingers
    figures.mkdir(parents=True, exist_ok=True)
    originals = report_originals(config)
    summary = _load(work.summary)
    scenarios = _load(work.scenarios)
    downstream = _load(work.downstream) if work.downstream.is_file() else []
    reference = _load(work.reference) if work.reference.is_file() else None
    privacy = _load(work.privacy_results) if work.privacy_results.is_file() else None

    md = [f"# {TITLE}", "", f"Work directory: {literal(work.root.resolve())}", ""]
    md += scale_section(summary["settings"])
    md += findings_section(summary)
    if privacy is not None:
        md += [f"Privacy: {best_below(privacy['rows'], scenarios, max_readable(config))}", ""]
    md += results_section(work, summary, scenarios, downstream, reference, figures)
    if privacy is not None:
        md += privacy_section(privacy, scenarios, figures)
    md += trends_section(scenarios, downstream, figures)
    md += anonymization_section(work, figures, originals)
    md += attention_section(work, figures, originals)
    md += training_section(work, figures)
    md += ["## Files", "", "All numbers are also in `results/scenarios.csv`, `results/downstream.csv`, "
           "`results/correlation_<percent>.csv`, `results/privacy.csv`, `results/privacy_recall.csv` and "
           "`results/*.json` for further analysis.", ""]
    text = "\n".join(md)
    save_text(work.report_markdown, text)
    save_text(work.report_html, markdown_to_html(text, TITLE))
    log.info("report: wrote %s", work.report_html)


def _load(path: os.PathLike) -> Any:
    """A JSON results file; a DatasetError names it when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path} is not a readable JSON file ({e}): run the evaluate stage again") from None
