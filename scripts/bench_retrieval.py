"""Benchmark: anonjax exact cosine top-k and mAP/mnDCG against well-known peers, in one run.

Top-k: anonjax ``topk_cosine`` vs faiss-cpu ``IndexFlatIP`` vs numpy (matmul + argpartition) on
the same unit-normalized embeddings. Metrics: anonjax ``evaluate_scenario`` vs a per-query loop of
scikit-learn ``average_precision_score`` plus a numpy nDCG. Every peer runs on the same machine in
the same process, in alternation, best of ``--repeats`` rounds each (on a shared machine, the least
disturbed run of every side); the script prints seconds and ratios.

    python -m scripts.bench_retrieval            # the sizes of the issue (takes minutes)
    python -m scripts.bench_retrieval --small    # a quick check
"""

from __future__ import annotations

import argparse
import os
from functools import partial

import numpy as np

from anonjax.backend import BACKENDS, default_backend
from anonjax.retrieval import evaluate_scenario, topk_cosine
from anonjax.retrieval.chunks import rows_per_chunk
from anonjax.retrieval.inputs import relevant_count
from scripts import benchmark_docs
from scripts.timing import best_of


def clustered(rng: np.random.Generator, n: int, dim: int, clusters: int = 50) -> np.ndarray:
    """Unit embeddings drawn around ``clusters`` centres, so that scores have structure."""
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    x = centres[rng.integers(0, clusters, n)] + 1.5 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def numpy_topk(queries: np.ndarray, database: np.ndarray, k: int, chunk: int = 1024):
    """Exact top-k with numpy: matmul, argpartition, then sort the k by (score desc, index asc)."""
    scores, indices = [], []
    for start in range(0, len(queries), chunk):
        s = queries[start : start + chunk] @ database.T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(s, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)
        indices.append(np.take_along_axis(part, order, axis=1))
        scores.append(np.take_along_axis(vals, order, axis=1))
    return np.concatenate(scores), np.concatenate(indices)


def compare_topk(name: str, scores, indices, ref_scores, ref_indices) -> None:
    same = np.mean([set(a) == set(b) for a, b in zip(indices, ref_indices, strict=True)])
    print(
        f"    vs {name}: identical index sets in {same:.2%} of rows; "
        f"max |score difference| (rank by rank) {np.abs(scores - ref_scores).max():.2e}"
    )


def bench_topk(args, rng: np.random.Generator) -> None:
    import faiss

    for dim in args.dims:
        database = clustered(rng, args.n, dim)
        queries = clustered(rng, args.queries, dim)
        print(f"\nexact top-{args.k}: {args.queries} queries x {args.n} items, d={dim}")
        warm_up = queries[: rows_per_chunk(len(queries), len(database), None)]  # one chunk: same shapes
        topk_cosine(warm_up, database, args.k, backend=args.backend)  # compile outside the timing
        index = faiss.IndexFlatIP(dim)
        index.add(database)
        (t_jax, t_faiss, t_np), outputs = best_of(
            partial(topk_cosine, queries, database, args.k, backend=args.backend),
            partial(index.search, queries, args.k),
            partial(numpy_topk, queries, database, args.k),
            rounds=args.repeats,
        )
        (jax_scores, jax_idx), (faiss_scores, faiss_idx), (np_scores, np_idx) = outputs
        print(f"    anonjax {t_jax:8.2f} s")
        print(f"    faiss   {t_faiss:8.2f} s   faiss/anonjax = {t_faiss / t_jax:.2f}")
        print(f"    numpy   {t_np:8.2f} s   numpy/anonjax = {t_np / t_jax:.2f}")
        compare_topk("faiss", jax_scores, jax_idx, faiss_scores, faiss_idx)
        compare_topk("numpy", jax_scores, jax_idx, np_scores, np_idx)


def sklearn_scenario(gt_queries, gt_database, queries, database, k: int):
    """The reference: similarities by numpy matmul, then one query at a time, scikit-learn AP and
    a numpy transcription of nDCG. Like ``evaluate_scenario`` it starts from the embeddings."""
    from sklearn.metrics import average_precision_score

    gt_scores, scores = gt_queries @ gt_database.T, queries @ database.T
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ap, ndcg = [], []
    for gt_row, row in zip(gt_scores, scores, strict=True):
        labels = np.zeros(len(row), bool)
        labels[np.argsort(-gt_row, kind="stable")[:k]] = True
        ap.append(average_precision_score(labels, row))
        top = np.argsort(-row, kind="stable")[:k]
        ideal = np.sort(gt_row)[::-1][:k]
        ndcg.append((gt_row[top] * discounts).sum() / (ideal * discounts).sum())
    return np.array(ap), np.array(ndcg)


def bench_metrics(args, rng: np.random.Generator) -> None:
    dim = args.metric_dim
    gt_database = clustered(rng, args.metric_items, dim)
    noisy = gt_database + 0.05 * rng.standard_normal(gt_database.shape).astype(np.float32)
    database = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    nq = args.metric_queries
    gt_queries, queries = gt_database[:nq], database[:nq]
    print(f"\nmAP + mnDCG: {nq} queries x {args.metric_items} items, d={dim}, fraction 0.05")
    print("    both sides start from the same embeddings and compute their own similarity matrices")
    evaluate_scenario(gt_queries, gt_database, queries, database, n_bootstrap=1, backend=args.backend)  # compile
    sub = min(args.sklearn_queries, nq)
    k = relevant_count(0.05, len(gt_database))
    (t_jax, t_sub), (result, (ap, ndcg)) = best_of(
        partial(evaluate_scenario, gt_queries, gt_database, queries, database, n_bootstrap=1, backend=args.backend),
        partial(sklearn_scenario, gt_queries[:sub], gt_database, queries[:sub], database, k),
        rounds=args.repeats,
    )
    t_sk = t_sub * nq / sub
    print(f"    anonjax {t_jax:8.2f} s   (all {nq} queries; mAP {result.map:.4f}, mnDCG {result.mndcg:.4f})")
    extrapolated = f"timed on {sub} queries, scaled to {nq}" if sub < nq else f"all {nq} queries"
    print(f"    sklearn {t_sk:8.2f} s   ({extrapolated})   sklearn/anonjax = {t_sk / t_jax:.1f}")
    ap_diff, ndcg_diff = np.abs(ap - result.ap[:sub]), np.abs(ndcg - result.ndcg[:sub])
    print(
        f"    on the {sub} timed queries: max |AP difference| {ap_diff.max():.2e} "
        f"({(ap_diff > 1e-6).sum()} queries above 1e-6), max |nDCG difference| {ndcg_diff.max():.2e} "
        f"({(ndcg_diff > 1e-6).sum()} above 1e-6); float32 scores that nearly tie can order differently"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="database rows for top-k")
    parser.add_argument("--queries", type=int, default=20_000, help="query rows for top-k")
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 1024])
    parser.add_argument("--k", type=int, default=1_000)
    parser.add_argument("--metric-queries", type=int, default=2_000)
    parser.add_argument("--metric-items", type=int, default=20_000)
    parser.add_argument("--metric-dim", type=int, default=384)
    parser.add_argument("--sklearn-queries", type=int, default=500, help="queries the sklearn loop is timed on")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each side's best time counts")
    parser.add_argument("--small", action="store_true", help="small sizes for a quick check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=BACKENDS, help="anonjax's backend (default: the platform's choice)")
    benchmark_docs.add_flag(parser)
    args = parser.parse_args()
    args.backend = args.backend or default_backend().backend
    with benchmark_docs.recorded("bench_retrieval", "Exact top-k and mAP/mnDCG", args.write_docs):
        run(args)


def run(args: argparse.Namespace) -> None:
    """Time each side of the comparison; print the times, ratios and agreement."""
    if args.small:
        args.n, args.queries, args.dims, args.k = 4_000, 2_000, [64, 256], 200
        args.metric_queries, args.metric_items, args.sklearn_queries = 400, 4_000, 100
    print(f"{os.cpu_count()} CPU cores, anonjax's {args.backend} backend; best of {args.repeats} alternating rounds "
          "per side")
    rng = np.random.default_rng(args.seed)
    bench_topk(args, rng)
    bench_metrics(args, rng)


if __name__ == "__main__":
    main()
