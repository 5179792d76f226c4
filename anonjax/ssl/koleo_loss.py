"""The KoLeo regularizer: spread the batch's features uniformly by pushing nearest neighbours apart."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def koleo_loss(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """-mean log(‖x̂_i - x̂_nn(i) + eps‖ + eps) over the batch, x̂ = x / max(‖x‖, eps), as the official KoLeo.

    nn(i) is the other sample with the largest inner product (cosine similarity).
    """
    x = x.astype(jnp.float32)
    x = x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), eps)
    dots = x @ x.T
    n = x.shape[0]
    dots = jnp.where(jnp.eye(n, dtype=bool), -1.0, dots)
    nearest = x[jnp.argmax(dots, axis=1)]
    distance = jnp.linalg.norm(x - nearest + eps, axis=-1)
    return -jnp.mean(jnp.log(distance + eps))
