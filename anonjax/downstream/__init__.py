"""Downstream probes on frozen embeddings: weighted k-NN and a linear classifier."""

from anonjax.downstream.knn import knn_accuracy, knn_predict
from anonjax.downstream.linear import linear_probe_accuracy

__all__ = ["knn_accuracy", "knn_predict", "linear_probe_accuracy"]
