"""Exact cosine top-k: hand-made answers, ties and chunks (``test_ranking_backends``: backends and shards)."""

import jax
import jax.numpy as jnp
import numpy as np

from anonjax.retrieval import topk_cosine
from anonjax.retrieval.keys import canonical_zeros


def reference_topk(queries: np.ndarray, database: np.ndarray, k: int):
    """float64 cosines; a stable sort of -score gives descending order with ties by lower index."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    db = database / np.linalg.norm(database, axis=1, keepdims=True)
    scores = q.astype(np.float64) @ db.T.astype(np.float64)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


def test_hand_made_ranking():
    # Angles of the database rows from the query (along x): 0, 90, 45, 180, 60 degrees, so the
    # cosines are 1, 0, 0.707, -1, 0.5 and the ranking is rows 0, 2, 4, 1, 3.
    angles = np.deg2rad([0, 90, 45, 180, 60])
    database = np.stack([np.cos(angles), np.sin(angles)], axis=1) * [[1], [2], [3], [4], [5]]
    scores, indices = topk_cosine(np.array([[3.0, 0.0]]), database, 4)
    assert indices.tolist() == [[0, 2, 4, 1]]
    np.testing.assert_allclose(scores, [[1, np.sqrt(0.5), 0.5, 0]], atol=1e-6)
    assert scores.dtype == np.float32 and indices.dtype == np.int32


def test_ties_go_to_the_lower_index():
    database = np.array([[0, 1], [1, 0], [2, 0], [0, 3], [5, 0]], np.float32)  # rows 1, 2, 4 tie
    scores, indices = topk_cosine(np.array([[1.0, 0.0], [0.0, 1.0]]), database, 4)
    assert indices.tolist() == [[1, 2, 4, 0], [0, 3, 1, 2]]
    assert scores.tolist() == [[1, 1, 1, 0], [1, 1, 0, 0]]


def test_matches_reference_with_many_exact_ties(exact):
    rng = np.random.default_rng(1)
    queries, database = exact(rng, 37), exact(rng, 301)
    for k in (1, 10, 301):
        scores, indices = topk_cosine(queries, database, k)
        ref_scores, ref_indices = reference_topk(queries, database, k)
        np.testing.assert_array_equal(indices, ref_indices)
        np.testing.assert_array_equal(scores, ref_scores)


def test_matches_reference_on_random_embeddings():
    rng = np.random.default_rng(2)
    queries = rng.standard_normal((50, 24)).astype(np.float32)
    database = rng.standard_normal((700, 24)).astype(np.float32)
    scores, indices = topk_cosine(queries, database, 20)
    ref_scores, ref_indices = reference_topk(queries, database, 20)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-6)
    # Float32 rounding could swap two items closer than 1e-6; these random scores have no such pair.
    np.testing.assert_array_equal(indices, ref_indices)


def test_negative_zero_ties_with_zero():
    scores = jnp.array([[-0.0, 0.0, -0.0, 1.0]])
    _, indices = jax.lax.top_k(canonical_zeros(scores), 3)
    assert np.asarray(indices).tolist() == [[3, 0, 1]]


def test_chunked_equals_unchunked(exact):
    rng = np.random.default_rng(4)
    queries, database = exact(rng, 45), exact(rng, 260)
    whole = topk_cosine(queries, database, 17, chunk_size=45)
    for chunk_size in (1, 7, 16):
        chunked = topk_cosine(queries, database, 17, chunk_size=chunk_size)
        np.testing.assert_array_equal(chunked[0], whole[0])
        np.testing.assert_array_equal(chunked[1], whole[1])
