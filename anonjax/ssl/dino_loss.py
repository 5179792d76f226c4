"""The DINO loss on class tokens and the two ways of turning teacher logits into targets.

Centering keeps the teacher from collapsing onto one prototype: either subtract an EMA of the batch
mean logits before the softmax (``softmax_center`` + ``update_center``) or balance prototype usage
over the batch with a few Sinkhorn-Knopp iterations (``sinkhorn_knopp``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def softmax_center(teacher_logits: jax.Array, center: jax.Array, temperature) -> jax.Array:
    """softmax((logits - center) / temperature) over the prototypes (last axis)."""
    return jax.nn.softmax((teacher_logits - center) / temperature, axis=-1)


def update_center(center: jax.Array, teacher_logits: jax.Array, momentum, *, weights=None) -> jax.Array:
    """EMA of the mean teacher logit vector: ``center * momentum + batch_mean * (1 - momentum)``.

    ``teacher_logits`` is [..., K]; every leading position counts once, or with ``weights`` [...]
    (e.g. only the masked patches of iBOT). Under ``jit`` of global arrays the mean covers all devices.
    """
    flat = teacher_logits.reshape(-1, teacher_logits.shape[-1])
    if weights is None:
        batch_center = jnp.mean(flat, axis=0, keepdims=True)
    else:
        w = weights.reshape(-1, 1).astype(flat.dtype)
        batch_center = jnp.sum(flat * w, axis=0, keepdims=True) / jnp.maximum(jnp.sum(w), 1.0)
    return center * momentum + batch_center * (1 - momentum)


def sinkhorn_knopp(
    teacher_logits: jax.Array,
    temperature,
    n_iterations: int = 3,
    axis_name: str | None = None,
    *,
    valid: jax.Array | None = None,
) -> jax.Array:
    """Sinkhorn-Knopp targets [..., K] whose rows sum to 1, as the official ``sinkhorn_knopp_teacher``.

    The assignment matrix is scaled alternately so that every prototype receives 1/K of the mass and
    every sample 1/B, the samples being every leading position (e.g. [micro-batches, rows, K], which stays in
    that layout). With ``axis_name`` (inside ``shard_map``/``pmap``) the sums span all devices, as the official
    all-reduce does. ``valid`` [...] bool drops samples (padding, unmasked patches): they take no mass and get
    zero rows, and B counts only valid samples.
    """
    logits = teacher_logits.astype(jnp.float32) / temperature
    if valid is not None:
        logits = jnp.where(valid[..., None], logits, -jnp.inf)
    samples = tuple(range(logits.ndim - 1))

    def psum(x):
        return x if axis_name is None else jax.lax.psum(x, axis_name)

    # exp(x - max) only rescales Q by a constant, which the first normalization removes exactly.
    q = jnp.exp(logits - psum_max(jnp.max(logits), axis_name))
    n_samples = psum(jnp.asarray(math.prod(q.shape[:-1]) if valid is None else jnp.sum(valid), jnp.float32))
    n_prototypes = q.shape[-1]
    q = q / psum(jnp.sum(q))
    for _ in range(n_iterations):
        q = q / psum(jnp.sum(q, axis=samples, keepdims=True)) / n_prototypes
        q = q / _safe(jnp.sum(q, axis=-1, keepdims=True)) / n_samples
    return q * n_samples


def psum_max(x: jax.Array, axis_name: str | None) -> jax.Array:
    """Maximum over devices (identity without an axis name); gradients do not flow through it."""
    x = jax.lax.stop_gradient(x)
    return x if axis_name is None else jax.lax.pmax(x, axis_name)


def _safe(x: jax.Array) -> jax.Array:
    return jnp.where(x > 0, x, 1.0)


def dino_loss(student_logits: jax.Array, teacher_probs: jax.Array, student_temp: float = 0.1) -> jax.Array:
    """-Σ_s Σ_t mean_b Σ_k t · log_softmax(s / τ), as the official ``DINOLoss.forward``.

    ``student_logits`` [S, B, K] (S student crops), ``teacher_probs`` [T, B, K] (T teacher crops).
    """
    log_p = jax.nn.log_softmax(student_logits.astype(jnp.float32) / student_temp, axis=-1)
    # Σ_s Σ_t Σ_k t·log p  ==  Σ_k (Σ_t t)(Σ_s log p): one product instead of S·T.
    cross = jnp.sum(jnp.sum(teacher_probs, axis=0) * jnp.sum(log_p, axis=0), axis=-1)  # [B]
    return -jnp.mean(cross)
