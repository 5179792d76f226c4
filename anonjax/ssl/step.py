"""One training step (student update, EMA teacher, centers) and its sharded ``jit`` over a device mesh.

Parameters, gradients and optimizer state follow the FSDP rule of ``anonjax.parallel`` (split over the
``fsdp`` axis, replicated over ``data``); batches are split over every device. Under ``jit`` the arrays
are global, so every mean and sum in the losses spans the whole batch and the result does not depend
on the layout.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from anonjax import parallel
from anonjax.ssl import meta_arch, micro_batch
from anonjax.ssl.meta_arch import SSLConfig
from anonjax.ssl.schedules import Schedules


def train_step(state: dict, batch: dict, *, cfg: SSLConfig, optimizer: optax.GradientTransformation,
               schedules: Schedules, shards: int = 1,
               micro_sharding: jax.sharding.Sharding | None = None) -> tuple[dict, dict]:
    """The next state and this step's training-log row (loss terms and hyperparameters, f32 scalars).

    With ``cfg.micro_batch`` below the batch, the teacher's targets come first for the whole batch, then the
    student's gradient is summed over the micro-batches, and one optimizer step follows: the step of the whole
    batch. ``shards``: the devices the batch is split over (``micro_batch.spread``); ``micro_sharding``: where the
    rows of each micro-batch, and of its teacher targets, go (``parallel.micro_batches_sharding``; without it a
    compiler may split the stack along its micro-batch axis and give each device a whole micro-batch)."""
    step = state["step"]
    hp = schedules.at(step)
    rng = jax.random.fold_in(jax.random.key(state["seed"]), step)
    b = batch["global"].shape[0]
    micro = cfg.micro_batch or b
    n_micro = b // micro
    spread = micro_batch.spread(b, micro, cfg.group_size, shards)
    parts = _constrain(micro_batch.split(batch, n_micro, spread), micro_sharding)
    ids = micro_batch.group_ids(cfg.groups(b), n_micro, spread)
    targets, centers = meta_arch.teacher_targets(state["teacher"], state["centers"], parts, hp["teacher_temp"], cfg,
                                                 micro_sharding)
    targets = _constrain(targets, micro_sharding)

    def micro_step(grads, inputs):
        part, target, group_ids = inputs

        def loss_fn(student):
            total, terms = meta_arch.losses(student, target, part, cfg, rng, group_ids)
            return total / n_micro, terms

        (loss, terms), g = jax.value_and_grad(loss_fn, has_aux=True)(state["student"])
        return jax.tree.map(jnp.add, grads, g), (loss, terms)

    zeros = jax.tree.map(jnp.zeros_like, state["student"])
    grads, (losses, terms) = jax.lax.scan(micro_step, zeros, (parts, targets, ids))
    loss, terms = jnp.sum(losses), jax.tree.map(jnp.mean, terms)
    if cfg.head_warmup_steps:
        # Head warm-up: the backbone stays frozen (no gradient, no update) while fresh heads adapt to it.
        frozen = step < cfg.head_warmup_steps
        grads = {**grads, "backbone": jax.tree.map(lambda g: jnp.where(frozen, 0.0, g), grads["backbone"])}
    updates, opt_state = optimizer.update(grads, state["opt_state"], state["student"])
    student = optax.apply_updates(state["student"], updates)
    m = hp["teacher_momentum"]
    teacher = jax.tree.map(lambda t, s: t * m + s * (1 - m), state["teacher"], student)
    new_state = {"step": step + 1, "seed": state["seed"], "student": student, "teacher": teacher,
                 "opt_state": opt_state, "centers": centers}
    logged = {"loss": loss, **terms, **hp, "grad_norm": optax.tree.norm(grads)}
    return new_state, logged


def _constrain(tree, sharding: jax.sharding.Sharding | None):
    return tree if sharding is None else jax.lax.with_sharding_constraint(tree, sharding)


def state_shardings(mesh: Mesh, state: dict):
    """Shardings of a train state (or its abstract shape tree) under the FSDP rule."""
    return parallel.params_sharding(mesh, state)


def batch_shardings(mesh: Mesh, batch: dict):
    """Every batch array split along its leading (image) axis over all devices."""
    return jax.tree.map(lambda _: parallel.batch_sharding(mesh), batch)


def make_train_step(mesh: Mesh, state: dict, batch: dict, *, cfg: SSLConfig,
                    optimizer: optax.GradientTransformation, schedules: Schedules):
    """``train_step`` jitted with explicit shardings over ``mesh``; the input state is donated.

    ``state`` and ``batch`` (arrays or ``jax.ShapeDtypeStruct`` trees) fix the shardings.
    """
    state_sh = state_shardings(mesh, state)
    fn = functools.partial(train_step, cfg=cfg, optimizer=optimizer, schedules=schedules,
                           shards=parallel.mesh_size(mesh), micro_sharding=parallel.micro_batches_sharding(mesh))
    return jax.jit(
        fn,
        in_shardings=(state_sh, batch_shardings(mesh, batch)),
        out_shardings=(state_sh, parallel.replicated(mesh)),
        donate_argnums=0,
    )
