"""The weighted k-NN classifier of DINO/DINOv2 evaluations, on cosine similarity.

Each of the k nearest training embeddings votes for its class with weight exp(similarity / temperature);
the class with the largest total wins.
"""

from __future__ import annotations

import math
from numbers import Real

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from anonjax.backend import Backend
from anonjax.retrieval import topk_cosine


def _check_labels(name: str, labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"{name} must be a 1-D array of {n} labels, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise ValueError(f"{name} must hold non-negative integer class ids")
    return labels.astype(np.int32)


@jax.jit(static_argnames=("num_classes",))
def _vote(scores, neighbour_labels, temperature, *, num_classes: int):
    # exp((s - max s) / T) is exp(s / T) divided by one positive number per query: the same winner, but no
    # overflow to inf at small temperatures (exp(1 / 0.01) is already beyond float32).
    weights = jnp.exp((scores - scores.max(axis=1, keepdims=True)) / temperature)
    votes = jnp.einsum("qk,qkc->qc", weights, jax.nn.one_hot(neighbour_labels, num_classes))
    return jnp.argmax(votes, axis=1)


def knn_predict(
    train_emb, train_labels, test_emb, *, k: int = 20, temperature: float = 0.07, chunk_size: int = 1024,
    backend: Backend = "numpy", mesh: Mesh | None = None,
) -> np.ndarray:
    """Predicted class of every test embedding; ``backend`` and ``mesh`` (which splits the training embeddings
    over its devices) as in ``topk_cosine``."""
    train_emb = np.asarray(train_emb)  # not cast: topk_cosine normalizes float64 rows before float32
    train_labels = _check_labels("train_labels", train_labels, len(train_emb))
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not 0 < temperature < math.inf:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    k = min(k, len(train_emb))
    scores, idx = topk_cosine(test_emb, train_emb, k, chunk_size=chunk_size, backend=backend, mesh=mesh)
    num_classes = int(train_labels.max()) + 1
    return np.asarray(_vote(scores, train_labels[idx], temperature, num_classes=num_classes))


def knn_accuracy(
    train_emb, train_labels, test_emb, test_labels, k: int = 20, temperature: float = 0.07, *, chunk_size: int = 1024,
    backend: Backend = "numpy", mesh: Mesh | None = None,
) -> float:
    """Fraction of test embeddings whose weighted k-NN vote matches their label."""
    test_labels = _check_labels("test_labels", test_labels, len(test_emb))
    pred = knn_predict(train_emb, train_labels, test_emb, k=k, temperature=temperature, chunk_size=chunk_size,
                       backend=backend, mesh=mesh)
    return float(np.mean(pred == test_labels))
