"""The privacy side of the trade-off: how often an anonymized image still finds its own original."""

from __future__ import annotations

import numpy as np
from jax.sharding import Mesh

from anonjax.backend import Backend
from anonjax.retrieval.inputs import same_dims, same_rows, unit_rows
from anonjax.retrieval.topk import topk_cosine


def linkage_rate(anonymized, originals, *, chunk_size: int | None = None, backend: Backend = "numpy",
                 mesh: Mesh | None = None) -> float:
    """Fraction of anonymized rows whose nearest original (cosine) is their own original.

    Row i of ``anonymized`` is the anonymized copy of row i of ``originals``, both embedded by the
    evaluated model. Ties go to the lower index, as in every ranking here. 0 means no anonymized
    image links back by nearest neighbour; 1 means all do. ``backend`` and ``mesh`` as in ``topk_cosine``.
    """
    anon = unit_rows(anonymized, "anonymized")
    orig = unit_rows(originals, "originals")
    same_dims(anon, "anonymized", orig, "originals")
    same_rows(anon, "anonymized", orig, "originals", "row i of both must be the same image")
    _, nearest = topk_cosine(anon, orig, 1, chunk_size=chunk_size, backend=backend, mesh=mesh)
    return float(np.mean(nearest[:, 0] == np.arange(anon.shape[0])))
