"""The KoLeo regularizer: spread the batch's features uniformly by pushing nearest neighbours apart."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def koleo_loss(x: jax.Array, eps: float = 1e-8, *, group_size: int = 0) -> jax.Array:
    """-mean log(‖x̂_i - x̂_nn(i) + eps‖ + eps), x̂ = x / max(‖x‖, eps), as the official KoLeo.

    nn(i) is the other sample of i's group with the largest inner product (cosine similarity). Groups are
    ``group_size`` consecutive rows (0: one group, the whole batch) and the loss is the mean of the groups'
    losses: the official code computes KoLeo per GPU, and its strength depends on the size of the set
    (nearest neighbours are closer in a larger one).
    """
    n = x.shape[0]
    size = group_size or n
    if n % size:
        raise ValueError(f"KoLeo groups of {group_size} rows need a batch that is a multiple of it, got {n} rows")
    return jnp.mean(jax.vmap(lambda g: _koleo(g, eps))(x.reshape(n // size, size, *x.shape[1:])))


def _koleo(x: jax.Array, eps: float) -> jax.Array:
    x = x.astype(jnp.float32)
    x = x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), eps)
    dots = jnp.matmul(x, x.T, precision=jax.lax.Precision.HIGHEST)  # float32 also on a TPU
    n = x.shape[0]
    dots = jnp.where(jnp.eye(n, dtype=bool), -1.0, dots)
    nearest = x[jnp.argmax(dots, axis=1)]
    distance = jnp.linalg.norm(x - nearest + eps, axis=-1)
    return -jnp.mean(jnp.log(distance + eps))
