"""The numpy and xla backends of ranking (one device, or sharded over a mesh) give the same results."""

import numpy as np
import pytest

from anonjax.parallel import make_mesh
from anonjax.retrieval import evaluate_scenario, linkage_rate, numpy_ranking, topk_cosine
from anonjax.retrieval.ties import tied_queries
from tests.retrieval.conftest import exact_embeddings


def tie_heavy(rng: np.random.Generator, n: int) -> np.ndarray:
    """Small integer rows: many exact ties, but cosines that are not exact in float32."""
    x = rng.integers(-2, 3, (n, 6)).astype(np.float32)
    x[np.linalg.norm(x, axis=1) < 0.5] = 1
    return x


def case(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(ground truth, evaluated) embeddings of one image set, half the evaluated rows re-drawn, and the queries
    (the first rows): exact cosines with 203 rows (5 rows pad the 8 devices' shards of 26; k = 40 exceeds a
    shard) or 41 rows, all queries; integer rows whose cosines round."""
    rng = np.random.default_rng(len(name))
    draw, n, n_queries = {"exact_padded": (exact_embeddings, 203, 21), "exact_square": (exact_embeddings, 41, 41),
                          "tie_heavy": (tie_heavy, 40, 16)}[name]
    gt = draw(rng, n)
    evaluated = np.where(rng.random((n, 1)) < 0.5, draw(rng, n), gt)
    return gt, evaluated, n_queries


def ranked(name: str, **backend) -> dict[str, np.ndarray]:
    """Every ranking computation of the case, by one backend (``backend``/``mesh`` keywords)."""
    gt, evaluated, n_queries = case(name)
    out = {}
    for k in (1, 40, len(gt)):
        out[f"topk_{k}"] = topk_cosine(evaluated[:n_queries], gt, k, chunk_size=8, **backend)
    for exclude_self in (False, True) if n_queries == len(gt) else (False,):
        r = evaluate_scenario(gt[:n_queries], gt, evaluated[:n_queries], evaluated, fraction=0.1,
                              exclude_self=exclude_self, chunk_size=8, n_bootstrap=10, **backend)
        out[f"scenario_{exclude_self}"] = (r.ap, r.ndcg, r.map_chance, r.mndcg_chance)
        if "mesh" not in backend:  # the ties are found on one device
            out[f"ties_{exclude_self}"] = tied_queries(gt[:n_queries], gt, fraction=0.1, exclude_self=exclude_self,
                                                       chunk_size=8, backend=backend["backend"])
    out["linkage"] = linkage_rate(evaluated, gt, chunk_size=8, **backend)
    return out


@pytest.mark.parametrize(("name", "backend"), [
    *((name, backend) for name in ("exact_padded", "exact_square")
      for backend in ("xla", "xla over 8 devices", "xla over 4x2 devices")),
    ("tie_heavy", "xla"),  # cosines that round: a database split over devices rounds them otherwise
])
def test_backends_rank_alike(name, backend):
    """Top-k scores and indices, tied queries and linkage bit for bit; AP and nDCG to the rounding of their sums
    (float32 on xla, float64 on numpy)."""
    mesh = {"xla": None, "xla over 8 devices": make_mesh(), "xla over 4x2 devices": make_mesh(fsdp=2)}[backend]
    want = ranked(name, backend="numpy")
    got = ranked(name, backend="xla", **({} if mesh is None else {"mesh": mesh}))
    assert got.keys() == want.keys() - ({} if mesh is None else {k for k in want if k.startswith("ties")})
    for key, value in got.items():
        if key.startswith("scenario"):
            np.testing.assert_allclose(value[:2], want[key][:2], rtol=0, atol=2e-7, err_msg=key)
            np.testing.assert_allclose(value[2:], want[key][2:], rtol=1e-6, err_msg=key)
        else:
            np.testing.assert_array_equal(value, want[key], err_msg=key)


def test_the_backend_named_is_the_one_that_runs(monkeypatch):
    """numpy selects every chunk on the host, xla never does; a mesh is only for xla."""
    calls = []
    original = numpy_ranking._smallest
    monkeypatch.setattr(numpy_ranking, "_smallest", lambda *a: calls.append(1) or original(*a))
    x = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    evaluate_scenario(x, x, x, x, fraction=0.2, n_bootstrap=2, backend="numpy")
    topk_cosine(x, x, 3, backend="numpy")
    assert len(calls) == 3  # the relevant sets and the evaluated top k of the one chunk, then the top-k
    evaluate_scenario(x, x, x, x, fraction=0.2, n_bootstrap=2, backend="xla")
    topk_cosine(x, x, 3, backend="xla", mesh=make_mesh())
    tied_queries(x, x, fraction=0.2, backend="xla")
    assert len(calls) == 3
    with pytest.raises(ValueError, match="backend 'numpy' runs on this host and takes no mesh"):
        topk_cosine(x, x, 3, mesh=make_mesh())
    with pytest.raises(ValueError, match="backend must be one of"):
        evaluate_scenario(x, x, x, x, backend="cpu")
