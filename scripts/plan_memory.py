"""Per-device memory and FLOPs of the DINOv2 training step, from compiling it ahead of time (never running it)
for simulated CPU devices: which global batch, ``fsdp`` and ``remat`` fit a chip, before renting one.

    python -m scripts.plan_memory --jobs 2    # ViT-L/14, official preset, 8 devices: batch 8 and 32 per device,
                                              # fsdp 1 and 8, remat off and on (8 compiles)
    python -m scripts.plan_memory --devices 16 --batch 64 --fsdp 16 --remat on
    python -m scripts.plan_memory --preset tiny --batch 16 --fsdp 1 2 --json

The step is the one training runs (``anonjax.ssl.loop.compiled_programs``): teacher on the 2 global crops,
student on the global and local crops, DINO and iBOT heads, losses, AdamW, EMA, the input state donated;
``train.group_size`` is the preset's (32) where it divides each device's share of the batch, else the greatest
common divisor of the two, so that each device computes its groups alone. For each
configuration it prints XLA's per-device buffer sizes (``compiled.memory_analysis()``): arguments (the state
shard and the batch shard), outputs, temporaries, generated code (0 on the CPU, which keeps it in host memory),
and the peak that must fit, arguments + outputs + temporaries - aliased (the donated state's buffers reused for
the new state). FLOPs are XLA's count of the compiled program of one device (``compiled.cost_analysis()``
counts the partitioned, per-device program) and, times the devices over the global batch, per image: what the
devices execute, so work that XLA replicates on every device is counted on each, and with ``remat`` the
recomputation is included. Without either it is the model's count, the figure MFU is computed from.

An estimate: the CPU backend fuses and lays out differently from GPU and TPU compilers, and the model runs its
CPU attention path (one head at a time, in a loop whose body XLA's cost analysis counts once: the FLOPs miss 15 of
16 heads' attention products, about 2.5% of the ViT-L/14 step at 224 px), so an accelerator's buffers differ.
Leave headroom, about 10%, and on a GPU mind that JAX takes 75% of the memory unless
``XLA_PYTHON_CLIENT_MEM_FRACTION`` says otherwise. ``COMPILER_OPTIONS``: the CPU scheduler orders the program
for least memory, as accelerator compilers schedule within the device's memory (the default CPU order, tuned
for concurrency, needs about 50% more temporaries for the ViT-L/14 step); LLVM code generation, which comes
after the buffer assignment, runs at optimization level 0 to save time. A ViT-L/14 compile still takes minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import ml_collections

from anonjax import parallel
from anonjax.ssl.loop import backbone_config, compiled_programs, program_key
from configs.training import get_config

COMPILER_OPTIONS = {
    "xla_cpu_scheduler_type": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED",
    "xla_backend_optimization_level": 0,
    "xla_llvm_disable_expensive_passes": True,
}
GIB = 2**30


@dataclasses.dataclass(frozen=True)
class Plan:
    """Per-device bytes and FLOPs of one compiled training step."""

    model: str
    devices: int
    batch: int  # global
    fsdp: int
    remat: bool
    argument_bytes: int
    output_bytes: int
    alias_bytes: int
    temp_bytes: int
    code_bytes: int
    flops: float  # per device and step
    compile_s: float  # lower + compile, wall clock

    @property
    def peak_bytes(self) -> int:
        """What must fit on a device: arguments + outputs + temporaries - donated buffers reused as outputs."""
        return self.argument_bytes + self.output_bytes + self.temp_bytes - self.alias_bytes

    @property
    def flops_per_image(self) -> float:
        return self.flops * self.devices / self.batch

    def row(self) -> dict:
        return {**dataclasses.asdict(self), "peak_bytes": self.peak_bytes, "flops_per_image": self.flops_per_image}


def simulate_devices(n: int) -> None:
    """Run on ``n`` CPU devices (as ``JAX_PLATFORMS=cpu`` and ``--xla_force_host_platform_device_count``). JAX
    takes the count when it starts its backends; if they are running already (a test session, say), they must
    have ``n`` devices."""
    try:
        jax.config.update("jax_platforms", "cpu")
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:
        pass
    if jax.device_count() != n or jax.default_backend() != "cpu":
        raise SystemExit(f"JAX runs {jax.device_count()} {jax.default_backend()} devices, not {n} CPU devices")


def train_config(preset: str, model: str | None, batch: int, fsdp: int, remat: bool) -> ml_collections.ConfigDict:
    """``config.train`` of ``preset`` with the model, global batch, ``fsdp`` and ``remat`` of one configuration."""
    c = get_config(preset)
    if model:
        c.model = model
    c.batch_size, c.fsdp, c.remat = batch, fsdp, remat
    if c.group_size:  # official: 32, as groups that divide each device's share of the batch
        c.group_size = math.gcd(c.group_size, batch // jax.device_count())
    return c


def compile_step(train_cfg: ml_collections.ConfigDict,
                 devices: Sequence[jax.Device] | None = None) -> jax.stages.Compiled:
    """The training step of ``train_cfg`` compiled for its mesh over ``devices`` (all by default), from shapes
    only."""
    mesh = parallel.make_mesh(fsdp=train_cfg.fsdp, devices=devices)
    programs = compiled_programs(mesh, program_key(train_cfg))
    b, c = train_cfg.batch_size, train_cfg.crops
    grid = c.global_size // backbone_config(train_cfg).patch_size
    sharding = parallel.batch_sharding(mesh)
    views = {
        "global": jax.ShapeDtypeStruct((b, 2, c.global_size, c.global_size, 3), jnp.float32, sharding=sharding),
        "local": jax.ShapeDtypeStruct((b, c.local_number, c.local_size, c.local_size, 3), jnp.float32,
                                      sharding=sharding),
        "masks": jax.ShapeDtypeStruct((b, 2, grid * grid), jnp.bool_, sharding=sharding),
    }
    return programs.step.lower(programs.abstract_state, views).compile(COMPILER_OPTIONS)


def measure(train_cfg: ml_collections.ConfigDict, devices: Sequence[jax.Device] | None = None) -> Plan:
    """Compile the step of ``train_cfg`` over ``devices`` (all by default) and read its memory and cost
    analyses."""
    devices = list(jax.devices() if devices is None else devices)
    start = time.perf_counter()
    compiled = compile_step(train_cfg, devices)
    seconds = time.perf_counter() - start
    memory = compiled.memory_analysis()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return Plan(
        model=train_cfg.model, devices=len(devices), batch=train_cfg.batch_size, fsdp=train_cfg.fsdp,
        remat=train_cfg.remat, argument_bytes=memory.argument_size_in_bytes,
        output_bytes=memory.output_size_in_bytes, alias_bytes=memory.alias_size_in_bytes,
        temp_bytes=memory.temp_size_in_bytes, code_bytes=memory.generated_code_size_in_bytes,
        flops=float(cost["flops"]), compile_s=seconds,
    )


def size(n_bytes: float) -> str:
    return f"{n_bytes / GIB:.2f} GiB" if n_bytes >= GIB / 10 else f"{n_bytes / 2**20:.2f} MiB"


def describe(plan: Plan) -> str:
    """One line of a plan, sizes per device."""
    return (
        f"{plan.model} devices={plan.devices} batch={plan.batch} ({plan.batch // plan.devices}/device) "
        f"fsdp={plan.fsdp} remat={'on' if plan.remat else 'off'}: peak {size(plan.peak_bytes)}/device "
        f"(arguments {size(plan.argument_bytes)} + outputs {size(plan.output_bytes)} + temporaries "
        f"{size(plan.temp_bytes)} - aliased {size(plan.alias_bytes)}; code {size(plan.code_bytes)}), "
        f"{plan.flops / 1e12:.3f} TFLOP/step/device, {plan.flops_per_image / 1e9:.1f} GFLOP/image "
        f"[compiled in {plan.compile_s:.0f} s]"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="official", choices=("official", "tiny"), help="training preset")
    parser.add_argument("--model", default=None, help="ViT name (default: the preset's, vitl14 for official)")
    parser.add_argument("--devices", type=int, default=8, help="simulated CPU devices")
    parser.add_argument("--batch", type=int, nargs="+", default=None,
                        help="global batches (default: 8 and 32 per device)")
    parser.add_argument("--fsdp", type=int, nargs="+", default=None, help="fsdp sizes (default: 1 and --devices)")
    parser.add_argument("--remat", choices=("on", "off", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=1,
                        help="configurations compiled at once (XLA compiles on one core; each ViT-L/14 compile "
                             "holds a few GB)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per configuration")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[Plan]:
    """Measure every configuration of the command line; returns the plans."""
    args = parse_args(argv)
    simulate_devices(args.devices)
    batches = args.batch or [per_device * args.devices for per_device in (8, 32)]
    fsdps = args.fsdp or sorted({1, args.devices})
    remats = {"on": (True,), "off": (False,), "both": (False, True)}[args.remat]
    configurations = [train_config(args.preset, args.model, batch, fsdp, remat)
                      for fsdp, remat, batch in itertools.product(fsdps, remats, batches)]

    def run(numbered: tuple[int, ml_collections.ConfigDict]) -> Plan:
        i, cfg = numbered
        sys.stderr.write(f"[{i}/{len(configurations)}] compiling {cfg.model} batch={cfg.batch_size} "
                         f"fsdp={cfg.fsdp} remat={'on' if cfg.remat else 'off'} ...\n")  # one write: one line
        return measure(cfg)

    plans = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for plan in pool.map(run, enumerate(configurations, 1)):
            plans.append(plan)
            print(json.dumps(plan.row()) if args.json else describe(plan), flush=True)
    return plans


if __name__ == "__main__":
    main()
