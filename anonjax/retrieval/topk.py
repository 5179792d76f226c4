"""Exact cosine top-k of query rows against a database, chunked over queries, optionally sharded."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from anonjax import parallel
from anonjax.backend import Backend, check_backend
from anonjax.retrieval import numpy_ranking
from anonjax.retrieval.chunks import map_chunks, rows_per_chunk
from anonjax.retrieval.inputs import check_chunk_size, check_k, same_dims, unit_rows
from anonjax.retrieval.keys import canonical_zeros, ranking_keys, scores_of_keys


def cosine_scores(queries: jax.Array, database: jax.Array) -> jax.Array:
    """Inner products of unit rows in full float32 (no reduced-precision matmul on accelerators)."""
    return canonical_zeros(jnp.dot(queries, database.T, precision=lax.Precision.HIGHEST))


def without_self(scores: jax.Array, first_row) -> jax.Array:
    """``scores`` of the query rows ``first_row ...`` against the same images, each query's own item at -inf."""
    rows = first_row + lax.broadcasted_iota(jnp.int32, scores.shape, 0)
    return jnp.where(rows == lax.broadcasted_iota(jnp.int32, scores.shape, 1), -jnp.inf, scores)


@functools.partial(jax.jit, static_argnames="k")
def _topk_chunk(queries: jax.Array, database: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    return lax.top_k(cosine_scores(queries, database), k)


@jax.jit
def _keys_chunk(queries: jax.Array, database: jax.Array) -> jax.Array:
    return ranking_keys(cosine_scores(queries, database))


def _numpy_topk(keys: jax.Array, height: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The selection of :func:`_topk_chunk` by the numpy backend, from the ranking keys of :func:`_keys_chunk`,
    for the first ``height`` rows (the rest pad the last chunk: their tied zero scores would be the slowest to
    select)."""
    keys, columns = numpy_ranking.topk(np.asarray(keys)[:height], k)
    return scores_of_keys(keys), columns


@functools.lru_cache(maxsize=16)
def sharded_topk_chunk(mesh: Mesh, k: int, n_database: int, n_local: int):
    """A jitted (queries, database shard, row ids) -> top-k, the database rows split over ``mesh``.

    Each device ranks its own rows; padding rows (id >= n_database) score -inf and so lose to every
    real row. The partial lists are laid out in device order, that is by ascending row id, and each
    is sorted with ties by lower id, so one more ``top_k`` over them keeps the lower-index tie rule.
    """
    k_local = min(k, n_local)
    spec = parallel.batch_spec()

    def local(queries, shard, ids):
        scores = jnp.where(ids[None, :] < n_database, cosine_scores(queries, shard), -jnp.inf)
        values, positions = lax.top_k(scores, k_local)
        return values, ids[positions]

    partial_topk = jax.shard_map(
        local, mesh=mesh, in_specs=(P(), spec, spec), out_specs=(parallel.columns_spec(), parallel.columns_spec())
    )

    def merged(queries, shard, ids):
        values, ids = partial_topk(queries, shard, ids)
        values, positions = lax.top_k(values, k)
        return values, jnp.take_along_axis(ids, positions, axis=1)

    return jax.jit(merged, out_shardings=parallel.replicated(mesh))  # every process gets every row


def topk_cosine(
    queries, database, k: int, *, chunk_size: int | None = None, backend: Backend = "numpy",
    mesh: Mesh | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k database rows by cosine similarity for every query row.

    Rows are L2-normalized here. Returns ``(scores[Q, k] float32, indices[Q, k] int32)`` as numpy
    arrays, each row descending, ties broken by the lower database index. Queries are processed
    ``chunk_size`` rows at a time (default: as many as keep one chunk's scores near 16 MiB), so
    memory is O(chunk x N + Q x k). ``backend`` (``anonjax.backend``): ``numpy`` selects from each chunk's
    scores on this host; ``xla`` selects on the device and, with a ``mesh`` (``anonjax.parallel.make_mesh``),
    splits the database rows over all of its devices (of every process: each passes the same arrays) and
    merges the per-device top-k lists.
    """
    backend = check_backend(backend, mesh)
    q = unit_rows(queries, "queries")
    db = unit_rows(database, "database")
    same_dims(q, "queries", db, "database")
    n = db.shape[0]
    k = check_k(k, n)
    chunk = rows_per_chunk(q.shape[0], n, check_chunk_size(chunk_size))

    host = backend == "numpy"
    if mesh is None:
        db_device = jax.device_put(db)
        kernel = _keys_chunk if host else functools.partial(_topk_chunk, k=k)
        extra = ()
        place = jax.device_put
    else:
        db_padded, _ = parallel.pad_to_multiple(db, parallel.mesh_size(mesh))
        ids = np.arange(db_padded.shape[0], dtype=np.int32)
        shards = parallel.batch_sharding(mesh)
        db_device = jax.device_put(db_padded, shards)
        extra = (jax.device_put(ids, shards),)
        kernel = sharded_topk_chunk(mesh, k, n, db_padded.shape[0] // parallel.mesh_size(mesh))
        place = functools.partial(jax.device_put, device=parallel.replicated(mesh))

    scores = np.empty((q.shape[0], k), np.float32)
    indices = np.empty((q.shape[0], k), np.int32)

    def launch(start: int):  # every chunk the same height (the last one padded): one compilation
        return kernel(place(parallel.pad_to_multiple(q[start : start + chunk], chunk)[0]), db_device, *extra)

    def finish(start: int, outputs) -> None:
        height = min(chunk, q.shape[0] - start)
        values, columns = _numpy_topk(outputs, height, k) if host else outputs
        scores[start : start + height], indices[start : start + height] = (np.asarray(values)[:height],
                                                                            np.asarray(columns)[:height])

    map_chunks(launch, finish, q.shape[0], chunk, concurrent=mesh is None)
    return scores, indices
