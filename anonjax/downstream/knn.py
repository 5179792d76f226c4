"""The weighted k-NN classifier of DINO/DINOv2 evaluations, on cosine similarity.

Each of the k nearest training embeddings votes for its class with weight exp(similarity / temperature);
the class with the largest total wins.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

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
    weights = jnp.exp(scores / temperature)
    votes = jnp.einsum("qk,qkc->qc", weights, jax.nn.one_hot(neighbour_labels, num_classes))
    return jnp.argmax(votes, axis=1)


def knn_predict(
    train_emb, train_labels, test_emb, *, k: int = 20, temperature: float = 0.07, chunk_size: int = 1024
) -> np.ndarray:
    """Predicted class of every test embedding."""
    train_emb = np.asarray(train_emb, dtype=np.float32)
    train_labels = _check_labels("train_labels", train_labels, len(train_emb))
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    k = min(k, len(train_emb))
    scores, idx = topk_cosine(test_emb, train_emb, k, chunk_size=chunk_size)
    num_classes = int(train_labels.max()) + 1
    return np.asarray(_vote(scores, train_labels[idx], temperature, num_classes=num_classes))


def knn_accuracy(
    train_emb, train_labels, test_emb, test_labels, k: int = 20, temperature: float = 0.07, *, chunk_size: int = 1024
) -> float:
    """Fraction of test embeddings whose weighted k-NN vote matches their label."""
    test_labels = _check_labels("test_labels", test_labels, len(test_emb))
    pred = knn_predict(train_emb, train_labels, test_emb, k=k, temperature=temperature, chunk_size=chunk_size)
    return float(np.mean(pred == test_labels))
