"""Benchmark of the DINOv2 train step: images/s and model FLOP utilization (MFU), against a PyTorch peer.

    python -m scripts.bench_train          # tiny ViT, small crops, CPU
    python -m scripts.bench_train --model vitl14 --official --batch 32 --dtype bfloat16  # accelerator
    python -m scripts.bench_train --batch 16 --micro-batch 4 --no-peer   # the cost of accumulation

anonjax: the compiled train step (teacher on 2 global crops, student on global + local crops, DINO and
iBOT heads, losses, AdamW, EMA) on random crops, data pipeline excluded. FLOPs are XLA's count of the
compiled step; MFU = FLOPs / time / peak, with the peak of the device (``--peak-tflops`` to override).

Peer (same crops, same backbone size): Hugging Face ``Dinov2Model`` in PyTorch, teacher forward without
gradients, student forward and backward, AdamW step; no heads or losses, so the peer does less work.

``--micro-batch M`` also times the same step accumulated over micro-batches of M images (``train.micro_batch``),
against the whole batch's step in the same run: the price of exact accumulation. Both use groups of
``gcd(group_size, M)`` images, so that they compute the same step.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import time
from pathlib import Path

import jax
import numpy as np

from anonjax import parallel
from anonjax.ssl.loop import backbone_config, compiled_programs, program_key
from anonjax.ssl.masking import batch_masks
from configs.training import get_config
from scripts import benchmark_docs

PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0}  # dense bf16


def device_peak_tflops() -> tuple[float, str]:
    """Peak dense TFLOP/s of one device (all local devices together for CPU) and how it was obtained."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        for name, peak in PEAK_TFLOPS.items():
            if name in device.device_kind:
                return peak * jax.local_device_count(), f"{device.device_kind} bf16 dense spec"
        return float("nan"), f"unknown peak for {device.device_kind}; pass --peak-tflops"
    text = Path("/proc/cpuinfo").read_text()
    mhz = float(re.search(r"cpu MHz\s*:\s*([\d.]+)", text).group(1))
    per_cycle = 64 if "avx512f" in text else 32  # f32 FLOPs per cycle per core with two FMA units
    cores = os.cpu_count() or 1
    return cores * mhz * 1e6 * per_cycle / 1e12, f"{cores} cores x {mhz:.0f} MHz x {per_cycle} f32 FLOP/cycle"


def config(args) -> object:
    c = get_config("official" if args.official else "tiny")
    c.model = args.model
    c.batch_size = args.batch
    c.group_size = math.gcd(c.group_size, args.batch, args.micro_batch)  # groups that divide the (micro-)batch
    c.compute_dtype = args.dtype
    c.remat = args.remat
    c.drop_path_rate = 0.0
    return c


def views(c, rng: np.random.Generator) -> dict:
    b, g, lo = c.batch_size, c.crops.global_size, c.crops.local_size
    grid = g // backbone_config(c).patch_size
    return {
        "global": rng.normal(size=(b, 2, g, g, 3)).astype(np.float32),
        "local": rng.normal(size=(b, c.crops.local_number, lo, lo, 3)).astype(np.float32),
        "masks": batch_masks((0,), 2 * b, (grid, grid)).reshape(b, 2, -1),
    }


def bench_anonjax(c, batch: dict, steps: int) -> tuple[float, float]:
    """(seconds per step, XLA FLOPs per step)."""
    mesh = parallel.make_mesh(fsdp=c.fsdp)
    programs = compiled_programs(mesh, program_key(c))
    state = programs.init(None, np.uint32(c.seed))
    batch = {k: jax.device_put(v, parallel.batch_sharding(mesh)) for k, v in batch.items()}
    compiled = programs.step.lower(state, batch).compile()
    cost = compiled.cost_analysis()
    flops = float((cost[0] if isinstance(cost, list) else cost).get("flops", float("nan")))
    state, metrics = programs.step(state, batch)  # warm up
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(steps):
        state, metrics = programs.step(state, batch)
    jax.block_until_ready(metrics)
    return (time.perf_counter() - start) / steps, flops


def bench_torch(c, batch: dict, steps: int) -> float:
    """Seconds per step of the PyTorch peer."""
    import torch
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    b = backbone_config(c)
    hf = Dinov2Config(
        hidden_size=b.embed_dim,
        num_hidden_layers=b.depth,
        num_attention_heads=b.num_heads,
        intermediate_size=b.hidden_dim,
        patch_size=b.patch_size,
        image_size=b.img_size,
        layerscale_value=1.0,
    )
    student, teacher = Dinov2Model(hf), Dinov2Model(hf)
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-4)
    g = torch.from_numpy(batch["global"]).flatten(0, 1).permute(0, 3, 1, 2).contiguous()
    lo = torch.from_numpy(batch["local"]).flatten(0, 1).permute(0, 3, 1, 2).contiguous()
    p = b.patch_size
    lo = lo[..., : lo.shape[-2] // p * p, : lo.shape[-1] // p * p]

    def step():
        with torch.no_grad():
            teacher(pixel_values=g)
        loss = student(pixel_values=g).pooler_output.square().mean()
        if lo.shape[0]:
            loss = loss + student(pixel_values=lo).pooler_output.square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="vit_tiny16")
    parser.add_argument("--official", action="store_true", help="official crops (2x224 + 8x96) and heads")
    parser.add_argument("--batch", type=int, default=8, help="global batch (images)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--remat", action="store_true")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--no-peer", action="store_true", help="skip the PyTorch peer")
    parser.add_argument("--micro-batch", type=int, default=0,
                        help="also time the step accumulated over micro-batches of this many images")
    benchmark_docs.add_flag(parser)
    args = parser.parse_args()
    with benchmark_docs.recorded("bench_train", "Training step", args.write_docs):
        run(args)


def run(args: argparse.Namespace) -> None:
    """Time the train step, and the PyTorch peer unless ``--no-peer``."""

    c = config(args)
    batch = views(c, np.random.default_rng(0))
    seconds, flops = bench_anonjax(c, batch, args.steps)
    peak, source = (args.peak_tflops, "--peak-tflops") if args.peak_tflops else device_peak_tflops()
    mfu = flops / seconds / (peak * 1e12)
    print(
        f"device: {jax.devices()[0].device_kind} x{jax.device_count()}; model {args.model}, batch {c.batch_size}, "
        f"crops 2x{c.crops.global_size} + {c.crops.local_number}x{c.crops.local_size}, {args.dtype}"
    )
    print(
        f"anonjax: {seconds * 1e3:.1f} ms/step, {c.batch_size / seconds:.1f} images/s, "
        f"{flops / 1e9:.1f} GFLOP/step, MFU {mfu:.1%} of {peak:.2f} TFLOP/s ({source})"
    )
    if not args.no_peer:
        torch_seconds = bench_torch(c, batch, args.steps)
        print(
            f"torch peer (HF Dinov2Model, no heads): {torch_seconds * 1e3:.1f} ms/step, "
            f"{c.batch_size / torch_seconds:.1f} images/s"
        )
        print(f"ratio anonjax / torch images/s: {torch_seconds / seconds:.2f}")
    if args.micro_batch:
        c.micro_batch = args.micro_batch
        micro_seconds, _ = bench_anonjax(c, batch, args.steps)
        print(f"accumulated over {c.batch_size // args.micro_batch} micro-steps of {args.micro_batch}: "
              f"{micro_seconds * 1e3:.1f} ms/step, {micro_seconds / seconds:.2f}x the whole batch's step")


if __name__ == "__main__":
    main()
