"""The DINO projection head (also used as the iBOT head): an MLP, L2 normalization, and a
weight-normalized linear layer onto K prototypes. Parameters are a plain nested dict."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike


@dataclass(frozen=True)
class HeadConfig:
    """Sizes of a head; the official defaults are 3 layers, hidden 2048, bottleneck 256, 65536 prototypes."""

    in_dim: int
    n_prototypes: int = 65536
    hidden_dim: int = 2048
    bottleneck_dim: int = 256
    n_layers: int = 3


def init_head(rng: jax.Array, cfg: HeadConfig) -> dict:
    """MLP weights truncated-normal(0.02) with zero biases; the last layer's direction ``v`` uniform as
    a fresh ``nn.Linear``, its per-prototype norm ``g`` set to 1, as the official head."""
    if cfg.n_layers < 1:
        raise ValueError(f"a head needs at least one layer, got n_layers={cfg.n_layers}")
    dims = [cfg.in_dim] + [cfg.hidden_dim] * (cfg.n_layers - 1) + [cfg.bottleneck_dim]
    keys = jax.random.split(rng, cfg.n_layers + 1)
    mlp = {
        f"layer{i}": {
            "kernel": 0.02 * jax.random.truncated_normal(keys[i], -2.0, 2.0, (d_in, d_out), jnp.float32),
            "bias": jnp.zeros((d_out,), jnp.float32),
        }
        for i, (d_in, d_out) in enumerate(itertools.pairwise(dims))
    }
    bound = 1.0 / cfg.bottleneck_dim**0.5
    v = jax.random.uniform(keys[-1], (cfg.bottleneck_dim, cfg.n_prototypes), jnp.float32, -bound, bound)
    return {"mlp": mlp, "last_layer": {"v": v, "g": jnp.ones((cfg.n_prototypes,), jnp.float32)}}


def apply_head(params: dict, x: jax.Array, compute_dtype: DTypeLike = jnp.float32) -> jax.Array:
    """Float32 prototype logits [..., K] of features x [..., D].

    The MLP runs in ``compute_dtype``; the L2 normalization and the weight-normalized last layer run in
    float32, because the losses divide the logits (cosines) by temperatures down to 0.04: bfloat16 cosines
    near 1 are 2^-7 apart, steps of 0.2 after the division. The product asks for float32 (``HIGHEST``): by
    default a TPU multiplies float32 matrices in bfloat16 passes.
    """
    layers = params["mlp"]
    x = x.astype(compute_dtype)
    for i in range(len(layers)):
        layer = layers[f"layer{i}"]
        x = x @ layer["kernel"].astype(compute_dtype) + layer["bias"].astype(compute_dtype)
        if i < len(layers) - 1:
            x = jax.nn.gelu(x, approximate=False)
    x = x.astype(jnp.float32)
    x = x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    v = params["last_layer"]["v"].astype(jnp.float32)
    weight = v * (params["last_layer"]["g"].astype(jnp.float32) / jnp.linalg.norm(v, axis=0))
    return jnp.matmul(x, weight, precision=jax.lax.Precision.HIGHEST)
