"""CLS embeddings (the retrieval descriptor): a jitted batch function and the loop that embeds a stream of
batches, in one or several views, over every device of every host, to files."""

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

from anonjax import hosts, parallel
from anonjax.files import atomic_open, save_npy
from anonjax.layout import ids_path
from anonjax.models.vit import check_images, compiler_options, forward_features
from anonjax.models.vit_config import ViTConfig
from anonjax.parallel import batch_sharding, mesh_size, pad_to_multiple, replicated


def _cls(params: dict, images: jax.Array, cfg: ViTConfig, dtype, groups: int = 1) -> jax.Array:
    """``groups``: the devices the batch is split over, so that each loops over its own images (``vit``)."""
    cast = lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x
    out = forward_features(jax.tree_util.tree_map(cast, params), cfg, cast(images), groups=groups)
    return out["x_norm_clstoken"].astype(jnp.float32)


@functools.cache
def _cls_embedding():
    """``_cls`` jitted with the compiler options of the default backend (known once JAX is initialized)."""
    return jax.jit(_cls, static_argnames=("cfg", "dtype", "groups"), compiler_options=compiler_options())


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
    (``jax.device_put(params, parallel.replicated(mesh))``) to avoid copying them on every call. Without a mesh it
    also runs inside a jitted function.
    """
    check_images(cfg, images)
    if mesh is None:
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((params, images))):
            return _cls(params, images, cfg, jnp.dtype(dtype))  # in a caller's jit: JAX takes compiler options there
        return _cls_embedding()(params, jnp.asarray(images), cfg, jnp.dtype(dtype))
    padded, n = pad_to_multiple(np.asarray(images), mesh_size(mesh))
    sharded = jax.device_put(padded, batch_sharding(mesh))
    return _cls_embedding()(_on_mesh(params, mesh), sharded, cfg, jnp.dtype(dtype), mesh_size(mesh))[:n]


@functools.lru_cache(maxsize=8)
def gathered_embedding(mesh: Mesh, cfg: ViTConfig, dtype):
    """(params, images) -> CLS embeddings: a batch split over ``mesh``, returned whole to every process; compiled
    with the options of the mesh's platform."""
    return jax.jit(functools.partial(_cls, cfg=cfg, dtype=dtype, groups=mesh_size(mesh)),
                   out_shardings=parallel.replicated(mesh),
                   compiler_options=compiler_options(mesh.devices.flat[0].platform))


def embed_to_files(
    params: dict,
    cfg: ViTConfig,
    batches: Iterable[tuple[Sequence[str], Mapping[str, np.ndarray]]],
    paths: Mapping[str, str | os.PathLike],
    *,
    mesh: Mesh | None = None,
    batch_size: int | None = None,
    dtype=jnp.float32,
    total: int | None = None,
    desc: str = "embed",
) -> dict[str, np.ndarray]:
    """Embed a stream of global batches over every device of ``mesh`` (default: all devices of all processes)
    into one float32 ``.npy`` per view at ``paths[view]``, the ids beside each.

    Each batch is ``(ids, {view: images})``: the ids of at most ``batch_size`` images (a multiple of the mesh
    size; default the first batch's length rounded up to one) and, for every view, this process's rows of them:
    ``parallel.process_rows(mesh, batch_size)`` below ``len(ids)``, in that order (with one process: all of
    them), so that each host reads only its share. Several views of the same images (the original and its
    anonymized variants) go through one pass. Every process receives every row; the main process writes the
    files, atomically after the last batch. Row ``i`` of every array belongs to ``ids[i]`` of its
    ``<stem>.ids.json``, and the rows equal a single-device run. A batch is dispatched before the previous one
    is copied back. ``total`` (number of images) sizes the progress bar. Duplicate ids are refused.
    """
    mesh = parallel.make_mesh() if mesh is None else mesh
    params = _on_mesh(params, mesh)
    rows: dict[str, list[np.ndarray]] = {view: [] for view in paths}
    all_ids: list[str] = []
    pending: tuple[dict[str, jax.Array], int] | None = None
    size = batch_size
    fn = gathered_embedding(mesh, cfg, jnp.dtype(dtype))

    def collect(bar) -> None:
        outs, n = pending
        for view, out in outs.items():
            rows[view].append(np.asarray(out)[:n])
        bar.update(n)

    with tqdm(total=total, desc=desc, unit="img", disable=not hosts.is_main()) as bar:
        for ids, views in batches:
            ids = [str(i) for i in ids]
            if set(views) != set(paths):
                raise ValueError(f"a batch holds views {sorted(views)}, expected {sorted(paths)}")
            if size is None:
                size = -(-len(ids) // parallel.mesh_size(mesh)) * parallel.mesh_size(mesh)
            if size % parallel.mesh_size(mesh):
                raise ValueError(f"batch_size {size} is not a multiple of the {parallel.mesh_size(mesh)} devices")
            if len(ids) > size:
                raise ValueError(f"batch of {len(ids)} images is larger than the batch size ({size})")
            mine = parallel.process_rows(mesh, size)
            local = sum(row < len(ids) for row in mine)
            outs = {}
            for view, images in views.items():
                if len(images) != local:
                    raise ValueError(f"batch starting at id {ids[:1]} has {len(ids)} ids, of which this process "
                                     f"supplies {local}, but {len(images)} images")
                check_images(cfg, images)
                images = np.asarray(images, np.float32)
                padded = np.zeros((len(mine), *images.shape[1:]), np.float32)
                padded[:local] = images
                sharded = jax.make_array_from_process_local_data(parallel.batch_sharding(mesh), padded,
                                                                 (size, *padded.shape[1:]))
                outs[view] = fn(params, sharded)
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
    if hosts.is_main():
        for view, path in paths.items():
            save_npy(path, arrays[view])
            with atomic_open(ids_path(path), "w", encoding="utf-8") as f:
                json.dump(all_ids, f)
    return arrays
