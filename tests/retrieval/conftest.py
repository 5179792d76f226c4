"""Embeddings whose cosines are exact in float32 under any summation order.

Every row has exactly four entries of +-1 (norm 2), so unit rows hold 0 and +-0.5 and every cosine
is a multiple of 1/4: results cannot depend on how a matmul is blocked, so chunked, sharded and
reference computations must agree bit for bit, and there are many exact ties.
"""

import numpy as np
import pytest


def exact_embeddings(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    x = np.zeros((n, dim), np.float32)
    for row in x:
        row[rng.choice(dim, 4, replace=False)] = rng.choice([-1.0, 1.0], 4)
    return x


@pytest.fixture(scope="session")
def exact():
    return exact_embeddings
