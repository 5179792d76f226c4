"""The head warm-up leaves AdamW honest: the backbone's first update after it is a fresh AdamW's."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tiny_study import tiny_train

from anonjax.ssl.optimizer import make_optimizer, multipliers
from anonjax.ssl.schedules import make_schedules

WARMUP = 5


def _params():
    rng = np.random.default_rng(0)
    tree = {"backbone": {"blocks_0": {"w": rng.normal(size=(4, 3))}, "norm": {"scale": rng.normal(size=(3,))}},
            "dino_head": {"mlp": {"w": rng.normal(size=(3, 2))}}}
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def test_first_backbone_update_after_warmup_is_a_fresh_adamw(n_blocks=1):
    c = tiny_train()
    c.optim.clip_grad = 0.0  # the update of a gradient as it is
    params = _params()
    schedules = make_schedules(c, c.batch_size)
    optimizer = make_optimizer(c, schedules, params, n_blocks=n_blocks, head_warmup_steps=WARMUP)
    state = optimizer.init(params)
    rng = np.random.default_rng(1)
    for _ in range(WARMUP):  # the backbone's gradients during the warm-up never reach its moments
        grads = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)
        _, state = optimizer.update(grads, state, params)
    grads = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)
    updates, _ = optimizer.update(grads, state, params)

    fresh = optax.scale_by_adam(b1=c.optim.adamw_beta1, b2=c.optim.adamw_beta2, eps=1e-8)
    adam, _ = fresh.update(grads["backbone"], fresh.init(params["backbone"]))
    lr_mult, wd_mult, _ = multipliers(params, n_blocks=n_blocks, layerwise_decay=c.optim.layerwise_decay,
                                      patch_embed_lr_mult=c.optim.patch_embed_lr_mult)
    lr, wd = schedules.lr(WARMUP), schedules.weight_decay(WARMUP)
    assert lr > 0
    expected = jax.tree.map(lambda u, p, lm, wm: -lr * lm * (u + wd * wm * p), adam, params["backbone"],
                            lr_mult["backbone"], wd_mult["backbone"])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), updates["backbone"], expected)


def test_the_backbone_does_not_move_during_the_warmup():
    c = tiny_train()
    params = _params()
    schedules = make_schedules(c, c.batch_size)
    optimizer = make_optimizer(c, schedules, params, n_blocks=1, head_warmup_steps=WARMUP)
    state = optimizer.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    for _ in range(WARMUP):
        updates, state = optimizer.update(grads, state, params)
        assert all(float(jnp.abs(u).max()) == 0.0 for u in jax.tree.leaves(updates["backbone"]))
    assert int(state[1].adam["backbone"].count) == 0  # its Adam has taken no step yet
    assert int(state[1].adam["dino_head"].count) == WARMUP
