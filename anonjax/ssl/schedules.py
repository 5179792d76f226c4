"""The schedules of DINOv2 training as optax schedules (functions of the step).

Each is the official ``CosineScheduler``: ``freeze`` steps at 0, a linear warmup from ``start`` to
``peak`` (both ends included), then a cosine from ``peak`` to ``final`` over the remaining steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import optax


def cosine_schedule(
    peak: float, final: float, total_steps: int, *, warmup_steps: int = 0, start: float = 0.0,
    freeze_steps: int = 0,
) -> optax.Schedule:
    """The official cosine scheduler; steps past ``total_steps`` hold ``final``."""
    cosine_steps = max(total_steps - warmup_steps - freeze_steps, 1)

    def schedule(step):
        step = jnp.asarray(step, jnp.float32)
        i = step - freeze_steps
        warm = start + (peak - start) * i / max(warmup_steps - 1, 1)
        j = jnp.clip(i - warmup_steps, 0, cosine_steps)
        cos = final + 0.5 * (peak - final) * (1 + jnp.cos(math.pi * j / cosine_steps))
        value = jnp.where(i < warmup_steps, warm, cos)
        return jnp.where(i < 0, 0.0, value)

    return schedule


@dataclass(frozen=True)
class Schedules:
    """Every per-step hyperparameter of the train step."""

    lr: optax.Schedule
    last_layer_lr: optax.Schedule
    weight_decay: optax.Schedule
    teacher_momentum: optax.Schedule
    teacher_temp: optax.Schedule

    def at(self, step) -> dict:
        """All values at ``step`` (jnp scalars, usable inside ``jit``)."""
        return {
            "lr": self.lr(step),
            "last_layer_lr": self.last_layer_lr(step),
            "weight_decay": self.weight_decay(step),
            "teacher_momentum": self.teacher_momentum(step),
            "teacher_temp": self.teacher_temp(step),
        }


def scaled_lr(base_lr: float, global_batch: int, rule: str) -> float:
    """The peak learning rate for a global batch: ``linear_wrt_1024`` (lr·batch/1024) or ``sqrt_wrt_1024``."""
    if rule == "linear_wrt_1024":
        return base_lr * global_batch / 1024
    if rule == "sqrt_wrt_1024":
        return base_lr * math.sqrt(global_batch / 1024)
    raise ValueError(f"unknown lr scaling rule {rule!r}; use 'linear_wrt_1024' or 'sqrt_wrt_1024'")


def make_schedules(cfg, global_batch: int) -> Schedules:
    """Schedules from a ``config.train`` ConfigDict (epochs of ``steps_per_epoch`` steps)."""
    epoch = cfg.steps_per_epoch
    total = cfg.epochs * epoch
    o, t = cfg.optim, cfg.teacher
    peak = scaled_lr(o.base_lr, global_batch, o.scaling_rule)
    warmup = round(o.warmup_epochs * epoch)

    def lr(freeze_steps: int = 0):
        # The last layer's schedule is the lr schedule with its first steps set to 0, as in the official code.
        base = cosine_schedule(peak, o.min_lr, total, warmup_steps=warmup)
        return lambda s: jnp.where(jnp.asarray(s) < freeze_steps, 0.0, base(s))

    return Schedules(
        lr=lr(),
        last_layer_lr=lr(round(o.freeze_last_layer_epochs * epoch)),
        weight_decay=cosine_schedule(o.weight_decay, o.weight_decay_end, total),
        teacher_momentum=cosine_schedule(t.momentum, t.final_momentum, total),
        teacher_temp=cosine_schedule(
            t.temp, t.temp, total, warmup_steps=round(t.warmup_temp_epochs * epoch), start=t.warmup_temp
        ),
    )
