"""Accelerator check: the tests of the accelerator attention path, then throughput and model FLOP utilization.

    python -m scripts.device_check           # one GPU or TPU: at most --budget (450 s); one JSON object on stdout
    python -m scripts.device_check --tiny    # CPU sizes: the same parts on a tiny ViT, small arrays and batches
                                             # (a few minutes: each compile of the tiny train step takes ~30 s)

Parts, each under its own time budget (``--budgets``) and all under ``--budget`` seconds:

  tests      pytest on the attention-path tests (on an accelerator the default path, ``dot_product``, against
             the per-image form: float32 to 1e-5; bfloat16 equally accurate against float32 to 1e-3) and the
             Hugging Face parity forward tests: pass/fail counts
  embed      ViT-L/14 CLS embedding (``anonjax.models.embedding.embed``), bfloat16, 224 px: images/s, MFU
  train      the official ViT-L/14 train step (``configs/training.py``), bfloat16: images/s and MFU at the
             largest global batch that fits, remat off and on
  topk       exact cosine top-k (``topk_cosine``), 100,000 queries x 1,000,000 rows, d = 1024, k = 100
  anonymize  on-device pixelation, blur and masking of 64 canvases of 512 x 512 with 40 boxes each: images/s

Random weights and data of the right shapes; nothing is downloaded. FLOPs are XLA's count of the compiled
program (``cost_analysis()``, per device); MFU = that count / seconds / the device's peak dense bfloat16
FLOP/s from ``PEAK_BF16`` (null, with the device kind named, where the peak is unknown, e.g. on a CPU).

The device parts run in a child process (``scripts/supervisor.py``) that reports each result as it finishes. A
part that fails is reported with ``skipped`` and the reason; one that overruns its budget or ends the child keeps
what it had finished and says why under ``stopped`` (``skipped`` if nothing was), the child is replaced for the
parts left, and the JSON always comes out. The tests run first, with the device to themselves (alongside the other
parts with ``--tiny``). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from scripts import supervisor

ROOT = Path(__file__).resolve().parents[1]

PARTS = ("tests", "embed", "train", "topk", "anonymize")
DEVICE_PARTS = ("embed", "topk", "anonymize", "train")  # run order in the child: the longest and riskiest last
BUDGETS = {"tests": 75, "embed": 50, "train": 215, "topk": 70, "anonymize": 30}  # seconds
STARTUP_BUDGET = 90  # seconds for a child to import JAX and report its device
MIN_PART_S = 5  # a part is not started with less time left than this
UNFINISHED = "not finished: the part ran out of time or its process ended first"
LARGER_UNFINISHED = "larger batches not finished: the part ran out of time or its process ended first"
FLOPS_SOURCE = "XLA cost_analysis() of the compiled program, per device"
TINY_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"

# Peak dense bfloat16 FLOP/s of one device, by a substring of jax's device_kind; the first match wins.
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H200 NVL", 835e12),
    ("H100", 989e12),  # SXM
    ("H200", 989e12),  # SXM, and GH200
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("TPU v4", 275e12),
    ("TPU v5 lite", 197e12),
    ("TPU v6 lite", 918e12),
)

PYTEST_FULL = (
    "tests/models/test_attention_paths.py tests/models/test_dinov2_torch_parity.py "
    "-k 'attention_paths or matches_transformers or match_transformers'"
)
PYTEST_TINY = "tests/models/test_attention_paths.py"


def peak_bf16(kind: str) -> float | None:
    """Peak dense bf16 FLOP/s of a device of this kind, None when unknown."""
    return next((peak for name, peak in PEAK_BF16 if name.lower() in kind.lower()), None)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true",
                   help="CPU sizes (tiny ViT, small top-k, small batches) and a fast, unoptimizing XLA compile")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--budget", type=float, default=450.0, help="seconds for the whole check")
    p.add_argument("--budgets", default="", help="per-part seconds, e.g. 'train=300,topk=90'")
    p.add_argument("--pytest-args", default=None, help=f"pytest targets and options (default {PYTEST_FULL!r})")
    p.add_argument("--embed-model", default=None, help="default vitl14 (--tiny: vit_tiny14)")
    p.add_argument("--embed-batch", type=int, default=None, help="default 256 (--tiny: 8)")
    p.add_argument("--embed-size", type=int, default=None, help="image side in px, default 224 (--tiny: 56)")
    p.add_argument("--embed-iters", type=int, default=None, help="timed batches, default 10 (--tiny: 3)")
    p.add_argument("--train-preset", default=None, help="configs/training.py preset, default official (--tiny: tiny)")
    p.add_argument("--train-batches", default=None,
                   help="per-device batches to try without remat, default 128,64,32 (--tiny: 2)")
    p.add_argument("--train-batches-remat", default=None,
                   help="per-device batches to try with remat, default 512,256,128 (--tiny: 2)")
    p.add_argument("--train-steps", type=int, default=None, help="timed steps, default 5 (--tiny: 2)")
    p.add_argument("--topk-queries", type=int, default=None, help="default 100000 (--tiny: 2000)")
    p.add_argument("--topk-database", type=int, default=None, help="default 1000000 (--tiny: 20000)")
    p.add_argument("--topk-dim", type=int, default=None, help="default 1024 (--tiny: 64)")
    p.add_argument("--topk-k", type=int, default=None, help="default 100 (--tiny: 10)")
    p.add_argument("--topk-chunk", type=int, default=None,
                   help="queries per chunk, default 512 (--tiny: topk_cosine's own choice)")
    p.add_argument("--anon-batch", type=int, default=None, help="canvases per batch, default 64 (--tiny: 4)")
    p.add_argument("--anon-size", type=int, default=None, help="canvas side in px, default 512 (--tiny: 128)")
    p.add_argument("--anon-boxes", type=int, default=None, help="boxes per canvas, default 40 (--tiny: 10)")
    p.add_argument("--anon-iters", type=int, default=None, help="timed batches per method, default 5 (--tiny: 2)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # the child: parts to run
    p.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)  # the child: epoch seconds
    args = p.parse_args(argv)
    sizes = {  # option: (accelerator default, --tiny default)
        "pytest_args": (PYTEST_FULL, PYTEST_TINY),
        "embed_model": ("vitl14", "vit_tiny14"), "embed_batch": (256, 8), "embed_size": (224, 56),
        "embed_iters": (10, 3),
        "train_preset": ("official", "tiny"), "train_batches": ("128,64,32", "2"),
        "train_batches_remat": ("512,256,128", "2"), "train_steps": (5, 2),
        "topk_queries": (100_000, 2_000), "topk_database": (1_000_000, 20_000), "topk_dim": (1024, 64),
        "topk_k": (100, 10), "topk_chunk": (512, None),
        "anon_batch": (64, 4), "anon_size": (512, 128), "anon_boxes": (40, 10), "anon_iters": (5, 2),
    }
    for name, defaults in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, defaults[args.tiny])
    args.parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        p.error(f"unknown parts {unknown}; choose from {PARTS}")
    budgets = dict(BUDGETS)
    for item in filter(None, (s.strip() for s in args.budgets.split(","))):
        name, _, seconds = item.partition("=")
        if name not in budgets:
            p.error(f"--budgets: unknown part {name!r}")
        budgets[name] = float(seconds)
    args.part_budgets = budgets
    return args


# ----------------------------------------------------------------------------------------------- child side


def _log(message: str) -> None:
    print(f"[device_check] {message}", file=sys.stderr, flush=True)


def _flops(compiled) -> float | None:
    """XLA's FLOP count of a compiled program (per device), None where the backend gives none."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # not every backend counts
        return None
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    flops = (cost or {}).get("flops")
    return float(flops) if flops and flops > 0 else None


def _mfu(flops: float | None, seconds: float, peak: float | None) -> float | None:
    return None if flops is None or peak is None else flops / seconds / peak


def _is_oom(error: BaseException) -> bool:
    text = str(error).lower()
    return "resource_exhausted" in text or "out of memory" in text or "resource exhausted" in text


def _short(error: BaseException, limit: int = 400) -> str:
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


def _device_memory() -> int | None:
    """Bytes free for new buffers on the first device (None where the backend does not say, e.g. the CPU)."""
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    limit = stats.get("bytes_limit")
    return None if limit is None else limit - stats.get("bytes_in_use", 0)


def _needed_bytes(compiled) -> int | None:
    """Device memory the compiled program needs: arguments + outputs + temporaries - donated aliases."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # not every backend reports it
        return None
    if m is None:
        return None
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)


def device_info() -> dict:
    """The device the parts run on, its memory and its peak."""
    import jax

    device = jax.devices()[0]
    peak = peak_bf16(device.device_kind) if device.platform != "cpu" else None
    return {
        "kind": device.device_kind,
        "platform": device.platform,
        "count": jax.device_count(),
        "memory_bytes": _device_memory(),
        "peak_bf16_flops_per_s": peak,
        "peak_note": "dense bf16 spec by device kind" if peak else f"no peak known for {device.device_kind!r}",
    }


def _timed(fn: Callable[[], object], iters: int) -> float:
    """Mean seconds of ``fn`` (which blocks until its result is ready) over ``iters`` calls after one warm-up."""
    fn()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def part_embed(args: argparse.Namespace, deadline: float, partial: Callable[[dict], None]) -> dict:
    """CLS embedding throughput of one device in bfloat16 with ``embed`` (weights cast to bf16 once)."""
    import jax
    import jax.numpy as jnp

    from anonjax.models import dinov2

    cfg = dinov2.config(args.embed_model)
    params = jax.tree_util.tree_map(lambda x: x.astype(jnp.bfloat16), dinov2.init(jax.random.key(0), cfg))
    images = jax.random.normal(jax.random.key(1), (args.embed_batch, args.embed_size, args.embed_size, 3))
    fn = jax.jit(lambda p, x: dinov2.embed(p, cfg, x, dtype=jnp.bfloat16))
    start = time.perf_counter()
    compiled = fn.lower(params, images).compile()
    compile_s = time.perf_counter() - start
    flops = _flops(compiled)
    seconds = _timed(lambda: compiled(params, images).block_until_ready(), args.embed_iters)
    peak = peak_bf16(jax.devices()[0].device_kind) if jax.devices()[0].platform != "cpu" else None
    return {
        "model": cfg.name, "attention": _attention_kind(cfg), "dtype": "bfloat16", "batch": args.embed_batch,
        "image_size": args.embed_size, "iters": args.embed_iters, "compile_s": compile_s, "batch_s": seconds,
        "images_per_s": args.embed_batch / seconds, "flops_per_batch": flops,
        "tflops_per_s": None if flops is None else flops / seconds / 1e12, "mfu": _mfu(flops, seconds, peak),
    }


def _attention_kind(cfg) -> str:
    from anonjax.models.vit import attention_kind

    return attention_kind(cfg)


def _train_config(args: argparse.Namespace, batch: int, remat: bool):
    from configs.training import get_config

    c = get_config(args.train_preset)
    c.batch_size = batch
    c.remat = remat
    c.compute_dtype = "bfloat16"
    if c.group_size:  # groups must divide the batch
        c.group_size = math.gcd(c.group_size, batch)
    return c


def _train_views(c, mesh) -> dict:
    """Random crops and iBOT masks of one global batch, already on the devices."""
    import jax
    import numpy as np

    from anonjax import parallel
    from anonjax.ssl.loop import backbone_config
    from anonjax.ssl.masking import batch_masks

    b, g, lo, n_local = c.batch_size, c.crops.global_size, c.crops.local_size, c.crops.local_number
    grid = g // backbone_config(c).patch_size
    sharding = parallel.batch_sharding(mesh)
    normal = jax.jit(lambda key, shape: jax.random.normal(key, shape), static_argnums=1, out_shardings=sharding)
    masks = batch_masks((0,), 2 * b, (grid, grid)).reshape(b, 2, -1)
    return {
        "global": normal(jax.random.key(2), (b, 2, g, g, 3)),
        "local": normal(jax.random.key(3), (b, n_local, lo, lo, 3)),
        "masks": jax.device_put(np.asarray(masks), sharding),
    }


def _train_once(args: argparse.Namespace, mesh, batch: int, remat: bool, peak: float | None,
                limit: int | None) -> dict:
    """Compile and time the train step at one global batch; ``fits`` False (nothing run) when XLA's memory
    analysis exceeds the device memory."""
    import jax
    import numpy as np

    from anonjax.ssl.loop import compiled_programs, program_key

    c = _train_config(args, batch, remat)
    programs = compiled_programs(mesh, program_key(c))
    state = programs.init(None, np.uint32(c.seed))
    views = _train_views(c, mesh)
    start = time.perf_counter()
    compiled = programs.step.lower(state, views).compile()
    compile_s = time.perf_counter() - start
    needed = _needed_bytes(compiled)
    out = {"batch": batch, "compile_s": compile_s, "needed_bytes": needed, "state_bytes": _output_bytes(compiled)}
    if limit is not None and needed is not None and needed > limit:
        return {**out, "fits": False}
    state, metrics = compiled(state, views)  # warm-up
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(args.train_steps):
        state, metrics = compiled(state, views)
    jax.block_until_ready((state, metrics))
    seconds = (time.perf_counter() - start) / args.train_steps
    flops = _flops(compiled)
    return {
        **out, "fits": True, "step_s": seconds, "images_per_s": batch / seconds,
        "flops_per_step_per_device": flops, "mfu": _mfu(flops, seconds, peak),
        "loss": float(np.asarray(metrics["loss"])),
    }


def _output_bytes(compiled) -> int | None:
    with contextlib.suppress(Exception):
        return int(compiled.memory_analysis().output_size_in_bytes)
    return None


def _train_setting(args: argparse.Namespace, mesh, remat: bool, per_device: list[int], deadline: float,
                   peak: float | None, progress: Callable[[dict], None] = lambda result: None) -> dict:
    """The largest global batch of ``per_device`` x the device count that fits, compiled and timed.

    The smallest batch runs first, so that a result exists even if time runs out; XLA's memory analysis of each
    compiled batch predicts which larger ones fit, and the larger batches are tried from the largest predicted
    to fit down, until one runs. ``progress`` receives the best result so far.
    """
    if not per_device:
        return {"skipped": "no batch sizes given"}
    batches = sorted({per * mesh.size for per in per_device}, reverse=True)
    available = _device_memory()
    tries: list[dict] = []
    best = None
    estimate = None  # (fixed bytes, bytes per image) from the last compiled batch
    last_s = 0.0
    for batch in [batches[-1], *batches[:-1]]:
        if estimate is not None and available is not None:
            predicted = estimate[0] + estimate[1] * batch
            if predicted > 0.95 * available:
                tries.append({"batch": batch, "result": f"skipped: predicted to need {predicted / 2**30:.1f} GiB "
                                                        f"of {available / 2**30:.1f} GiB"})
                continue
        if time.time() + last_s > deadline:
            tries.append({"batch": batch, "result": "skipped: not enough of the time budget left"})
            break
        start = time.perf_counter()
        _log(f"train remat={remat} batch={batch}: compiling")
        try:
            result = _train_once(args, mesh, batch, remat, peak, available)
        except Exception as error:  # out of memory at compile or run: try the next batch
            if not _is_oom(error):
                raise
            tries.append({"batch": batch, "result": "out of memory: " + _short(error, 200)})
            result = None
        finally:
            gc.collect()
        last_s = time.perf_counter() - start
        if result is not None and result["needed_bytes"] is not None:
            fixed = result["state_bytes"] or 0
            estimate = (fixed, max(result["needed_bytes"] - fixed, 0) / batch)
        if result is not None and not result["fits"]:
            tries.append({"batch": batch, "result": f"does not fit: needs {result['needed_bytes'] / 2**30:.1f} GiB "
                                                    f"of {available / 2**30:.1f} GiB"})
        elif result is not None:
            best = result
            progress({**best, "tries": tries})
            if batch != batches[-1]:
                break  # the largest that fits: the larger ones were tried first
        if best is None:  # the smallest batch does not fit: no larger one will
            break
    if best is None:
        return {"skipped": f"the smallest batch ({batches[-1]}) did not run", "tries": tries}
    return {**best, "tries": tries}


def part_train(args: argparse.Namespace, deadline: float, partial: Callable[[dict], None]) -> dict:
    """The official train step at the largest global batch that fits, without and with remat."""
    import jax

    from anonjax import parallel

    mesh = parallel.make_mesh()
    c = _train_config(args, mesh.size, False)
    peak = peak_bf16(jax.devices()[0].device_kind) if jax.devices()[0].platform != "cpu" else None
    out: dict = {
        "preset": args.train_preset, "model": c.model, "dtype": "bfloat16", "devices": mesh.size,
        "crops": f"2x{c.crops.global_size} + {c.crops.local_number}x{c.crops.local_size}",
        "steps": args.train_steps, "images": "source images per step (each gives all the crops)",
    }
    settings = (("remat_off", False, args.train_batches), ("remat_on", True, args.train_batches_remat))
    for name, _, _ in settings:
        out[name] = {"skipped": UNFINISHED}
    for i, (name, remat, batches) in enumerate(settings):
        partial(out)
        share = (deadline - time.time()) / (len(settings) - i)  # what is left, shared with the settings to come
        per_device = [int(b) for b in batches.split(",") if b.strip()]

        def progress(result: dict, name: str = name) -> None:
            out[name] = {**result, "stopped": LARGER_UNFINISHED}  # replaced when the setting ends
            partial(out)

        try:
            out[name] = _train_setting(args, mesh, remat, per_device, time.time() + share, peak, progress)
        except Exception as error:
            out[name] = {"skipped": _short(error)}
    return out


def part_topk(args: argparse.Namespace, deadline: float, partial: Callable[[dict], None]) -> dict:
    """Exact cosine top-k of random queries against a random database (generated on the device): one call on the
    first chunk of queries (normalization, transfer, compile), then the timed call over all of them."""
    import jax
    import numpy as np

    from anonjax.backend import default_backend
    from anonjax.retrieval.chunks import rows_per_chunk
    from anonjax.retrieval.topk import topk_cosine

    start = time.perf_counter()
    gen = jax.jit(lambda key, n: jax.random.normal(key, (n, args.topk_dim)), static_argnums=1)
    database = np.asarray(gen(jax.random.key(4), args.topk_database))
    queries = np.asarray(gen(jax.random.key(5), args.topk_queries))
    chunk = rows_per_chunk(args.topk_queries, args.topk_database, args.topk_chunk)
    out: dict = {
        "queries": args.topk_queries, "database": args.topk_database, "dim": args.topk_dim, "k": args.topk_k,
        "chunk": chunk, "chunks": -(-args.topk_queries // chunk), "generate_s": time.perf_counter() - start,
        "backend": default_backend().backend,
    }
    start = time.perf_counter()
    topk_cosine(queries[:chunk], database, args.topk_k, chunk_size=chunk, backend=out["backend"])
    out["first_chunk_s"] = time.perf_counter() - start
    partial(out)
    start = time.perf_counter()
    scores, _ = topk_cosine(queries, database, args.topk_k, chunk_size=chunk, backend=out["backend"])
    seconds = time.perf_counter() - start
    return {**out, "seconds": seconds, "queries_per_s": args.topk_queries / seconds,
            "rows_sorted": bool(np.all(np.diff(scores, axis=1) <= 0))}


def part_anonymize(args: argparse.Namespace, deadline: float, partial: Callable[[dict], None]) -> dict:
    """Batched on-device anonymization of random canvases with random boxes, per method."""
    import jax
    import numpy as np

    from anonjax.anonymize.methods import METHODS, apply

    rng = np.random.default_rng(6)
    b, side, m = args.anon_batch, args.anon_size, args.anon_boxes
    images = jax.device_put(rng.integers(0, 256, (b, side, side, 3), dtype=np.uint8))
    size = rng.integers(max(2, side // 64), max(3, side // 4), (b, m, 2))
    corner = (rng.random((b, m, 2)) * (side - size)).astype(np.int64)
    boxes = jax.device_put(np.concatenate([corner, corner + size], axis=-1).astype(np.int32))
    selected = jax.device_put(np.ones((b, m), bool))
    out: dict = {"batch": b, "canvas": side, "boxes_per_canvas": m, "iters": args.anon_iters}
    out.update({method: {"skipped": UNFINISHED} for method in METHODS})
    for method in METHODS:
        partial(out)
        start = time.perf_counter()
        apply(images, boxes, selected, method, backend="xla").block_until_ready()
        compile_s = time.perf_counter() - start
        seconds = _timed(
            lambda method=method: apply(images, boxes, selected, method, backend="xla").block_until_ready(),
            args.anon_iters)
        out[method] = {"compile_s": compile_s, "batch_s": seconds, "images_per_s": b / seconds}
    return out


PART_FUNCTIONS = {"embed": part_embed, "train": part_train, "topk": part_topk, "anonymize": part_anonymize}


def worker(args: argparse.Namespace) -> None:
    """The worker: report the device, then run each part and report its result."""
    import jax

    supervisor.emit("info", device=device_info())
    for part in args.worker.split(","):
        supervisor.emit("start", part=part)
        _log(f"{part}: start")
        deadline = min(time.time() + args.part_budgets[part], args.deadline)
        start = time.perf_counter()
        try:
            result = PART_FUNCTIONS[part](args, deadline,
                                          lambda r, part=part: supervisor.emit("partial", part=part, result=r))
        except Exception as error:
            result = {"skipped": _short(error)}
        result["wall_s"] = time.perf_counter() - start
        supervisor.emit("done", part=part, result=result)
        _log(f"{part}: done in {result['wall_s']:.1f} s")
        gc.collect()
        jax.clear_caches()


# ---------------------------------------------------------------------------------------------- parent side


class PytestRun:
    """The attention-path pytest subset in a subprocess, started at once and ended if it runs past ``until``
    (epoch seconds); :meth:`result` waits for its pass/fail counts (from its JUnit XML).

    The tests' conftest defaults JAX to the CPU; an empty ``JAX_PLATFORMS`` keeps the accelerator. Float32
    matmuls run at full precision (the Hugging Face parity tests compare to 1e-4, beyond TF32 or bf16 passes).
    """

    def __init__(self, args: argparse.Namespace, until: float) -> None:
        self.env = dict(os.environ)
        self.env.setdefault("JAX_PLATFORMS", "")
        self.env.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
        self.shown = f"pytest -q {args.pytest_args}"
        self.tmp = tempfile.TemporaryDirectory()
        self.junit = Path(self.tmp.name) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={self.junit}",
                   *shlex.split(args.pytest_args)]
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.report: dict = {}
        self.waiter = threading.Thread(target=self._wait, args=(until,), daemon=True)
        self.waiter.start()

    def _wait(self, until: float) -> None:
        try:
            output, _ = self.proc.communicate(timeout=max(until - time.time(), 0.0))
        except subprocess.TimeoutExpired:
            supervisor.kill(self.proc)
            self.report = {"skipped": "pytest ran past its time budget", "command": self.shown,
                           "wall_s": time.perf_counter() - self.start}
            return
        wall = time.perf_counter() - self.start
        sys.stderr.write(output)
        counts = _junit_counts(self.junit)
        if counts is None:
            self.report = {"skipped": f"pytest wrote no report (exit code {self.proc.returncode}): "
                                      f"{output[-400:]}", "wall_s": wall}
            return
        self.report = {
            "command": self.shown, "exit_code": self.proc.returncode, **counts,
            "ok": self.proc.returncode == 0 and counts["passed"] > 0,
            "jax_platforms": self.env["JAX_PLATFORMS"] or "(any)",
            "matmul_precision": self.env["JAX_DEFAULT_MATMUL_PRECISION"],
            "summary": output.strip().splitlines()[-1] if output.strip() else "", "wall_s": wall,
        }

    def result(self) -> dict:
        """The counts, or why there are none."""
        self.waiter.join()
        self.tmp.cleanup()
        return self.report or {"skipped": "pytest gave no result", "wall_s": time.perf_counter() - self.start}


def _junit_counts(path: Path) -> dict | None:
    if not path.is_file():
        return None
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {key: sum(int(s.get(key, 0)) for s in suites) for key in ("tests", "failures", "errors", "skipped")}
    return {"passed": total["tests"] - total["failures"] - total["errors"] - total["skipped"],
            "failed": total["failures"], "errors": total["errors"], "skipped": total["skipped"]}


def run_device_parts(args: argparse.Namespace, argv: list[str], parts: list[str], deadline: float,
                     report: dict) -> None:
    """Run ``parts`` in worker processes; results go to ``report['parts']``, the device to ``report``."""
    env = dict(os.environ)
    if args.tiny:  # nothing is measured to the last percent on a CPU: compile fast, as the tests do
        env.setdefault("XLA_FLAGS", TINY_XLA_FLAGS)

    def command(pending: list[str]) -> list[str]:
        return [sys.executable, "-m", "scripts.device_check", *argv, "--worker", ",".join(pending),
                "--deadline", str(deadline)]

    budgets = supervisor.Budgets(parts=args.part_budgets, startup=STARTUP_BUDGET, min_part=MIN_PART_S)
    spent = f"not started: the overall budget of {args.budget:.0f} s was spent"
    info, results = supervisor.run_parts(command, parts, deadline, budgets, ROOT, env, spent)
    report["device"] = report["device"] or (info or {}).get("device")
    report["parts"].update(results)


def main(argv: list[str] | None = None) -> dict:
    """Run the check; print and return the JSON object."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return {}
    start = time.time()
    deadline = start + args.budget
    report: dict = {
        "check": "scripts/device_check.py", "tiny": args.tiny, "jax_version": importlib.metadata.version("jax"),
        "jaxlib_version": importlib.metadata.version("jaxlib"), "flops_source": FLOPS_SOURCE,
        "mfu": "achieved FLOP/s (XLA's count) / peak dense bf16 FLOP/s of one device", "budget_s": args.budget,
        "device": None, "parts": {},
    }
    tests = None
    if "tests" in args.parts:
        _log("tests: start")
        tests_until = min(time.time() + args.part_budgets["tests"], deadline)
        try:
            tests = PytestRun(args, tests_until)
        except Exception as error:
            report["parts"]["tests"] = {"skipped": _short(error), "wall_s": 0.0}
    # On an accelerator the tests have the device to themselves; with --tiny (a CPU) they run alongside.
    if tests is not None and not args.tiny:
        report["parts"]["tests"] = tests.result()
    device_parts = [p for p in DEVICE_PARTS if p in args.parts]
    if device_parts:
        run_device_parts(args, argv, device_parts, deadline, report)
    if tests is not None and "tests" not in report["parts"]:
        report["parts"]["tests"] = tests.result()
    report["parts"] = {p: report["parts"][p] for p in PARTS if p in report["parts"]}
    report["wall_s"] = time.time() - start
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
