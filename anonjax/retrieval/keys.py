"""int32 ranking keys: one integer per score whose ascending order is the descending order of the scores.

Both backends rank by them: sorting int32 keys alone is several times faster on a CPU than sorting floats or
carrying indices, and equal keys (equal scores) go by lower column, the tie rule used everywhere in anonjax.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def canonical_zeros(scores: jax.Array) -> jax.Array:
    """-0.0 -> +0.0, so that equal scores are equal for ``top_k`` (which orders -0.0 below +0.0) too."""
    return jnp.where(scores == 0, jnp.zeros_like(scores), scores)


def ranking_keys(scores: jax.Array) -> jax.Array:
    """int32 keys whose ascending order is the descending order of the (canonical, NaN-free) scores."""
    bits = lax.bitcast_convert_type(scores, jnp.int32)
    return ~jnp.where(bits < 0, bits ^ 0x7FFFFFFF, bits)


def scores_of_keys(keys: np.ndarray) -> np.ndarray:
    """The float32 scores whose ranking keys are ``keys`` (the key map is its own inverse on the bits)."""
    bits = ~np.asarray(keys, np.int32)
    return np.where(bits < 0, bits ^ 0x7FFFFFFF, bits).view(np.float32)
