"""The DINOv2 vision transformer as pure functions of (params, config, images).

Parameter tree (nested dict of arrays; the layout is stable, checkpoints and optimizers rely on it)::

    patch_embed/{kernel (p, p, C, D), bias (D,)}
    cls_token (D,)   pos_embed (side*side + 1, D)   mask_token (D,)   register_tokens (R, D)  [R > 0 only]
    blocks_<i>/norm1/{scale, bias}
              /attn/qkv/{kernel (D, 3D), bias}   attn/proj/{kernel (D, D), bias}  (q, k, v; heads major)
              /ls1/gamma (D,)
              /norm2/{scale, bias}
              /mlp/fc1, mlp/fc2                  (GELU MLP)
              /mlp/w12 (D, 2H), mlp/w3 (H, D)    (SwiGLU: first half of w12 is the gate)
              /ls2/gamma
    norm/{scale, bias}

Block ``i`` is the top-level key ``blocks_<i>`` (layer-wise learning-rate decay reads ``i`` from it);
``patch_embed``, ``pos_embed``, ``cls_token``, ``mask_token`` and ``register_tokens`` come before block 0.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from anonjax.models.pos_embed import resize_matrices
from anonjax.models.vit_config import ViTConfig

LN_EPS = 1e-6

# The compiler options of the jitted programs that run the ViT forward for inference (embedding, attention maps;
# JAX takes them on the outermost jit only, so ``forward_features`` goes without), per backend. By default XLA's CPU
# backend sends matmuls, with the LayerNorm before them, to YNNPACK; at these shapes (thousands of token rows
# against the weights) its own Eigen matmuls embed 25-30 % more images per second (``scripts/bench_backbone.py``).
# The training step keeps YNNPACK (with this option a ViT-S/14 step on small crops took 1.6-1.7 times as long), and
# so do the retrieval's (queries x database) products, 2.5-3.6 times as fast there. GPU and TPU compilers reject
# options they do not know ("No such compile option"), so theirs hold no ``xla_cpu_*`` key.
BACKEND_COMPILER_OPTIONS: dict[str, dict[str, str]] = {
    "cpu": {"xla_cpu_experimental_ynn_fusion_type": ""},
    "gpu": {},
    "tpu": {},
}


def compiler_options(backend: str | None = None) -> dict[str, str]:
    """The inference compiler options of ``backend`` ("cpu", "gpu" or "tpu"; default: JAX's default backend)."""
    backend = jax.default_backend() if backend is None else backend
    return dict(BACKEND_COMPILER_OPTIONS.get("gpu" if backend in ("cuda", "rocm") else backend, {}))


def _dense(fan_in: int, fan_out: int) -> dict:
    return {"kernel": jnp.zeros((fan_in, fan_out), jnp.float32), "bias": jnp.zeros((fan_out,), jnp.float32)}


def _norm(dim: int) -> dict:
    return {"scale": jnp.ones((dim,), jnp.float32), "bias": jnp.zeros((dim,), jnp.float32)}


def _skeleton(cfg: ViTConfig) -> dict:
    """The parameter tree with its constant values (zeros, ones, LayerScale) where init draws nothing."""
    d, p, c, h = cfg.embed_dim, cfg.patch_size, cfg.in_chans, cfg.hidden_dim
    params = {
        "patch_embed": {"kernel": jnp.zeros((p, p, c, d), jnp.float32), "bias": jnp.zeros((d,), jnp.float32)},
        "cls_token": jnp.zeros((d,), jnp.float32),
        "pos_embed": jnp.zeros((cfg.pos_side**2 + 1, d), jnp.float32),
        "mask_token": jnp.zeros((d,), jnp.float32),
    }
    if cfg.num_registers:
        params["register_tokens"] = jnp.zeros((cfg.num_registers, d), jnp.float32)
    mlp = (
        {"w12": _dense(d, 2 * h), "w3": _dense(h, d)}
        if cfg.ffn == "swiglu"
        else {"fc1": _dense(d, h), "fc2": _dense(h, d)}
    )
    gamma = {"gamma": jnp.full((d,), cfg.layerscale_init, jnp.float32)}
    for i in range(cfg.depth):
        params[f"blocks_{i}"] = {
            "norm1": _norm(d),
            "attn": {"qkv": _dense(d, 3 * d), "proj": _dense(d, d)},
            "ls1": dict(gamma),
            "norm2": _norm(d),
            "mlp": dict(mlp),
            "ls2": dict(gamma),
        }
    params["norm"] = _norm(d)
    return params


def _init_rule(path: tuple, cfg: ViTConfig) -> tuple[str, float]:
    """How one leaf is drawn: ("normal", std), ("uniform", bound) or ("constant", 0)."""
    names = [getattr(k, "key", k) for k in path]
    if names[0] == "patch_embed":  # PyTorch's default Conv2d init
        return "uniform", 1.0 / np.sqrt(cfg.patch_size**2 * cfg.in_chans)
    if names[0] in ("cls_token", "register_tokens"):
        return "normal", 1e-6
    if names[0] == "pos_embed" or names[-1] == "kernel":
        return "normal", 0.02
    return "constant", 0.0


@functools.partial(jax.jit, static_argnums=1)
def init(rng: jax.Array, cfg: ViTConfig) -> dict:
    """Random parameters with the official initialization: normal 0.02 for linear layers and the position
    embedding (the official truncation at +-2 is 100 standard deviations away, so never reached), 1e-6 normal
    for CLS and register tokens, zero mask token and biases, LayerScale ``layerscale_init``, PyTorch's default
    uniform for the patch projection. One draw per distribution keeps the compiled program small."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(_skeleton(cfg))
    rules = [_init_rule(path, cfg) for path, _ in leaves]
    samplers = {"normal": jax.random.normal, "uniform": lambda k, n: jax.random.uniform(k, n, minval=-1.0)}
    draws = {}
    for index, (kind, sampler) in enumerate(samplers.items()):
        sizes = [x.size for (_, x), (k, _) in zip(leaves, rules, strict=True) if k == kind]
        flat = sampler(jax.random.fold_in(rng, index), (sum(sizes),))
        draws[kind] = iter(jnp.split(flat, np.cumsum(sizes)[:-1]))
    out = [
        x if kind == "constant" else scale * next(draws[kind]).reshape(x.shape)
        for (_, x), (kind, scale) in zip(leaves, rules, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, out)


def check_images(cfg: ViTConfig, images) -> tuple[int, int]:
    """Raise a clear error unless ``images`` is float (N, H, W, C) with H and W multiples of the patch size."""
    shape = tuple(np.shape(images))
    if len(shape) != 4:
        raise ValueError(f"images must be NHWC (4 axes), got shape {shape}")
    _, height, width, chans = shape
    if chans != cfg.in_chans:
        raise ValueError(f"images have {chans} channels (shape {shape}); {cfg.name} expects {cfg.in_chans} (NHWC, RGB)")
    dtype = np.dtype(getattr(images, "dtype", np.float32))
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"images are {dtype.name}; the model takes floats normalized with the ImageNet mean and std "
            "(e.g. (uint8 / 255 - mean) / std)"
        )
    p = cfg.patch_size
    if height % p or width % p or height == 0 or width == 0:
        raise ValueError(
            f"image size {height}x{width} is not a positive multiple of the patch size {p} of {cfg.name}; "
            f"resize or crop to e.g. {max(p, height // p * p)}x{max(p, width // p * p)}"
        )
    return height // p, width // p


def _layer_norm(p: dict, x: jax.Array) -> jax.Array:
    """LayerNorm (eps 1e-6) with statistics in float32 whatever the compute dtype."""
    xf = x.astype(jnp.float32)
    mean = xf.mean(-1, keepdims=True)
    var = jnp.square(xf - mean).mean(-1, keepdims=True)
    y = (xf - mean) * jax.lax.rsqrt(var + LN_EPS)
    return (y * p["scale"].astype(jnp.float32) + p["bias"].astype(jnp.float32)).astype(x.dtype)


def final_norm(params: dict, x: jax.Array) -> jax.Array:
    """The backbone's final LayerNorm of tokens ``x`` in float32, whatever their dtype."""
    return _layer_norm(params["norm"], x.astype(jnp.float32))


def _linear(p: dict, x: jax.Array) -> jax.Array:
    return x @ p["kernel"] + p["bias"]


def _pos_embed(table: jax.Array, cfg: ViTConfig, rows: int, cols: int) -> jax.Array:
    """The (1 + rows*cols, D) position embedding of rows x cols patches, resized as officially."""
    m = cfg.pos_side
    if rows == cols == m:
        return table
    w_rows, w_cols = resize_matrices(m, rows, cols, cfg.interpolate_offset, cfg.interpolate_antialias)
    stored = table[1:].reshape(m, m, -1).astype(jnp.float32)
    resized = jnp.einsum(
        "hm,wn,mnd->hwd",
        jnp.asarray(w_rows, jnp.float32),
        jnp.asarray(w_cols, jnp.float32),
        stored,
        precision=jax.lax.Precision.HIGHEST,
    )
    return jnp.concatenate([table[:1], resized.reshape(rows * cols, -1).astype(table.dtype)])


def embed_tokens(params: dict, cfg: ViTConfig, images: jax.Array, masks: jax.Array | None = None) -> jax.Array:
    """Patch tokens (masked ones replaced by the mask token), CLS in front, position embedding added,
    registers after CLS: (N, 1 + R + rows*cols, D)."""
    rows, cols = check_images(cfg, images)
    n, p = images.shape[0], cfg.patch_size
    patches = images.reshape(n, rows, p, cols, p, cfg.in_chans).transpose(0, 1, 3, 2, 4, 5)
    kernel = params["patch_embed"]["kernel"].reshape(p * p * cfg.in_chans, cfg.embed_dim)
    x = patches.reshape(n, rows * cols, -1) @ kernel + params["patch_embed"]["bias"]
    if masks is not None:
        if masks.shape != (n, rows * cols):
            raise ValueError(f"masks must have shape {(n, rows * cols)} (images x patches), got {masks.shape}")
        x = jnp.where(masks[..., None], params["mask_token"].astype(x.dtype), x)
    cls = jnp.broadcast_to(params["cls_token"].astype(x.dtype), (n, 1, cfg.embed_dim))
    x = jnp.concatenate([cls, x], axis=1) + _pos_embed(params["pos_embed"], cfg, rows, cols).astype(x.dtype)
    if cfg.num_registers:
        regs = jnp.broadcast_to(params["register_tokens"].astype(x.dtype), (n, cfg.num_registers, cfg.embed_dim))
        x = jnp.concatenate([x[:, :1], regs, x[:, 1:]], axis=1)
    return x


def _qkv(p: dict, cfg: ViTConfig, x: jax.Array) -> jax.Array:
    """The query, key and value projections: (N, T, 3, heads, head_dim)."""
    n, t, _ = x.shape
    return _linear(p["qkv"], x).reshape(n, t, 3, cfg.num_heads, cfg.head_dim)


def _attention_per_image(qkv: jax.Array, groups: int) -> jax.Array:
    """Softmax attention of (N, T, 3, heads, d) projections, one image of each of ``groups`` runs of consecutive
    images at a time, all heads together, normalized after the value product (fewer passes): (N, T, heads, d).

    XLA's CPU backend does not fuse attention: an image's (heads, T, T) weights stay in cache, the whole batch's
    do not, and this runs about 2.5 times as fast as one batched product (``scripts/bench_backbone.py``). The
    loop runs over the images within a group, so when the groups are split over devices like the batch
    (``embed``, training), each device loops over its own images."""
    n, t, _, heads, d = qkv.shape

    def one_step(x: jax.Array) -> jax.Array:  # (3, groups * heads, T, d): one batch axis, XLA's fast dot
        q, k, v = x
        logits = jnp.einsum("btd,bsd->bts", q * (d**-0.5), k).astype(jnp.float32)
        weights = jnp.exp(logits - logits.max(-1, keepdims=True))
        out = jnp.einsum("bts,bsd->btd", weights.astype(v.dtype), v)
        return out / weights.sum(-1)[..., None].astype(v.dtype)

    steps = qkv.reshape(groups, n // groups, t, 3, heads, d).transpose(1, 3, 0, 4, 2, 5)
    out = jax.lax.map(one_step, steps.reshape(n // groups, 3, groups * heads, t, d))
    return out.reshape(n // groups, groups, heads, t, d).transpose(1, 0, 3, 2, 4).reshape(n, t, heads, d)


def attention_kind(cfg: ViTConfig) -> str:
    """The attention implementation ``cfg`` runs: ``cfg.attention``, or for "auto" "per_image" on the CPU
    backend and "dot_product" on accelerators (GPU, TPU), where XLA fuses the batched form."""
    if cfg.attention != "auto":
        return cfg.attention
    return "per_image" if jax.default_backend() == "cpu" else "dot_product"


def _attention(p: dict, cfg: ViTConfig, x: jax.Array, groups: int = 1) -> jax.Array:
    qkv = _qkv(p, cfg, x)
    if attention_kind(cfg) == "per_image":
        out = _attention_per_image(qkv, groups)
    else:
        out = jax.nn.dot_product_attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2])
    return _linear(p["proj"], out.reshape(x.shape))


def _mlp(p: dict, cfg: ViTConfig, x: jax.Array) -> jax.Array:
    if cfg.ffn == "swiglu":
        gate, up = jnp.split(_linear(p["w12"], x), 2, axis=-1)
        return _linear(p["w3"], jax.nn.silu(gate) * up)
    return _linear(p["fc2"], jax.nn.gelu(_linear(p["fc1"], x), approximate=False))


def _group_keys(rng: jax.Array, groups: int, group_ids: jax.Array | None) -> jax.Array:
    """One key per group, from the group's position in the global batch (``group_ids``, default 0, 1, ...): a
    group draws the same whichever micro-batch or device computes it."""
    ids = jnp.arange(groups) if group_ids is None else group_ids
    return jax.vmap(jax.random.fold_in, (None, 0))(rng, ids)


def _residual(x: jax.Array, branch, rate: float, train: bool, rng: jax.Array | None, groups: int = 1,
              group_ids: jax.Array | None = None, dense: bool = False) -> jax.Array:
    """``x + branch(x)`` with the official stochastic depth: above rate 0.1 the branch runs on a random subset
    of each of ``groups`` runs of consecutive rows (the official code: of each GPU's batch) and is added back
    scaled by group/subset; otherwise per-sample drop path.

    A group never mixes with another, and draws from its own key (``_group_keys``), so a device or a micro-batch
    that holds whole groups computes their subsets alone. ``dense`` runs the branch on every row and keeps the
    subset's: the same values, for groups split over several devices, where a gathered subset would be computed
    whole on each of them."""
    if not train or rate == 0.0:
        return x + branch(x)
    n = x.shape[0]
    keys = _group_keys(rng, groups, group_ids)
    x = x.reshape(groups, n // groups, *x.shape[1:])
    size = x.shape[1]
    if rate > 0.1:
        keep = max(int(size * (1 - rate)), 1)
        subset = jax.vmap(lambda k: jax.random.permutation(k, size)[:keep])(keys)
        if dense:
            kept = jax.vmap(lambda s: jnp.zeros(size, x.dtype).at[s].set(size / keep))(subset)
            x = x.reshape(n, *x.shape[2:])
            return x + branch(x) * kept.reshape(n, *(1,) * (x.ndim - 1))
        picked = jax.vmap(lambda rows, s: rows[s])(x, subset)  # a gather batched over groups, split like them
        update = branch(picked.reshape(groups * keep, *x.shape[2:])) * (size / keep)
        added = jax.vmap(lambda rows, s, u: rows.at[s].add(u))(x, subset, update.reshape(picked.shape))
        return added.reshape(n, *x.shape[2:])
    kept = jax.vmap(lambda k: jax.random.bernoulli(k, 1.0 - rate, (size, 1, 1)))(keys).astype(x.dtype)
    x = x.reshape(n, *x.shape[2:])
    return x + branch(x) * kept.reshape(n, 1, 1) / (1.0 - rate)


def block(p: dict, cfg: ViTConfig, x: jax.Array, *, rate: float = 0.0, train: bool = False, rng=None,
          groups: int = 1, group_ids: jax.Array | None = None, dense: bool = False) -> jax.Array:
    """One pre-norm transformer block with LayerScale; ``groups``, ``group_ids``, ``dense``: of the stochastic
    depth (``_residual``); ``groups`` also of the CPU attention's loop (``_attention_per_image``)."""
    k1, k2 = jax.random.split(rng) if rng is not None else (None, None)
    x = _residual(
        x,
        lambda y: _attention(p["attn"], cfg, _layer_norm(p["norm1"], y), groups) * p["ls1"]["gamma"],
        rate,
        train,
        k1,
        groups,
        group_ids,
        dense,
    )
    return _residual(x, lambda y: _mlp(p["mlp"], cfg, _layer_norm(p["norm2"], y)) * p["ls2"]["gamma"], rate, train, k2,
                     groups, group_ids, dense)


def encode(
    params: dict,
    cfg: ViTConfig,
    images: jax.Array,
    *,
    masks=None,
    train: bool = False,
    rng=None,
    depth: int | None = None,
    groups: int = 1,
    group_ids: jax.Array | None = None,
    remat: bool = False,
    dense: bool = False,
) -> jax.Array:
    """Tokens after the first ``depth`` blocks (all by default), before the final norm.

    ``remat`` keeps only each block's input for the backward pass, which recomputes the block from it: the
    activations held for the gradient shrink to one token array per block, for one more forward pass."""
    rates = cfg.drop_path_rates()
    if train and max(rates, default=0.0) > 0.0 and rng is None:
        raise ValueError(f"train=True with drop_path_rate={cfg.drop_path_rate} needs an rng key")
    x = embed_tokens(params, cfg, images, masks)
    for i in range(cfg.depth if depth is None else depth):
        key = jax.random.fold_in(rng, i) if rng is not None else None
        run = functools.partial(block, cfg=cfg, rate=rates[i], train=train, groups=groups, group_ids=group_ids,
                                dense=dense)
        if remat:
            run = jax.checkpoint(run)
        x = run(params[f"blocks_{i}"], x=x, rng=key)
    return x


@functools.partial(jax.jit, static_argnums=1, static_argnames=("train", "groups", "remat", "dense"))
def forward_features(
    params: dict,
    cfg: ViTConfig,
    images: jax.Array,
    *,
    masks: jax.Array | None = None,
    train: bool = False,
    rng: jax.Array | None = None,
    groups: int = 1,
    group_ids: jax.Array | None = None,
    remat: bool = False,
    dense: bool = False,
) -> dict:
    """The official ``forward_features`` outputs for NHWC images normalized with ImageNet mean/std.

    ``masks`` (N, patches) bool replaces those patch embeddings by the mask token (iBOT); ``train`` turns on
    drop path, which then needs ``rng`` and draws its batch subsets within ``groups`` runs of consecutive images
    (on the CPU attention also loops over the images of each group: split the batch over devices in whole groups),
    group ``j`` drawing from its position ``group_ids[j]`` in the global batch (``_residual``);
    ``remat`` recomputes each block in the backward pass (``encode``); ``dense`` computes the drop path's subsets
    on every row (``_residual``).
    """
    x = encode(params, cfg, images, masks=masks, train=train, rng=rng, groups=groups, group_ids=group_ids,
               remat=remat, dense=dense)
    x_norm = _layer_norm(params["norm"], x)
    r = cfg.num_registers
    return {
        "x_norm_clstoken": x_norm[:, 0],
        "x_norm_regtokens": x_norm[:, 1 : r + 1],
        "x_norm_patchtokens": x_norm[:, r + 1 :],
        "x_prenorm": x,
        "masks": masks,
    }


def cls_attention(params: dict, cfg: ViTConfig, images: jax.Array) -> jax.Array:
    """Last block's attention from CLS to every patch, per head: (N, heads, rows, cols), rows summing with
    the CLS and register columns (left out here) to one."""
    rows, cols = check_images(cfg, images)
    x = encode(params, cfg, images, depth=cfg.depth - 1)
    p = params[f"blocks_{cfg.depth - 1}"]
    qkv = _qkv(p["attn"], cfg, _layer_norm(p["norm1"], x))
    q, k = qkv[:, :, 0], qkv[:, :, 1]
    logits = jnp.einsum("nhd,nthd->nht", q[:, 0].astype(jnp.float32), k.astype(jnp.float32))
    probs = jax.nn.softmax(logits / np.sqrt(cfg.head_dim), axis=-1)
    patches = probs[:, :, 1 + cfg.num_registers :]
    return patches.reshape(images.shape[0], cfg.num_heads, rows, cols)
