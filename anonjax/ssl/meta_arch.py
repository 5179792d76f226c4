"""How crops, backbone, heads and losses meet in one DINOv2 training step (the official meta-architecture).

The teacher sees the two global crops; the student sees the global crops (iBOT-masked) and the local
crops. Losses, with T = 2 global crops and L local crops, ``n_terms = 2 + max(2L, 1)``:

- DINO local: Σ over local crops x teacher crops of the cross-entropy, / n_terms;
- DINO global: the student's crop 1 against the teacher's crop 2 and vice versa, mean over both, x 2 / n_terms;
- KoLeo: ``koleo_weight`` x Σ over the two global crops of KoLeo on the student's backbone CLS tokens,
  each the mean over the groups;
- iBOT: the mask-weighted patch cross-entropy of the masked patches of global crops, averaged over crops.

Total = dino_weight · (local + global) + KoLeo + ibot_weight · iBOT. Teacher targets are centered by
softmax-centering (EMA centers, momentum ``center_momentum``) or Sinkhorn-Knopp.

The official code computes KoLeo, draws the stochastic-depth subsets and buffers the masked patches per GPU,
over its ``batch_size_per_gpu`` images. Here these sets are groups of ``group_size`` consecutive images of the
global batch (0: one group, the whole batch): the same sets whatever the number of devices sharing the batch,
and a device that holds whole groups computes them without its peers' rows.

The heads' MLPs run in ``compute_dtype``, their last layers (and so every logit) in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from anonjax.models import vit
from anonjax.models.vit_config import ViTConfig
from anonjax.ssl.dino_loss import dino_loss, sinkhorn_knopp, softmax_center, update_center
from anonjax.ssl.heads import HeadConfig, apply_head
from anonjax.ssl.ibot_loss import ibot_loss_gathered
from anonjax.ssl.koleo_loss import koleo_loss

CENTERINGS = ("centering", "sinkhorn_knopp")
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


@dataclass(frozen=True)
class SSLConfig:
    """Static settings of the training step (hashable: a ``jit`` static argument)."""

    backbone: ViTConfig
    dino_head: HeadConfig
    ibot_head: HeadConfig | None = None  # None: iBOT shares the DINO head
    dino_weight: float = 1.0
    koleo_weight: float = 0.1
    group_size: int = 0  # images per group of KoLeo, drop path and masked-patch buffer; 0: the whole batch
    ibot_weight: float = 1.0
    centering: str = "centering"
    center_momentum: float = 0.9
    student_temp: float = 0.1
    max_masked: int = 1  # static size of a group's buffer of masked patch tokens (``masking.max_masked``)
    compute_dtype: str = "float32"
    remat: bool = False
    head_warmup_steps: int = 0
    micro_batch: int = 0  # images per micro-step of gradient accumulation (``micro_batch``); 0: the whole batch
    dense_drop_path: bool = False  # the drop path's subsets computed on every row: groups span devices

    def __post_init__(self) -> None:
        if self.centering not in CENTERINGS:
            raise ValueError(f"centering must be one of {CENTERINGS}, got {self.centering!r}")
        if self.compute_dtype not in DTYPES:
            raise ValueError(f"compute_dtype must be one of {sorted(DTYPES)}, got {self.compute_dtype!r}")
        if self.group_size < 0:
            raise ValueError(f"group_size must be >= 0 (0: the whole batch), got {self.group_size}")
        if self.micro_batch < 0:
            raise ValueError(f"micro_batch must be >= 0 (0: the whole batch), got {self.micro_batch}")

    def groups(self, batch: int) -> int:
        """How many groups a batch of ``batch`` images has."""
        if self.group_size and batch % self.group_size:
            raise ValueError(f"groups of {self.group_size} images need a batch that is a multiple of it, got {batch}")
        return batch // self.group_size if self.group_size else 1


def _features(params, cfg: SSLConfig, images, *, masks=None, train: bool, rng=None, groups: int = 1,
              group_ids=None) -> dict:
    # The official patch embedding (a strided convolution) ignores the pixels past the last whole patch,
    # e.g. of 96 px local crops for patch 14.
    p = cfg.backbone.patch_size
    images = images[:, : images.shape[1] // p * p, : images.shape[2] // p * p]
    dtype = DTYPES[cfg.compute_dtype]
    params = jax.tree.map(lambda p: p.astype(dtype), params)

    return vit.forward_features(params, cfg.backbone, images.astype(dtype), masks=masks, train=train, rng=rng,
                                groups=groups, group_ids=group_ids, remat=cfg.remat and train,
                                dense=cfg.dense_drop_path)


def _head(params, cfg: SSLConfig, x):
    return apply_head(params, x, DTYPES[cfg.compute_dtype])


def _gather_masked(masks: jax.Array, size: int, groups: int) -> tuple[jax.Array, jax.Array]:
    """Indices [G, size] of the masked patches of [C, N] masks within each of ``groups`` runs of consecutive
    crops (flat over the group's crops and patches, padded), and per-entry weights 1 / (masked patches of that
    crop), 0 for padding."""
    flat = masks.reshape(groups, -1)
    index = jax.vmap(lambda m: jnp.nonzero(m, size=size, fill_value=0)[0])(flat)
    valid = jnp.arange(size) < jnp.sum(flat, axis=1, keepdims=True)
    per_crop = 1.0 / jnp.maximum(jnp.sum(masks, axis=-1), 1).astype(jnp.float32)
    crop_weights = jax.vmap(lambda w, i: w[i])(per_crop.reshape(groups, -1), index // masks.shape[-1])
    return index, jnp.where(valid, crop_weights, 0.0)


def _masked_tokens(tokens: jax.Array, index: jax.Array) -> jax.Array:
    """The patch tokens [C, N, D] at the group-local ``index`` [G, size] of ``_gather_masked``, as [G * size, D]."""
    groups = index.shape[0]
    grouped = tokens.reshape(groups, -1, tokens.shape[-1])
    return jax.vmap(lambda t, i: t[i])(grouped, index).reshape(-1, tokens.shape[-1])


def _teacher_logits(teacher, cfg: SSLConfig, batch: dict) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Teacher logits of one micro-batch: class tokens [b * 2, K], gathered masked patches [M, K], and the
    gathered patches' iBOT weights [M] (0 for buffer padding)."""
    g, masks = batch["global"], batch["masks"]
    b = g.shape[0]
    groups = cfg.groups(b)
    index, weights = _gather_masked(masks.reshape(b * 2, -1), cfg.max_masked, groups)
    ibot_key = "ibot_head" if cfg.ibot_head is not None else "dino_head"
    out = _features(teacher["backbone"], cfg, g.reshape(b * 2, *g.shape[2:]), train=False)
    t_cls = _head(teacher["dino_head"], cfg, out["x_norm_clstoken"])
    t_patch = _head(teacher[ibot_key], cfg, _masked_tokens(out["x_norm_patchtokens"], index))
    return t_cls, t_patch, weights.reshape(-1)


def teacher_targets(teacher, centers, micro_batches: dict, teacher_temp, cfg: SSLConfig,
                    stacked: jax.sharding.Sharding | None = None) -> tuple[dict, dict]:
    """The teacher's targets for the whole global batch, and the new centers.

    ``micro_batches``: the batch as [n_micro, b, ...] arrays (``losses`` describes one micro-batch). The teacher
    runs one micro-batch at a time, and the batch statistics (Sinkhorn-Knopp's balance over samples and
    prototypes, the centers' means) span every micro-batch, as the official code's span every GPU. Returns
    ``{"cls": [n_micro, b, 2, K], "patch": [n_micro, M, K]}`` probabilities without gradient. ``stacked``: where
    the stacked [n_micro, rows, ...] logits go (``parallel.micro_batches_sharding``), so that every device holds
    its rows of every micro-batch rather than whole micro-batches.
    """
    teacher = jax.lax.stop_gradient(teacher)
    logits = jax.lax.map(lambda mb: _teacher_logits(teacher, cfg, mb), micro_batches)
    t_cls, t_patch, weights = logits if stacked is None else jax.lax.with_sharding_constraint(logits, stacked)
    n_micro, b = micro_batches["global"].shape[:2]
    valid = weights > 0
    if cfg.centering == "centering":
        cls_probs = softmax_center(t_cls, centers["dino"], teacher_temp)
        patch_probs = softmax_center(t_patch, centers["ibot"], teacher_temp)
        new_centers = {
            "dino": update_center(centers["dino"], t_cls, cfg.center_momentum),
            "ibot": update_center(centers["ibot"], t_patch, cfg.center_momentum, weights=valid),
        }
    else:
        cls_probs = sinkhorn_knopp(t_cls, teacher_temp)
        patch_probs = sinkhorn_knopp(t_patch, teacher_temp, valid=valid)
        new_centers = centers
    targets = {"cls": cls_probs.reshape(n_micro, b, 2, -1), "patch": patch_probs}
    return jax.lax.stop_gradient(targets), new_centers


def losses(student, targets: dict, batch: dict, cfg: SSLConfig, rng, group_ids=None):
    """Total loss of one micro-batch and its terms, each a mean over the micro-batch's images (or groups), so that
    the mean over equal micro-batches is the loss of the whole batch.

    ``batch``: ``global`` [b, 2, G, G, 3], ``local`` [b, L, l, l, 3], ``masks`` bool [b, 2, N];
    ``targets``: this micro-batch's slice of :func:`teacher_targets`; ``student``: ``{backbone, dino_head[,
    ibot_head]}``; ``group_ids`` [groups]: the groups' positions in the global batch (default 0, 1, ...), from
    which their drop path draws.
    """
    g, loc, masks = batch["global"], batch["local"], batch["masks"]
    b, n_local = g.shape[0], loc.shape[1]
    flat_masks = masks.reshape(b * 2, -1)
    groups = cfg.groups(b)
    index, weights = _gather_masked(flat_masks, cfg.max_masked, groups)
    weights = weights.reshape(-1)
    ibot_key = "ibot_head" if cfg.ibot_head is not None else "dino_head"
    t_cls_probs, t_patch_probs = targets["cls"], targets["patch"]

    k_global, k_local = jax.random.split(rng)
    s_global = _features(
        student["backbone"], cfg, g.reshape(b * 2, *g.shape[2:]), masks=flat_masks, train=True, rng=k_global,
        groups=groups, group_ids=group_ids,
    )
    s_cls = _head(student["dino_head"], cfg, s_global["x_norm_clstoken"]).reshape(b, 2, -1)
    s_patch = _head(student[ibot_key], cfg, _masked_tokens(s_global["x_norm_patchtokens"], index))

    n_terms = 2 + max(2 * n_local, 1)
    terms = {}
    if n_local:
        s_local = _features(student["backbone"], cfg, loc.reshape(b * n_local, *loc.shape[2:]), train=True,
                            rng=k_local, groups=groups, group_ids=group_ids)
        s_local_cls = _head(student["dino_head"], cfg, s_local["x_norm_clstoken"]).reshape(b, n_local, -1)
        terms["dino_local"] = dino_loss(
            s_local_cls.transpose(1, 0, 2), t_cls_probs.transpose(1, 0, 2), cfg.student_temp
        ) / n_terms
    swapped = t_cls_probs[:, ::-1]  # the student's crop 1 learns from the teacher's crop 2 and vice versa
    terms["dino_global"] = 2 * dino_loss(
        s_cls.reshape(1, b * 2, -1), swapped.reshape(1, b * 2, -1), cfg.student_temp
    ) / n_terms
    # KoLeo in float32: the final norm computed in float32 from the residual stream, not its compute-dtype output,
    # whose rounding (2^-8 in bfloat16) is the size of the nearest-neighbour distances KoLeo measures.
    cls_tokens = vit.final_norm(student["backbone"], s_global["x_prenorm"][:, 0]).reshape(b, 2, -1)
    group = cfg.group_size
    terms["koleo"] = cfg.koleo_weight * (
        koleo_loss(cls_tokens[:, 0], group_size=group) + koleo_loss(cls_tokens[:, 1], group_size=group)
    )
    terms["ibot"] = ibot_loss_gathered(s_patch, t_patch_probs, weights, b * 2, cfg.student_temp)
    total = (
        cfg.dino_weight * (terms.get("dino_local", 0.0) + terms["dino_global"])
        + terms["koleo"]
        + cfg.ibot_weight * terms["ibot"]
    )
    return total, terms
