"""AdamW with DINOv2's per-parameter rules, as one optax transformation.

Per parameter (decided from its path in the tree, as the official ``get_params_groups``):
- layer-wise lr decay: ``decay ** (n_blocks + 1 - layer)``, layer 0 for the embeddings, i+1 for block i,
  n_blocks + 1 for everything after the blocks (final norm, heads);
- the patch embedding's lr times ``patch_embed_lr_mult``;
- no weight decay on biases, norms and LayerScale (``gamma``);
- the heads' last layers follow the last-layer lr schedule (0 while frozen);
- gradients clipped by global norm per module (backbone, each head), as the official clipping per submodule;
- Adam's moments and step count per module, the backbone's starting when it unfreezes after the head warm-up,
  so that its first update is a fresh AdamW's (a count that ran through the frozen steps would undo the bias
  correction of moments that never saw a gradient).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from anonjax.ssl.schedules import Schedules

_BLOCK_INDEX = re.compile(r"blocks[._/]?(\d+)")
_EMBEDDINGS = ("patch_embed", "pos_embed", "cls_token", "mask_token", "register_tokens")


def path_name(path) -> str:
    """A tree path as a dotted name, e.g. ``backbone.blocks.3.attn.qkv.kernel``."""
    parts = []
    for key in path:
        for attr in ("key", "idx", "name"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
    return ".".join(parts)


def _layer_lr(name: str, n_blocks: int, decay: float) -> float:
    if not name.startswith("backbone"):
        return 1.0
    if any(e in name for e in _EMBEDDINGS):
        layer = 0
    elif match := _BLOCK_INDEX.search(name):
        layer = int(match.group(1)) + 1
    else:
        layer = n_blocks + 1
    return decay ** (n_blocks + 1 - layer)


def multipliers(params, *, n_blocks: int, layerwise_decay: float, patch_embed_lr_mult: float):
    """Three trees like ``params``: lr multiplier, weight-decay multiplier, is-last-layer flag."""

    def lr(path, _):
        name = path_name(path)
        mult = _layer_lr(name, n_blocks, layerwise_decay)
        return mult * patch_embed_lr_mult if "patch_embed" in name else mult

    def wd(path, _):
        name = path_name(path)
        return 0.0 if name.endswith("bias") or "norm" in name or "gamma" in name else 1.0

    def last(path, _):
        return "last_layer" in path_name(path)

    return (
        jax.tree_util.tree_map_with_path(lr, params),
        jax.tree_util.tree_map_with_path(wd, params),
        jax.tree_util.tree_map_with_path(last, params),
    )


def clip_per_module(max_norm: float) -> optax.GradientTransformation:
    """Clip the gradient of each top-level module (``backbone``, ``dino_head``, ...) to ``max_norm``."""

    def update(updates, state, params=None):
        del params

        def clip(tree):
            norm = optax.tree.norm(tree)
            return jax.tree.map(lambda g: g * jnp.minimum(1.0, max_norm / (norm + 1e-6)), tree)

        return {k: clip(v) for k, v in updates.items()}, state

    return optax.GradientTransformation(lambda _: optax.EmptyState(), update)


class PerModuleAdamState(NamedTuple):
    count: jax.Array  # optimizer steps taken, frozen or not
    adam: dict  # module name -> its ``scale_by_adam`` state


def scale_by_adam_per_module(b1: float, b2: float, eps: float, *, starts: dict[str, int] | None = None
                             ) -> optax.GradientTransformation:
    """``optax.scale_by_adam`` for each top-level module with its own state; module ``k``'s state keeps its initial
    value (count 0, zero moments) until step ``starts[k]``, so that its first update there is a fresh Adam's."""
    adam = optax.scale_by_adam(b1=b1, b2=b2, eps=eps)
    starts = starts or {}

    def init(params):
        return PerModuleAdamState(count=jnp.zeros((), jnp.int32), adam={k: adam.init(v) for k, v in params.items()})

    def update(updates, state, params=None):
        del params
        out, new = {}, {}
        for k, u in updates.items():
            out[k], new[k] = adam.update(u, state.adam[k])
            if starts.get(k):
                held = state.count < starts[k]
                new[k] = jax.tree.map(lambda old, n, held=held: jnp.where(held, old, n), state.adam[k], new[k])
        return out, PerModuleAdamState(count=state.count + 1, adam=new)

    return optax.GradientTransformation(init, update)


class ScheduledState(NamedTuple):
    count: jax.Array


def scale_by_schedules(
    schedules: Schedules, lr_mult, wd_mult, is_last, *, frozen=None, frozen_steps: int = 0
) -> optax.GradientTransformation:
    """``-lr·mult·(u + wd·wd_mult·p)`` with the step's lr and weight decay (decoupled, as torch AdamW);
    leaves flagged in ``frozen`` do not move during the first ``frozen_steps`` steps."""
    frozen = jax.tree.map(lambda _: False, lr_mult) if frozen is None else frozen

    def init(_):
        return ScheduledState(count=jnp.zeros((), jnp.int32))

    def update(updates, state, params):
        lr, last_lr = schedules.lr(state.count), schedules.last_layer_lr(state.count)
        wd = schedules.weight_decay(state.count)

        def one(u, p, lm, wm, last, freeze):
            step_lr = (last_lr if last else lr) * lm
            if freeze:
                step_lr = jnp.where(state.count < frozen_steps, 0.0, step_lr)
            return (-step_lr * (u + wd * wm * p)).astype(u.dtype)

        new = jax.tree.map(one, updates, params, lr_mult, wd_mult, is_last, frozen)
        return new, ScheduledState(count=state.count + 1)

    return optax.GradientTransformation(init, update)


def make_optimizer(
    cfg, schedules: Schedules, params, *, n_blocks: int, head_warmup_steps: int = 0
) -> optax.GradientTransformation:
    """The optimizer of ``config.train.optim`` for a student tree ``{backbone, dino_head, [ibot_head]}``;
    the backbone is frozen for the first ``head_warmup_steps`` steps."""
    o = cfg.optim
    lr_mult, wd_mult, is_last = multipliers(
        params, n_blocks=n_blocks, layerwise_decay=o.layerwise_decay, patch_embed_lr_mult=o.patch_embed_lr_mult
    )
    frozen = {k: jax.tree.map(lambda _, f=(k == "backbone"): f, v) for k, v in params.items()}
    parts = [clip_per_module(o.clip_grad)] if o.clip_grad else []
    parts += [
        scale_by_adam_per_module(o.adamw_beta1, o.adamw_beta2, 1e-8, starts={"backbone": head_warmup_steps}),
        scale_by_schedules(schedules, lr_mult, wd_mult, is_last, frozen=frozen, frozen_steps=head_warmup_steps),
    ]
    return optax.chain(*parts)
