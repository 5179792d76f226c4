"""Per-device memory and FLOPs of the DINOv2 training step, from compiling it ahead of time (never running it)
for simulated CPU devices: which global batch, ``fsdp`` and ``remat`` fit a chip, before renting one.

    python -m scripts.plan_memory --jobs 2    # ViT-L/14, official preset, 8 devices: batch 8 and 32 per device,
                                              # fsdp 1 and 8, remat off and on (8 compiles)
    python -m scripts.plan_memory --devices 16 --batch 64 --fsdp 16 --remat on
    python -m scripts.plan_memory --preset tiny --batch 16 --fsdp 1 2 --json
    python -m scripts.plan_memory --platform tpu --topology v5e:4x4 v5p:2x2x2 --batch 1024 --fsdp 1 --remat off \
        --micro-batch auto           # the real TPU compiler (pip install -e .[tpu]), per chip

``--platform tpu`` compiles for the chips of a TPU slice (``jax.experimental.topologies``; libtpu, no TPU needed)
with the TPU compiler itself: its memory analysis is what the chips will hold, not an estimate, and the model
runs its accelerator attention (``dot_product``). ``--micro-batch auto`` compiles the step for micro-batches of
whole groups, largest first, and stops at the first whose peak fits ``micro_batch.FIT_FRACTION`` of a chip's
memory (``HBM_BYTES``): the choice ``train.micro_batch="auto"`` makes on those chips.

The step is the one training runs (``anonjax.ssl.loop.compiled_programs``): teacher on the 2 global crops,
student on the global and local crops, DINO and iBOT heads, losses, AdamW, EMA, the input state donated;
``train.group_size`` is the preset's (32) where it divides each device's share of the batch, else the greatest
common divisor of the two, so that each device computes its groups alone. For each
configuration it prints XLA's per-device buffer sizes (``compiled.memory_analysis()``): arguments (the state
shard and the batch shard), outputs, temporaries, generated code (0 on the CPU, which keeps it in host memory),
and the peak that must fit, arguments + outputs + temporaries - aliased (the donated state's buffers reused for
the new state). FLOPs are XLA's count of the compiled program of one device (``compiled.cost_analysis()``
counts the partitioned, per-device program) and, times the devices over the global batch (over the micro-batch
with accumulation: XLA counts the body of the micro-steps' loop once), per image: what the devices execute, so
work that XLA replicates on every device is counted on each, and with ``remat`` the recomputation is included.
Without either it is the model's count, the figure MFU is computed from. Where a group of ``train.group_size``
images spans several devices (fewer images per device and micro-step than a group), the batch-subset stochastic
depth runs its branches on every row of the device and keeps the subset's (``vit._residual(dense=True)``): more
FLOPs per image than where each device holds whole groups.

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
import contextlib
import dataclasses
import importlib.util
import itertools
import json
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import jax
import jax.numpy as jnp
import ml_collections

from anonjax import parallel
from anonjax.models import embedding, vit
from anonjax.retrieval import scenario
from anonjax.retrieval.chunks import rows_per_chunk
from anonjax.retrieval.inputs import relevant_count
from anonjax.ssl import micro_batch
from anonjax.ssl.loop import backbone_config, compiled_programs, peak_bytes, program_key
from configs.training import get_config

COMPILER_OPTIONS = {
    "xla_cpu_scheduler_type": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED",
    "xla_backend_optimization_level": 0,
    "xla_llvm_disable_expensive_passes": True,
}
GIB = 2**30
INFERENCE_STUDY = "ml_collections_configs/rvl_cdip.py"  # its embed and evaluate settings, without --study
HBM_BYTES = {"TPU v5 lite": 16 * GIB, "TPU v4": 32 * GIB, "TPU v5": 95 * GIB, "TPU v5p": 95 * GIB,
             "TPU v6 lite": 32 * GIB}  # per chip, by device_kind


@dataclasses.dataclass(frozen=True)
class Plan:
    """Per-device bytes and FLOPs of one compiled training step."""

    model: str
    devices: int
    batch: int  # global
    fsdp: int
    remat: bool
    micro_batch: int  # global images per micro-step (the whole batch: batch)
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
        """XLA counts a loop's body once: with micro-batches, the step's count is that of one micro-step."""
        return self.flops * self.devices / self.micro_batch

    def row(self) -> dict:
        return {**dataclasses.asdict(self), "peak_bytes": self.peak_bytes, "flops_per_image": self.flops_per_image}


@dataclasses.dataclass(frozen=True)
class ProgramPlan:
    """Per-device bytes and FLOPs of one call of an inference program: an embedding batch or an evaluate chunk."""

    program: str
    devices: int
    items: int  # global images or query rows per call
    peak_bytes: int
    flops: float  # per device and call
    compile_s: float

    @property
    def flops_per_item(self) -> float:
        return self.flops * self.devices / self.items

    def row(self) -> dict:
        return {**dataclasses.asdict(self), "flops_per_item": self.flops_per_item}


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


def train_config(preset: str, model: str | None, batch: int, fsdp: int, remat: bool,
                 devices: int | None = None) -> ml_collections.ConfigDict:
    """``config.train`` of ``preset`` with the model, global batch, ``fsdp`` and ``remat`` of one configuration,
    for ``devices`` devices (default: JAX's)."""
    c = get_config(preset)
    if model:
        c.model = model
    c.batch_size, c.fsdp, c.remat = batch, fsdp, remat
    if c.group_size:  # official: 32, as groups that divide each device's share of the batch
        c.group_size = math.gcd(c.group_size, batch // (devices or jax.device_count()))
    return c


def tpu_devices(topology: str) -> list[jax.Device]:
    """The chips of a TPU slice such as "v5e:4x4" or "v4:2x2x2", for compiling only (needs libtpu, not a TPU).

    A v4 slice's compile-only devices are its TensorCores, two per chip, which JAX's mesh refuses: its chips are
    asked for as one device each ("megacore"), as JAX runs them on a slice (v5p's already come so)."""
    from jax.experimental import topologies

    devices = list(topologies.get_topology_desc(topology_name=topology, platform="tpu").devices)
    if any(d.core_on_chip for d in devices):
        devices = list(topologies.get_topology_desc(topology_name=topology, platform="tpu",
                                                    chip_config_name="megacore").devices)
    return devices


def hbm_bytes(device: jax.Device) -> int:
    """A TPU chip's memory (``HBM_BYTES``)."""
    kind = device.device_kind
    if kind not in HBM_BYTES:
        raise SystemExit(f"no memory size known for {kind!r}: add it to HBM_BYTES")
    return HBM_BYTES[kind]


def plan_micro_batches(train_cfg: ml_collections.ConfigDict, setting: str, devices: Sequence[jax.Device],
                       memory: int | None) -> list[Plan]:
    """Plans of the step at ``setting`` ("auto": each candidate micro-batch, largest first, up to the first whose
    peak fits ``micro_batch.FIT_FRACTION`` of ``memory``; the last plan is "auto"'s choice)."""
    if setting != micro_batch.AUTO:
        train_cfg.micro_batch = int(setting)
        return [measure(train_cfg, devices)]
    plans = []
    for micro in micro_batch.candidates(train_cfg.batch_size, train_cfg.group_size):
        train_cfg.micro_batch = micro
        try:
            plans.append(measure(train_cfg, devices))
        except jax.errors.JaxRuntimeError as e:  # the TPU compiler refuses a program beyond the chip's memory
            if "RESOURCE_EXHAUSTED" not in str(e):
                raise
            sys.stderr.write(f"micro={micro}: beyond the chip's memory ({str(e).splitlines()[0][:200]})\n")
            continue
        sys.stderr.write(describe(plans[-1]) + "\n")
        if memory is None or plans[-1].peak_bytes <= micro_batch.FIT_FRACTION * memory:
            break
    if not plans:
        raise SystemExit("no micro-batch fits the chips: use train.fsdp, train.remat or more chips")
    return plans


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
    on_cpu = mesh.devices.flat[0].platform == "cpu"
    return programs.step.lower(programs.abstract_state, views).compile(COMPILER_OPTIONS if on_cpu else None)


def measure(train_cfg: ml_collections.ConfigDict, devices: Sequence[jax.Device] | None = None) -> Plan:
    """Compile the step of ``train_cfg`` over ``devices`` (all by default) and read its memory and cost
    analyses."""
    devices = list(jax.devices() if devices is None else devices)
    start = time.perf_counter()
    with accelerator_attention(devices):
        compiled = compile_step(train_cfg, devices)
    seconds = time.perf_counter() - start
    memory = compiled.memory_analysis()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return Plan(
        model=train_cfg.model, devices=len(devices), batch=train_cfg.batch_size, fsdp=train_cfg.fsdp,
        remat=train_cfg.remat, micro_batch=micro_batch.setting(train_cfg) or train_cfg.batch_size,
        argument_bytes=memory.argument_size_in_bytes,
        output_bytes=memory.output_size_in_bytes, alias_bytes=memory.alias_size_in_bytes,
        temp_bytes=memory.temp_size_in_bytes, code_bytes=memory.generated_code_size_in_bytes,
        flops=float(cost["flops"]), compile_s=seconds,
    )


def accelerator_attention(devices: Sequence[jax.Device]):
    """The attention an accelerator runs (``dot_product``), though JAX's default backend here is the CPU; a no-op
    context on CPU devices."""
    if devices[0].platform == "cpu":
        return contextlib.nullcontext()
    return mock.patch.object(vit, "attention_kind", lambda cfg: "dot_product")


def inference_plan(name: str, fn, args: tuple, items: int, devices: int) -> ProgramPlan:
    """Compile ``fn`` (a jitted function) for ``args`` (ShapeDtypeStructs with shardings) and read its memory and
    cost analyses."""
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    seconds = time.perf_counter() - start
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return ProgramPlan(name, devices, items, peak_bytes(compiled), float(cost["flops"]), seconds)


def embedding_plan(study: ml_collections.ConfigDict, devices: Sequence[jax.Device]) -> ProgramPlan:
    """The embed stage's program for one batch of ``embed.batch_size`` images (rounded up to the devices) at
    ``embed.image_size`` in ``embed.dtype``, split over ``devices``."""
    mesh = parallel.make_mesh(devices=devices)
    backbone = backbone_config(study.train)
    whole = parallel.replicated(mesh)
    params = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=whole),
                          jax.eval_shape(lambda: vit.init(jax.random.key(0), backbone)))
    batch = -(-study.embed.batch_size // len(devices)) * len(devices)
    side = study.embed.image_size
    images = jax.ShapeDtypeStruct((batch, side, side, 3), jnp.float32, sharding=parallel.batch_sharding(mesh))
    with accelerator_attention(devices):
        fn = embedding.gathered_embedding(mesh, backbone, jnp.dtype(study.embed.dtype))
        return inference_plan("embed", fn, (params, images), batch, len(devices))


def evaluate_plans(study: ml_collections.ConfigDict, devices: Sequence[jax.Device],
                   n_database: int) -> list[ProgramPlan]:
    """The evaluate stage's programs for one chunk of query rows against ``n_database`` embeddings (the backbone's
    width) on ``devices`` (the ``xla`` backend): the ground truth (S0, its top k) and one scenario (S, its top k,
    AP and nDCG)."""
    mesh = parallel.make_mesh(devices=devices)
    dim = backbone_config(study.train).embed_dim
    k = relevant_count(study.evaluate.fraction, n_database)
    chunk = -(-rows_per_chunk(n_database, n_database, None) // len(devices)) * len(devices)
    rows, whole = parallel.batch_sharding(mesh), parallel.replicated(mesh)
    queries = jax.ShapeDtypeStruct((chunk, dim), jnp.float32, sharding=rows)
    database = jax.ShapeDtypeStruct((n_database, dim), jnp.float32, sharding=whole)
    first_row = jax.ShapeDtypeStruct((), jnp.int32, sharding=whole)
    truth, scored = scenario.sharded_chunks(mesh, k, exclude_self=False)
    truth_args = (queries, database, first_row)
    ground = [jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=rows) for a in jax.eval_shape(truth, *truth_args)]
    return [inference_plan("evaluate ground truth", truth, truth_args, chunk, len(devices)),
            inference_plan("evaluate scenario", scored, (*ground, queries, database, first_row), chunk,
                           len(devices))]


def describe_program(plan: ProgramPlan, memory: int) -> str:
    """One line of an inference program's plan, sizes per chip."""
    return (f"{plan.program}: {plan.items} per call ({plan.items // plan.devices}/chip), peak "
            f"{size(plan.peak_bytes)}/chip, {100 * plan.peak_bytes / memory:.1f}% of a chip, "
            f"{plan.flops_per_item / 1e9:.2f} GFLOP/item [compiled in {plan.compile_s:.0f} s]")


def size(n_bytes: float) -> str:
    return f"{n_bytes / GIB:.2f} GiB" if n_bytes >= GIB / 10 else f"{n_bytes / 2**20:.2f} MiB"


def describe(plan: Plan) -> str:
    """One line of a plan, sizes per device."""
    return (
        f"{plan.model} devices={plan.devices} batch={plan.batch} ({plan.batch // plan.devices}/device) "
        f"micro={plan.micro_batch} fsdp={plan.fsdp} remat={'on' if plan.remat else 'off'}: "
        f"peak {size(plan.peak_bytes)}/device "
        f"(arguments {size(plan.argument_bytes)} + outputs {size(plan.output_bytes)} + temporaries "
        f"{size(plan.temp_bytes)} - aliased {size(plan.alias_bytes)}; code {size(plan.code_bytes)}), "
        f"{plan.flops / 1e12:.3f} TFLOP/{'micro-step' if plan.micro_batch < plan.batch else 'step'}/device, "
        f"{plan.flops_per_image / 1e9:.1f} GFLOP/image "
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
    parser.add_argument("--micro-batch", default=None,
                        help='global images per micro-step: 0 (the whole batch), a number, or "auto" (default: the '
                             "study's with --study, else 0)")
    parser.add_argument("--platform", choices=("cpu", "tpu"), default="cpu",
                        help="cpu: simulated CPU devices (an estimate); tpu: the TPU compiler for --topology")
    parser.add_argument("--topology", nargs="+", default=["v5e:4x4"],
                        help="TPU slices, e.g. v5e:4x4 v5e:8x8 v4:2x2x2 v5p:2x2x4 v6e:4x4 (with --platform tpu)")
    parser.add_argument("--study", default=None,
                        help="a study config (e.g. ml_collections_configs/celeba.py): its config.train as it is, "
                             "batch, group_size, fsdp, remat and micro_batch included (with --platform tpu)")
    parser.add_argument("--programs", nargs="+", choices=("train", "embed", "evaluate"),
                        default=["train", "embed", "evaluate"],
                        help="with --platform tpu: the programs compiled (embed and evaluate as the study sets them; "
                             f"without --study, {INFERENCE_STUDY}'s)")
    parser.add_argument("--database", type=int, default=40_000,
                        help="with --platform tpu: images in the evaluated split (RVL-CDIP's validation split: 39,972)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per configuration")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[Plan]:
    """Measure every configuration of the command line; returns the plans."""
    args = parse_args(argv)
    if args.platform == "tpu":
        return main_tpu(args)
    simulate_devices(args.devices)
    batches = args.batch or [per_device * args.devices for per_device in (8, 32)]
    fsdps = args.fsdp or sorted({1, args.devices})
    remats = {"on": (True,), "off": (False,), "both": (False, True)}[args.remat]
    configurations = [train_config(args.preset, args.model, batch, fsdp, remat)
                      for fsdp, remat, batch in itertools.product(fsdps, remats, batches)]

    def run(numbered: tuple[int, ml_collections.ConfigDict]) -> list[Plan]:
        i, cfg = numbered
        sys.stderr.write(f"[{i}/{len(configurations)}] compiling {cfg.model} batch={cfg.batch_size} "
                         f"fsdp={cfg.fsdp} remat={'on' if cfg.remat else 'off'} ...\n")  # one write: one line
        return plan_micro_batches(cfg, args.micro_batch or "0", jax.devices(), None)

    plans = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for found in pool.map(run, enumerate(configurations, 1)):
            plans.extend(found)
            print(json.dumps(found[-1].row()) if args.json else describe(found[-1]), flush=True)
    return plans


def main_tpu(args: argparse.Namespace) -> list[Plan | ProgramPlan]:
    """The table of the TPU compiler: per slice and configuration, the peak per chip against the chip's memory,
    FLOPs per image and the micro-batch that fits; then the embed and evaluate programs of the study (default:
    ``INFERENCE_STUDY``'s) on that slice."""
    plans = []
    study = study_config(args.study or INFERENCE_STUDY)
    for topology in args.topology:
        devices = tpu_devices(topology)
        memory = hbm_bytes(devices[0])
        if "train" in args.programs and args.study:
            setting = args.micro_batch or str(micro_batch.setting(study.train))
            plans.append(report_tpu(topology, devices, memory, study.train,
                                    plan_micro_batches(study.train, setting, devices, memory), args))
        elif "train" in args.programs:
            batches = args.batch or [32 * len(devices)]
            fsdps = args.fsdp or sorted({1, len(devices)})
            remats = {"on": (True,), "off": (False,), "both": (False, True)}[args.remat]
            for fsdp, remat, batch in itertools.product(fsdps, remats, batches):
                cfg = train_config(args.preset, args.model, batch, fsdp, remat, len(devices))
                plans.append(report_tpu(topology, devices, memory, cfg,
                                        plan_micro_batches(cfg, args.micro_batch or "0", devices, memory), args))
        inference = []
        if "embed" in args.programs:
            inference.append(embedding_plan(study, devices))
        if "evaluate" in args.programs:
            inference.extend(evaluate_plans(study, devices, args.database))
        for plan in inference:
            row = {"topology": topology, "chip": devices[0].device_kind, "hbm_bytes": memory,
                   "share": plan.peak_bytes / memory, **plan.row()}
            print(json.dumps(row) if args.json else f"{topology}: {describe_program(plan, memory)}", flush=True)
        plans.extend(inference)
    return plans


def report_tpu(topology: str, devices: Sequence[jax.Device], memory: int, train_cfg: ml_collections.ConfigDict,
               found: list[Plan], args: argparse.Namespace) -> Plan:
    """Print the last (chosen) plan of ``found`` with its share of a chip's memory; returns it."""
    plan = found[-1]
    share = plan.peak_bytes / memory
    row = {"topology": topology, "chip": devices[0].device_kind, "hbm_bytes": memory, "share": share, **plan.row()}
    print(json.dumps(row) if args.json else
          f"{topology} ({devices[0].device_kind}, {size(memory)}/chip): {describe(plan)}; "
          f"{100 * share:.0f}% of a chip{'' if share <= micro_batch.FIT_FRACTION else ' - DOES NOT FIT'}", flush=True)
    return plan


def study_config(path: str) -> ml_collections.ConfigDict:
    """The config of a study config file."""
    spec = importlib.util.spec_from_file_location("study_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


if __name__ == "__main__":
    main()
