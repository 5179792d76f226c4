"""Analysis of results: correlations between metrics across models, and tables in the paper's layout."""

from anonjax.analysis.correlation import metrics_across_models, pearson_matrix, save_correlation
from anonjax.analysis.tables import downstream_table, scenario_table

__all__ = ["downstream_table", "metrics_across_models", "pearson_matrix", "save_correlation", "scenario_table"]
