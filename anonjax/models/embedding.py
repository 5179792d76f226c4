"""CLS embeddings (the retrieval descriptor): a jitted batch function and the loop that embeds a stream of
batches, in one or several views, to files."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from tqdm.auto import tqdm

from anonjax.files import atomic_open, save_npy
from anonjax.layout import ids_path
from anonjax.models.vit import check_images, forward_features
from anonjax.models.vit_config import ViTConfig
from anonjax.parallel import batch_sharding, mesh_size, pad_to_multiple, replicated


@functools.partial(jax.jit, static_argnames=("cfg", "dtype"))
def _cls_embedding(params: dict, images: jax.Array, cfg: ViTConfig, dtype) -> jax.Array:
    cast = lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x
    out = forward_features(jax.tree_util.tree_map(cast, params), cfg, cast(images))
    return out["x_norm_clstoken"].astype(jnp.float32)


def _on_mesh(params: dict, mesh: Mesh) -> dict:
    """Leaves already placed on ``mesh`` stay as they are (e.g. FSDP-sharded); others are replicated."""

    def place(x):
        sharding = getattr(x, "sharding", None)
        if isinstance(sharding, NamedSharding) and sharding.mesh == mesh:
            return x
        return jax.device_put(x, replicated(mesh))

    return jax.tree_util.tree_map(place, params)


def embed(params: dict, cfg: ViTConfig, images, *, mesh: Mesh | None = None, dtype=jnp.float32) -> jax.Array:
    """(N, D) float32 CLS embeddings of NHWC ImageNet-normalized images, computed in ``dtype``.

    With a ``mesh`` the batch is padded to a multiple of the device count, split over all devices, and the
    padding dropped from the result. Put ``params`` on the mesh once beforehand
    (``jax.device_put(params, parallel.replicated(mesh))``) to avoid copying them on every call.
    """
    check_images(cfg, images)
    if mesh is None:
        return _cls_embedding(params, jnp.asarray(images), cfg, jnp.dtype(dtype))
    padded, n = pad_to_multiple(np.asarray(images), mesh_size(mesh))
    sharded = jax.device_put(padded, batch_sharding(mesh))
    return _cls_embedding(_on_mesh(params, mesh), sharded, cfg, jnp.dtype(dtype))[:n]


def embed_to_files(
    params: dict,
    cfg: ViTConfig,
    batches: Iterable[tuple[Sequence[str], Mapping[str, np.ndarray]]],
    paths: Mapping[str, str | os.PathLike],
    *,
    mesh: Mesh | None = None,
    dtype=jnp.float32,
    total: int | None = None,
    desc: str = "embed",
) -> dict[str, np.ndarray]:
    """Embed a stream of ``(ids, {view: images})`` batches into one float32 ``.npy`` per view at ``paths[view]``,
    the ids beside each.

    Several views of the same images (the original and its anonymized variants) go through one pass, so the
    images are read once. Row ``i`` of every array belongs to ``ids[i]`` of its ``<stem>.ids.json``; all files
    are written atomically after the last batch. Every batch is padded to the first batch's size so that one
    compiled function serves them all; a batch is dispatched before the previous one is copied back.
    ``total`` (number of images) sizes the progress bar. Duplicate ids are refused.
    """
    if mesh is not None:
        params = _on_mesh(params, mesh)
    rows: dict[str, list[np.ndarray]] = {view: [] for view in paths}
    all_ids: list[str] = []
    pending: tuple[dict[str, jax.Array], int] | None = None
    size = None

    def collect(bar) -> None:
        outs, n = pending
        for view, out in outs.items():
            rows[view].append(np.asarray(out)[:n])
        bar.update(n)

    with tqdm(total=total, desc=desc, unit="img") as bar:
        for ids, views in batches:
            ids = [str(i) for i in ids]
            if set(views) != set(paths):
                raise ValueError(f"a batch holds views {sorted(views)}, expected {sorted(paths)}")
            outs = {}
            for view, images in views.items():
                if len(ids) != len(images):
                    raise ValueError(f"batch starting at id {ids[:1]} has {len(ids)} ids but {len(images)} images")
                size = size or len(images)
                if len(images) > size:
                    raise ValueError(f"batch of {len(images)} images is larger than the first batch ({size})")
                padded, _ = pad_to_multiple(np.asarray(images), size)
                outs[view] = embed(params, cfg, padded, mesh=mesh, dtype=dtype)
            if pending is not None:
                collect(bar)
            pending = (outs, len(ids))
            all_ids.extend(ids)
        if pending is not None:
            collect(bar)
    if len(set(all_ids)) != len(all_ids):
        seen: set[str] = set()
        dup = next(i for i in all_ids if i in seen or seen.add(i))
        raise ValueError(f"image id {dup!r} occurs more than once; embeddings must align one row per id")
    arrays = {view: np.concatenate(r).astype(np.float32) if r else np.zeros((0, cfg.embed_dim), np.float32)
              for view, r in rows.items()}
    for view, path in paths.items():
        save_npy(path, arrays[view])
        with atomic_open(ids_path(path), "w", encoding="utf-8") as f:
            json.dump(all_ids, f)
    return arrays
