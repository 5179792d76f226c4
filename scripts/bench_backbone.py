"""Throughput of anonjax's DINOv2 ``embed`` against Hugging Face transformers ``Dinov2Model``.

CPU (default): for each model, the same random weights in both, the same float32 batch; PyTorch runs under
``torch.inference_mode``. Prints images/s of each, the ratio anonjax / PyTorch, and achieved GFLOP/s
against a matmul peak measured in the same process.

    python -m scripts.bench_backbone                       # ViT-S/14 and ViT-B/14, 224 px, batch 32
    python -m scripts.bench_backbone --models vits14 --batch 8 --iters 2    # quick check
    python -m scripts.bench_backbone --cpu-devices 2      # one JAX CPU device per core, the batch split over them

Accelerator (``--device``): anonjax only, ViT-L/14 at 224 px in bfloat16 by default; images/s and model
FLOP utilization against the chip's peak (``--peak-tflops``, default the H100 SXM dense bf16 989).

    python -m scripts.bench_backbone --device --batch 256
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from anonjax import parallel
from anonjax.models import dinov2
from scripts import benchmark_docs
from scripts.timing import best_of


def model_flops(cfg: dinov2.ViTConfig, size: int) -> float:
    """Multiply-adds x 2 of one image's forward pass (matmuls only; norms and softmax are negligible)."""
    tokens = 1 + cfg.num_registers + (size // cfg.patch_size) ** 2
    d, h = cfg.embed_dim, cfg.hidden_dim
    patch = 2 * (tokens - 1 - cfg.num_registers) * cfg.patch_size**2 * cfg.in_chans * d
    ffn = 2 * tokens * d * h * (3 if cfg.ffn == "swiglu" else 2)
    block = 2 * tokens * d * 3 * d + 2 * 2 * tokens * tokens * d + 2 * tokens * d * d + ffn
    return patch + cfg.depth * block


def matmul_peak_gflops(n: int = 2048, dtype=jnp.float32) -> float:
    """GFLOP/s of one large square matmul in JAX, the reference peak of this machine."""
    a = jnp.ones((n, n), dtype)
    f = jax.jit(lambda x: x @ x)
    (seconds,), _ = best_of(lambda: f(a).block_until_ready(), rounds=5, warmup=1)
    return 2 * n**3 / seconds / 1e9


def bench_cpu(args) -> None:
    import torch
    from transformers import Dinov2Config, Dinov2Model

    torch.set_num_threads(args.threads or torch.get_num_threads())
    peak = matmul_peak_gflops()
    a = torch.ones(2048, 2048)
    torch_peak = 2 * 2048**3 / best_of(lambda: a @ a, rounds=5, warmup=1)[0][0] / 1e9
    print(f"devices: {jax.devices()}  torch threads: {torch.get_num_threads()}")
    # With several CPU devices the batch is split over them (as the embed stage does over every device): each
    # device runs its share of the attention loop on its own core.
    mesh = parallel.make_mesh() if len(jax.devices()) > 1 else None
    place = parallel.replicated(mesh) if mesh is not None else None
    print(f"matmul peak (2048^2 float32): jax {peak:.1f} GFLOP/s, torch {torch_peak:.1f} GFLOP/s")
    peak = max(peak, torch_peak)
    print(
        f"{'model':8} {'batch':>5} {'px':>4} {'anonjax img/s':>14} {'torch img/s':>12} {'ratio':>6} "
        f"{'anonjax GFLOP/s':>16} {'torch GFLOP/s':>14} {'% peak (ax/pt)':>15}"
    )
    for name in args.models.split(","):
        cfg = dinov2.config(name, img_size=args.size)  # the grid of the input: no resizing in either
        hf = Dinov2Model(
            Dinov2Config(
                hidden_size=cfg.embed_dim,
                num_hidden_layers=cfg.depth,
                num_attention_heads=cfg.num_heads,
                image_size=cfg.img_size,
                patch_size=cfg.patch_size,
                use_swiglu_ffn=cfg.ffn == "swiglu",
            )
        ).eval()
        params = jax.device_put(dinov2.params_from_torch(hf.state_dict(), cfg), place)
        images = np.random.default_rng(0).standard_normal((args.batch, args.size, args.size, 3), np.float32)
        x = jnp.asarray(images)
        pixels = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()

        def run_torch(hf=hf, pixels=pixels):
            with torch.inference_mode():
                return hf(pixel_values=pixels).pooler_output

        ours = np.asarray(dinov2.embed(params, cfg, x, mesh=mesh))
        ref = run_torch().numpy()
        diff = np.abs(ours - ref).max()
        (t_ax, t_pt), _ = best_of(
            lambda p=params, c=cfg, x=x: dinov2.embed(p, c, x, mesh=mesh).block_until_ready(), run_torch,
            rounds=args.iters, warmup=1,
        )
        flops = model_flops(cfg, args.size) * args.batch
        ax, pt = args.batch / t_ax, args.batch / t_pt
        print(
            f"{name:8} {args.batch:5d} {args.size:4d} {ax:14.2f} {pt:12.2f} {ax / pt:6.2f} "
            f"{flops / t_ax / 1e9:16.1f} {flops / t_pt / 1e9:14.1f} "
            f"{100 * flops / t_ax / 1e9 / peak:6.0f}/{100 * flops / t_pt / 1e9 / peak:.0f}"
            f"   (max |diff| {diff:.1e})"
        )


def bench_device(args) -> None:
    dtype = jnp.dtype(args.dtype)
    print(f"devices: {jax.devices()}")
    peak = matmul_peak_gflops(args.peak_size, dtype)
    print(
        f"matmul peak ({args.peak_size}^2 {dtype}): {peak / 1e3:.0f} TFLOP/s measured; "
        f"nominal {args.peak_tflops} TFLOP/s"
    )
    for name in args.models.split(","):
        cfg = dinov2.config(name)
        params = jax.jit(dinov2.init, static_argnums=1)(jax.random.key(0), cfg)
        params = jax.tree_util.tree_map(lambda p: p.astype(dtype), params)
        x = jax.random.normal(jax.random.key(1), (args.batch, args.size, args.size, 3), jnp.float32)
        (t,), _ = best_of(
            lambda p=params, c=cfg, x=x: dinov2.embed(p, c, x, dtype=dtype).block_until_ready(),
            rounds=args.iters, warmup=1,
        )
        tflops = model_flops(cfg, args.size) * args.batch / t / 1e12
        print(
            f"{name} batch {args.batch} {args.size}px {dtype}: {args.batch / t:.0f} img/s, {tflops:.0f} TFLOP/s, "
            f"MFU {100 * tflops / args.peak_tflops:.0f}% of nominal, {100e3 * tflops / peak:.0f}% of measured"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="store_true", help="accelerator mode: anonjax only, bf16, MFU")
    parser.add_argument(
        "--models", default=None, help="comma-separated names (default vits14,vitb14; vitl14 on --device)"
    )
    parser.add_argument("--batch", type=int, default=None, help="default 32 on CPU, 256 on --device")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--cpu-devices", type=int, default=1, help="JAX CPU devices (jax_num_cpu_devices)")
    parser.add_argument("--dtype", default="bfloat16", help="--device compute dtype")
    parser.add_argument("--peak-size", type=int, default=8192, help="--device: side of the peak matmul")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="--device nominal peak for MFU")
    benchmark_docs.add_flag(parser)
    args = parser.parse_args()
    with benchmark_docs.recorded("bench_backbone", "DINOv2 embedding", args.write_docs):
        run(args)


def run(args: argparse.Namespace) -> None:
    """Time the embedding on the CPU against PyTorch, or alone on an accelerator."""
    jax.config.update("jax_num_cpu_devices", args.cpu_devices)  # before the first use of a device
    args.models = args.models or ("vitl14" if args.device else "vits14,vitb14")
    args.batch = args.batch or (256 if args.device else 32)
    bench_device(args) if args.device else bench_cpu(args)


if __name__ == "__main__":
    main()
