"""Analysis of results. Computing (for the evaluate stage): correlations between metrics across models and the
per-degree summary. Rendering (for the report stage): tables, figures, findings and the HTML page."""

from anonjax.analysis.correlation import (
    correlation_csv,
    load_correlation,
    metrics_across_models,
    pearson_matrix,
    with_accuracy,
)
from anonjax.analysis.summary import degree_summary
from anonjax.analysis.tables import downstream_table, interval_table, scenario_table

__all__ = ["correlation_csv", "degree_summary", "downstream_table", "interval_table", "load_correlation",
           "metrics_across_models", "pearson_matrix", "scenario_table", "with_accuracy"]
