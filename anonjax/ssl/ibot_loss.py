"""The iBOT loss: the student predicts the teacher's patch targets at positions it saw masked."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def ibot_loss(
    student_patch_logits: jax.Array, teacher_patch_probs: jax.Array, masks: jax.Array, student_temp: float = 0.1
) -> jax.Array:
    """Per image, the mask-weighted mean over patches of -Σ_k t·log_softmax(s/τ); then the mean over images.

    ``student_patch_logits`` and ``teacher_patch_probs`` are [B, N, K], ``masks`` bool [B, N]. An image
    without masked patches contributes 0 but still counts in the mean, as in the official
    ``iBOTPatchLoss.forward``.
    """
    log_p = jax.nn.log_softmax(student_patch_logits.astype(jnp.float32) / student_temp, axis=-1)
    per_patch = jnp.sum(teacher_patch_probs * log_p, axis=-1)  # [B, N]
    m = masks.astype(jnp.float32)
    per_image = jnp.sum(per_patch * m, axis=-1) / jnp.maximum(jnp.sum(m, axis=-1), 1.0)
    return -jnp.mean(per_image)


def ibot_loss_gathered(
    student_logits: jax.Array, teacher_probs: jax.Array, weights: jax.Array, n_images: int,
    student_temp: float = 0.1,
) -> jax.Array:
    """``ibot_loss`` on masked patches gathered into a fixed-size buffer, as the official ``forward_masked``.

    ``student_logits``/``teacher_probs`` [M, K] for M gathered patches, ``weights`` [M] = 1 / (masked patches
    of the patch's image), 0 for buffer padding; the sum is divided by ``n_images``.
    """
    log_p = jax.nn.log_softmax(student_logits.astype(jnp.float32) / student_temp, axis=-1)
    per_patch = jnp.sum(teacher_probs * log_p, axis=-1)
    return -jnp.sum(per_patch * weights) / n_images
