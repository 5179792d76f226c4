"""Retrieval by cosine similarity and its scores: exact top-k, mAP/mnDCG against a pseudo ground
truth, and the linkage risk of anonymized embeddings."""

from anonjax.retrieval.linkage import linkage_rate
from anonjax.retrieval.scenario import ScenarioResult, evaluate_scenario
from anonjax.retrieval.topk import topk_cosine

__all__ = ["ScenarioResult", "evaluate_scenario", "linkage_rate", "topk_cosine"]
