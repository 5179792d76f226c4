"""Retrieval by cosine similarity and its scores: exact top-k, mAP/mnDCG against a pseudo ground
truth with their chance levels and bootstrap intervals, and the linkage risk of anonymized
embeddings."""

from anonjax.retrieval.bootstrap import paired_difference_ci
from anonjax.retrieval.chance import expected_average_precision, expected_ndcg
from anonjax.retrieval.linkage import linkage_rate
from anonjax.retrieval.scenario import ScenarioResult, evaluate_scenario, evaluate_scenarios
from anonjax.retrieval.topk import topk_cosine

__all__ = [
    "ScenarioResult",
    "evaluate_scenario",
    "evaluate_scenarios",
    "expected_average_precision",
    "expected_ndcg",
    "linkage_rate",
    "paired_difference_ci",
    "topk_cosine",
]
