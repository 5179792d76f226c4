"""The embeddings a study is scored on, read and checked: the ground truth (the Unadapted model's embeddings of
the original images), every other file's rows aligned with it, the class labels of the probes, and the files
the scores depend on. Every problem is a ``DatasetError`` naming the file."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import ml_collections
import numpy as np
from jax.sharding import Mesh

from anonjax.backend import Backend, default_backend
from anonjax.data import SPLITS
from anonjax.errors import DatasetError
from anonjax.files import sha256_file
from anonjax.layout import (
    ORIGINAL,
    UNADAPTED,
    embedding_path,
    ids_path,
    labels_path,
    load_array,
    load_embeddings,
)
from anonjax.parallel import make_mesh, mesh_size
from anonjax.retrieval.inputs import real_rows, relevant_count
from anonjax.retrieval.ties import tied_queries

if TYPE_CHECKING:
    from anonjax.retrieval.study_grid import Scenario

log = logging.getLogger(__name__)

ALL = "all"  # evaluate.split: retrieval over every embedded split
SELF_SHARE_LIMIT = 0.05  # self_matches "auto": a self-match above this share of the relevant set is left out
MAX_TIED_SHARE = 0.5  # above this share of queries without a defined relevant set the split is not scored


def test_split(ev: ml_collections.ConfigDict) -> str:
    """The split the probes are tested on: ``test_split``, else the retrieval split (``val`` when that is all)."""
    if ev.test_split:
        return ev.test_split
    return "val" if ev.split == ALL else ev.split


class Inputs(NamedTuple):
    """What the scores are computed on: the Unadapted original embeddings of the retrieval set (the ground
    truth), their ids, the splits they come from, whether a query's own image leaves its ranking, the queries
    whose relevant set the ground truth leaves undecided (left out of every score), the ranking backend, and the
    devices (of every process) that backend splits the work over (None: one device, or none to split over)."""

    gt: np.ndarray
    ids: list[str]
    splits: tuple[str, ...]
    sizes: tuple[int, ...]
    exclude_self: bool
    tied: np.ndarray
    backend: Backend
    mesh: Mesh | None


def read_inputs(ev: ml_collections.ConfigDict, root: Path, splits: Sequence[str]) -> Inputs:
    """The ground truth of ``splits`` and what follows from it; a DatasetError naming its files where it is too
    small to rank or where it leaves most relevant sets undecided."""
    files = [embedding_path(root, UNADAPTED, ORIGINAL, s) for s in splits]
    parts = [read_embeddings(root, UNADAPTED, ORIGINAL, s) for s in splits]
    same_width(list(zip(files, (a for a, _ in parts), strict=True)))
    gt = np.concatenate([a for a, _ in parts])
    exclude_self = _exclude_self(ev, len(gt))
    named = ", ".join(map(str, files))
    ranked = len(gt) - exclude_self
    k = relevant_count(ev.fraction, ranked)
    if k >= ranked:  # every ranked image relevant: any ranking scores 100%
        own = " besides its own" if exclude_self else ""
        what = (f"each query ranks {ranked} image(s){own}, and all are in its relevant set (k = {k})" if ranked
                else "a query has no image to rank besides its own")
        fix = f"at least {2 + exclude_self} rows are needed" if ev.fraction < 1 else "lower evaluate.fraction"
        raise DatasetError(f"{named}: {len(gt)} row(s) are too few to score retrieval: {what}; {fix}")
    backend, mesh = _devices()
    tied = tied_queries(gt, gt, fraction=ev.fraction, exclude_self=exclude_self, backend=backend)
    if tied.mean() > MAX_TIED_SHARE:
        flat = " (dimension 1: every cosine is +1 or -1)" if gt.shape[1] == 1 else ""
        raise DatasetError(
            f"{named}: {tied.sum()} of {len(gt)} queries (more than {MAX_TIED_SHARE:.0%}) have no defined relevant "
            f"set: their k-th and (k+1)-th most similar images (k = {k}) have the same cosine{flat}, so row order, "
            "not the embeddings, would decide what is relevant. Check that the ground-truth rows differ")
    return Inputs(gt, _joined_ids(root, splits, [i for _, i in parts]), tuple(splits),
                  tuple(len(i) for _, i in parts), exclude_self, tied, backend, mesh)


def same_width(named: Sequence[tuple[Path, np.ndarray]]) -> None:
    """Embeddings compared with one another have one dimension; a DatasetError names two files that differ."""
    (first, reference), *rest = named
    for path, array in rest:
        if array.shape[1] != reference.shape[1]:
            raise DatasetError(f"{path} has dimension {array.shape[1]}, {first} has {reference.shape[1]}: every "
                               "variant and split of a model must be embedded by that one model")


def _devices() -> tuple[Backend, Mesh | None]:
    """The ranking backend for the devices of every process (``anonjax.backend``), logged with its reason, and the
    mesh of those devices that the xla backend splits the work over; None for numpy, or where there is one device
    (the unsharded path overlaps the chunks' selections in threads: ``retrieval.chunks.map_chunks``)."""
    mesh = make_mesh()
    backend, reason = default_backend(mesh)
    log.info("evaluate: ranking with the %s backend: %s", backend, reason)
    return backend, mesh if backend == "xla" and mesh_size(mesh) > 1 else None


def retrieval_splits(root: Path, split: str) -> tuple[str, ...]:
    """The splits retrieval runs on: ``split``, or with ``all`` every split with Unadapted original embeddings."""
    if split != ALL:
        return (split,)
    found = tuple(s for s in SPLITS if embedding_path(root, UNADAPTED, ORIGINAL, s).is_file())
    if not found:
        raise DatasetError(f"no Unadapted original embeddings of any split ({', '.join(SPLITS)}) in {root}")
    return found


def _exclude_self(ev: ml_collections.ConfigDict, n: int) -> bool:
    """Whether a query's own image leaves its ranking: as configured, or with ``auto`` when it would be more than
    ``SELF_SHARE_LIMIT`` of its relevant set (1/k)."""
    if ev.self_matches != "auto":
        return ev.self_matches == "exclude"
    return 1 / relevant_count(ev.fraction, n) > SELF_SHARE_LIMIT


def probes_wanted(ev: ml_collections.ConfigDict, root: Path) -> bool:
    """Whether the downstream probes run: asked for, and labels of both splits exist."""
    if not ev.probes:
        return False
    if not all(labels_path(root, s).is_file() for s in (ev.train_split, test_split(ev))):
        log.warning("evaluate: no labels of splits %s and %s in %s; downstream probes are skipped",
                    ev.train_split, test_split(ev), root / "labels")
        return False
    return True


def input_files(ev: ml_collections.ConfigDict, root: Path, splits: Sequence[str], grid: list[Scenario],
                 probes: bool) -> list[Path]:
    """Every file the evaluation reads: embeddings, the id lists beside them, and labels for the probes."""
    arrays = [embedding_path(root, UNADAPTED, ORIGINAL, s) for s in splits]
    for sc in grid:
        arrays += [embedding_path(root, sc.model.name, v, s) for v in (sc.variant.name, ORIGINAL) for s in splits]
    if probes:
        for split in (ev.train_split, test_split(ev)):
            arrays.append(embedding_path(root, UNADAPTED, ORIGINAL, split))
            arrays += [embedding_path(root, sc.model.name, sc.variant.name, split) for sc in grid]
    files = set(arrays) | {ids_path(p) for p in arrays}
    if probes:
        files |= {labels_path(root, ev.train_split), labels_path(root, test_split(ev))}
    return sorted(files)


def file_digests(root: Path, files: list[Path]) -> list[tuple[str, str]]:
    """Name and SHA-256 of every input file that exists: results depend on their contents, not their dates."""
    return [(str(p.relative_to(root)), sha256_file(p)) for p in files if p.is_file()]


def read_embeddings(root: Path, model: str, variant: str, split: str) -> tuple[np.ndarray, list[str]]:
    """Embeddings and their ids, every row finite and non-zero; a DatasetError names the file."""
    array, ids = load_embeddings(root, model, variant, split)
    try:
        return real_rows(array, str(embedding_path(root, model, variant, split))), ids
    except ValueError as e:
        raise DatasetError(str(e)) from None


def _joined_ids(root: Path, splits: Sequence[str], ids: Sequence[list[str]]) -> list[str]:
    """The ids of several splits one after the other; they must name different images."""
    joined = [i for part in ids for i in part]
    if len(set(joined)) != len(joined):
        raise DatasetError(f"the Unadapted original embeddings of splits {', '.join(splits)} in {root} share image "
                           "ids: they cannot be evaluated as one set")
    return joined


def aligned(root: Path, model: str, variant: str, data: Inputs) -> np.ndarray:
    """Embeddings of the retrieval set whose rows are the images of the ground truth, in its order."""
    ends = np.cumsum(data.sizes)
    parts = [aligned_split(root, model, variant, split, data.ids[end - size:end])
             for split, size, end in zip(data.splits, data.sizes, ends, strict=True)]
    same_width([(embedding_path(root, model, variant, s), a) for s, a in zip(data.splits, parts, strict=True)])
    return np.concatenate(parts)


def aligned_split(root: Path, model: str, variant: str, split: str, reference_ids: list[str]) -> np.ndarray:
    """Embeddings whose rows are the images of the Unadapted original embeddings of ``split``, in their order."""
    array, ids = read_embeddings(root, model, variant, split)
    if ids != reference_ids:
        raise DatasetError(_misaligned(embedding_path(root, model, variant, split), ids,
                                       embedding_path(root, UNADAPTED, ORIGINAL, split), reference_ids))
    return array


def _misaligned(path: Path, ids: list[str], reference: Path, reference_ids: list[str]) -> str:
    """Why the rows of ``path`` are not the reference's images, naming both files and the first difference."""
    if len(ids) != len(reference_ids):
        difference = f"{len(ids)} rows against {len(reference_ids)}"
    else:
        i = next(i for i, (a, b) in enumerate(zip(ids, reference_ids, strict=True)) if a != b)
        difference = f"row {i} is image {ids[i]!r} there but {reference_ids[i]!r} in the Unadapted one"
    return (f"rows of {path} (ids: {_ids_source(path)}) are not the images of the Unadapted original embeddings "
            f"{reference} (ids: {_ids_source(reference)}) in the same order: {difference}. Write every embedding "
            "file of a split with the rows and ids of the Unadapted original one")


def _ids_source(path: Path) -> str:
    """The id list of an embedding file, or how its rows count without one."""
    ids = ids_path(path)
    return str(ids) if ids.is_file() else f"{ids} is missing, so rows count as 0, 1, ..."


def read_labels(root: Path, split: str, n: int) -> np.ndarray:
    """Class ids of ``split``, one per row of its Unadapted original embeddings."""
    path = labels_path(root, split)
    labels = load_array(path)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise DatasetError(f"{path} must hold one non-negative integer class id per image, "
                           f"got a {labels.dtype} array of shape {labels.shape}")
    if len(labels) != n:
        raise DatasetError(f"{path} holds {len(labels)} labels but the Unadapted original embeddings of {split!r} "
                           f"in {root} have {n} rows")
    return labels
