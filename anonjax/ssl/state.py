"""The train state: student, EMA teacher, optimizer state, centers, step and seed, as one pytree (a dict) that
orbax saves and restores whole."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from anonjax.models import vit
from anonjax.ssl.heads import init_head
from anonjax.ssl.meta_arch import SSLConfig


def init_student(rng: jax.Array, cfg: SSLConfig, backbone: dict | None = None) -> dict:
    """Student parameters ``{backbone, dino_head[, ibot_head]}``; ``backbone`` given (released weights)
    or drawn at random."""
    k_backbone, k_dino, k_ibot = jax.random.split(rng, 3)
    student = {
        "backbone": vit.init(k_backbone, cfg.backbone) if backbone is None else backbone,
        "dino_head": init_head(k_dino, cfg.dino_head),
    }
    if cfg.ibot_head is not None:
        student["ibot_head"] = init_head(k_ibot, cfg.ibot_head)
    return student


def init_state(student: dict, cfg: SSLConfig, optimizer: optax.GradientTransformation, seed) -> dict:
    """A fresh state: the teacher starts as a copy of the student, centers at zero, step 0, and the run's
    ``seed`` (uint32), from which every step draws its drop path."""
    ibot_k = (cfg.ibot_head or cfg.dino_head).n_prototypes
    return {
        "step": jnp.zeros((), jnp.int32),
        "seed": jnp.asarray(seed, jnp.uint32),
        "student": student,
        "teacher": jax.tree.map(jnp.copy, student),
        "opt_state": optimizer.init(student),
        "centers": {
            "dino": jnp.zeros((1, cfg.dino_head.n_prototypes), jnp.float32),
            "ibot": jnp.zeros((1, ibot_k), jnp.float32),
        },
    }
