"""Linkage rate: how often an anonymized embedding's nearest original is its own original."""

import numpy as np
import pytest

from anonjax.retrieval import linkage_rate


def test_crafted_cases():
    originals = np.eye(4, dtype=np.float32)
    assert linkage_rate(originals, originals) == 1.0
    assert linkage_rate(originals[[1, 2, 3, 0]], originals) == 0.0  # every copy finds another original
    # Rows 0 and 1 stay near their originals, rows 2 and 3 point at original 0: 2 of 4 link.
    anonymized = np.array([[1, 0.2, 0, 0], [0.1, 1, 0, 0], [1, 0, 0.3, 0], [1, 0, 0, 0.9]], np.float32)
    assert linkage_rate(anonymized, originals) == 0.5
    assert isinstance(linkage_rate(anonymized, originals), float)


def test_ties_go_to_the_lower_index():
    # Originals 0 and 1 are the same image embedding: copy 1 is equally near both, and the tie goes to
    # original 0, so only copy 0 (and copy 2) link: 2 of 3.
    originals = np.array([[1, 0], [2, 0], [0, 1]], np.float32)
    assert linkage_rate(originals, originals) == pytest.approx(2 / 3)


def test_chunking_does_not_change_the_rate():
    rng = np.random.default_rng(0)
    originals = rng.standard_normal((300, 8)).astype(np.float32)
    anonymized = originals + 0.9 * rng.standard_normal(originals.shape).astype(np.float32)
    whole = linkage_rate(anonymized, originals)
    assert 0.0 < whole < 1.0
    assert linkage_rate(anonymized, originals, chunk_size=7) == whole
