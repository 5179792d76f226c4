"""The training loop of one model: build or resume the state, feed batches, checkpoint, log, export.

Read top to bottom: settings from ``config.train`` -> mesh and shardings -> state (fresh or restored
from the newest checkpoint) -> per step: host batch -> on-device anonymization and multi-crop -> train
step -> every ``log_every`` steps a training-log row (and a check that every loss was finite) -> every
``checkpoint_every`` steps and at the end a checkpoint -> the teacher backbone exported for embedding.

In a multi-host run every process runs this loop with its rows of each batch; checkpoints are written by all
(orbax), the training log and the exported backbone by the main process (:mod:`anonjax.hosts`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath
from jax.experimental import multihost_utils
from tqdm import tqdm

from anonjax import hosts, parallel
from anonjax.anonymize.methods import apply as anonymize_boxes
from anonjax.data.multicrop import CropConfig, multicrop
from anonjax.errors import DatasetError, MissingInputError
from anonjax.files import atomic_path, save_json
from anonjax.layout import UNADAPTED
from anonjax.models import dinov2
from anonjax.models.vit_config import ViTConfig
from anonjax.paths import as_path
from anonjax.ssl import micro_batch
from anonjax.ssl.checkpoint import Checkpoints
from anonjax.ssl.heads import HeadConfig
from anonjax.ssl.masking import max_masked
from anonjax.ssl.meta_arch import SSLConfig
from anonjax.ssl.optimizer import make_optimizer, path_name
from anonjax.ssl.pipeline import BatchPlan, PairSource, batches, reader_state
from anonjax.ssl.schedules import make_schedules
from anonjax.ssl.state import init_state, init_student
from anonjax.ssl.step import make_train_step, state_shardings
from anonjax.ssl.training_log import TrainingLog

log = logging.getLogger("anonjax.train")

BACKBONE_FILE = "teacher_backbone.npz"
MODEL_FILE = "model.json"


class NonFiniteLoss(FloatingPointError):
    """A loss became NaN or infinite; the message names the step and every loss term."""


def backbone_config(train: ml_collections.ConfigDict) -> ViTConfig:
    """The ViT of ``config.train`` (its name plus the training overrides)."""
    return dinov2.config(
        train.model, drop_path_rate=train.drop_path_rate, drop_path_uniform=train.drop_path_uniform,
        layerscale_init=train.layerscale_init,
    )


def ssl_config(train: ml_collections.ConfigDict, backbone: ViTConfig, *, global_batch: int,
               micro: int = 0) -> SSLConfig:
    """Static step settings; ``global_batch`` is the global batch, over all hosts, ``micro`` the images of each
    micro-step (0: the whole batch; ``train.micro_batch`` resolved). The masks are drawn for
    each group of ``train.group_size`` images of the global batch (``pipeline.host_batch``), so the bound of
    such a draw (``masking.max_masked``), the size of each group's part of the masked-patch buffer, is never
    exceeded."""
    def head(c):
        return HeadConfig(in_dim=backbone.embed_dim, n_prototypes=c.n_prototypes, hidden_dim=c.hidden_dim,
                          bottleneck_dim=c.bottleneck_dim, n_layers=c.n_layers)

    side = train.crops.global_size // backbone.patch_size
    return SSLConfig(
        backbone=backbone,
        dino_head=head(train.dino),
        ibot_head=head(train.ibot) if train.ibot.separate_head else None,
        dino_weight=train.dino.loss_weight,
        koleo_weight=train.dino.koleo_loss_weight,
        group_size=train.group_size,
        ibot_weight=train.ibot.loss_weight,
        centering=train.centering,
        center_momentum=train.center_momentum,
        student_temp=train.student_temp,
        max_masked=max_masked(2 * (train.group_size or global_batch), side * side,
                              probability=train.ibot.mask_probability, ratio_range=tuple(train.ibot.mask_ratio)),
        compute_dtype=train.compute_dtype,
        remat=train.remat,
        head_warmup_steps=train.head_warmup_steps,
        micro_batch=micro,
    )


@functools.partial(jax.jit, static_argnames=("crops", "adaptation", "method", "method_params"))
def make_views(rng, batch: dict, *, crops: CropConfig, adaptation: str, method: str | None,
               method_params: tuple) -> dict:
    """The anonymized twins (adapted models: computed once, or now from the selected boxes) and the multi-crop
    views."""
    twin = batch.get("twins")
    if adaptation != UNADAPTED and twin is None:
        twin = anonymize_boxes(batch["images"], batch["boxes"], batch["selected"], method, **dict(method_params),
                               backend="xla")
    views = multicrop(rng, batch["images"], twin, batch["sizes"], crops, adaptation)
    return {**views, "masks": batch["masks"]}


def _to_global(mesh, local: dict) -> dict:
    sharding = parallel.batch_sharding(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local.items()}


def check_finite(rows: list[tuple[int, dict]], checkpoints: Checkpoints) -> None:
    """Raise NonFiniteLoss at the first (step, log row) whose loss is NaN or infinite."""
    for step, row in rows:
        if not np.isfinite(row["loss"]):
            terms = ", ".join(f"{k}={row[k]:.6g}" for k in sorted(row) if k in _LOSS_TERMS)
            raise NonFiniteLoss(
                f"non-finite loss at step {step}: {terms}; the last good checkpoint is step "
                f"{checkpoints.latest_step()} in {checkpoints.directory}"
            )


_LOSS_TERMS = ("loss", "dino_local", "dino_global", "koleo", "ibot")


@dataclasses.dataclass(frozen=True)
class Programs:
    """The step settings, state shapes and compiled init and train step of one (mesh, training config)."""

    cfg: SSLConfig
    abstract_state: dict
    abstract_views: dict  # the step's batch shapes
    init: Callable
    step: Callable


def program_key(train_cfg: ml_collections.ConfigDict) -> str:
    """``config.train`` as JSON without its seed: the seed is an input of the programs, not part of them, so
    the models of a study (each with its own seed) share one compilation."""
    settings = train_cfg.to_dict()
    settings.pop("seed", None)
    return json.dumps(settings, sort_keys=True)


def peak_bytes(compiled: jax.stages.Compiled) -> int:
    """What a compiled program must hold on one device: arguments + outputs + temporaries - donated buffers reused
    as outputs (``compiled.memory_analysis()``)."""
    m = compiled.memory_analysis()
    return m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes


def device_memory(device: jax.Device) -> int | None:
    """Bytes a device offers JAX's buffers (None where it does not say, as the CPU)."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    return (stats or {}).get("bytes_limit")


@functools.lru_cache(maxsize=4)
def compiled_programs(mesh, train_json: str, pretrained_shapes=None, memory_bytes: int | None = None) -> Programs:
    """Programs for ``config.train`` as :func:`program_key` writes it; cached, so runs with one config compile
    once per process. ``init(pretrained, seed)`` draws a fresh state; ``pretrained_shapes`` is (treedef, leaf
    ShapeDtypeStructs) of a released backbone, or None. ``train.micro_batch`` "auto" takes the largest
    micro-batch whose compiled step needs at most ``micro_batch.FIT_FRACTION`` of ``memory_bytes`` per device
    (default: the mesh's first device's memory; the whole batch where it is unknown)."""
    train_cfg = ml_collections.ConfigDict(json.loads(train_json))
    global_batch = train_cfg.batch_size
    backbone = backbone_config(train_cfg)
    cfg = ssl_config(train_cfg, backbone, global_batch=global_batch)
    schedules = make_schedules(train_cfg, global_batch)
    student_fn = functools.partial(init_student, cfg=cfg)
    pretrained = None if pretrained_shapes is None else jax.tree.unflatten(*pretrained_shapes)
    abstract_student = jax.eval_shape(lambda p: student_fn(jax.random.key(0), backbone=p), pretrained)
    optimizer = make_optimizer(train_cfg, schedules, abstract_student, n_blocks=backbone.depth,
                               head_warmup_steps=train_cfg.head_warmup_steps)

    def fresh_state(backbone_params, seed):
        return init_state(student_fn(jax.random.key(seed), backbone=backbone_params), cfg, optimizer, seed)

    abstract = jax.eval_shape(fresh_state, pretrained, jnp.uint32(0))
    shardings = state_shardings(mesh, abstract)
    abstract = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)
    c = train_cfg.crops
    n_tokens = (c.global_size // backbone.patch_size) ** 2
    views = {
        "global": jax.ShapeDtypeStruct((global_batch, 2, c.global_size, c.global_size, 3), jnp.float32),
        "local": jax.ShapeDtypeStruct((global_batch, c.local_number, c.local_size, c.local_size, 3), jnp.float32),
        "masks": jax.ShapeDtypeStruct((global_batch, 2, n_tokens), jnp.bool_),
    }

    def step_for(micro: int):
        micro_cfg = dataclasses.replace(
            cfg, micro_batch=0 if micro == global_batch else micro,
            dense_drop_path=micro_batch.groups_span_devices(micro, train_cfg.group_size, parallel.mesh_size(mesh)))
        return micro_cfg, make_train_step(mesh, abstract, views, cfg=micro_cfg, optimizer=optimizer,
                                          schedules=schedules)

    micro = micro_batch.setting(train_cfg)
    if micro == micro_batch.AUTO:
        limit = device_memory(mesh.devices.flat[0]) if memory_bytes is None else memory_bytes
        micro = 0 if limit is None else micro_batch.largest_fitting(
            global_batch, train_cfg.group_size,
            lambda m: micro_batch.compiled_fits(lambda: step_for(m)[1].lower(abstract, views).compile(), limit,
                                                peak_bytes),
        )
    cfg, step = step_for(micro or global_batch)
    return Programs(cfg, abstract, views, jax.jit(fresh_state, out_shardings=shardings), step)


def train(
    train_cfg: ml_collections.ConfigDict,
    run_dir: str | Path,
    source: PairSource,
    *,
    adaptation: str = UNADAPTED,
    method: str | None = None,
    method_params: dict | None = None,
    mesh=None,
    stop_at: int | None = None,
    progress: bool = True,
) -> dict:
    """Train (or resume) one model in ``run_dir``; returns the final train state.

    ``stop_at`` ends the run after that many steps without a final checkpoint, as an interruption
    would (for runs split over several sessions); the next call resumes from the newest checkpoint.
    """
    run_dir = as_path(run_dir)
    mesh = parallel.make_mesh(fsdp=train_cfg.fsdp) if mesh is None else mesh
    global_batch = train_cfg.batch_size
    per_device, group = global_batch // parallel.mesh_size(mesh), train_cfg.group_size
    if group and per_device % group:
        log.warning("train.group_size=%d does not divide the %d images of each device: the devices sharing a group "
                    "run its drop path on every row and each gathers its masked patches (more work, the same "
                    "results)", group, per_device)
    backbone = backbone_config(train_cfg)
    crops = CropConfig.from_config(train_cfg.crops, train_cfg.augment)
    total_steps = train_cfg.epochs * train_cfg.steps_per_epoch
    side = train_cfg.crops.global_size // backbone.patch_size
    plan = BatchPlan(
        global_batch=global_batch, rows=parallel.process_rows(mesh, global_batch), canvas=train_cfg.canvas_size,
        seed=train_cfg.seed, patch_shape=(side, side),
        mask_probability=train_cfg.ibot.mask_probability, mask_ratio=tuple(train_cfg.ibot.mask_ratio),
        group_size=train_cfg.group_size,
    )
    plan.batches_per_epoch(len(source))  # fail early if the data cannot fill a batch

    pretrained = dinov2.load_pretrained(train_cfg.pretrained, backbone) if train_cfg.pretrained else None
    shapes = None
    if pretrained is not None:
        leaves, treedef = jax.tree.flatten(pretrained)
        shapes = (treedef, tuple(jax.ShapeDtypeStruct(x.shape, x.dtype) for x in leaves))
    programs = compiled_programs(mesh, program_key(train_cfg), shapes)

    checkpoints = Checkpoints(run_dir / "checkpoints", keep=train_cfg.keep_checkpoints)
    data_state = {"seed": plan.seed, "n_images": len(source), "global_batch": global_batch}
    start = checkpoints.latest_step()
    place = functools.partial(_to_global, mesh)
    if start is None:
        state = programs.init(pretrained, np.uint32(train_cfg.seed))
        start = 0
    else:
        state, saved = checkpoints.restore(start, programs.abstract_state)
        if {k: saved.get(k) for k in data_state} != data_state:
            raise DatasetError(f"checkpoint {checkpoints.directory}/{start} was written for data {saved}, "
                             f"this run reads {data_state}: use a new run directory")
        if saved.get("reader") != reader_state(start):
            raise DatasetError(f"checkpoint {checkpoints.directory}/{start} holds the data reader's state "
                               f"{saved.get('reader')}, not the one of step {start}: use a new run directory")
        log.info("resuming %s from step %d", run_dir, start)
    data = batches(source, plan, total_steps, place, start, workers=train_cfg.workers)

    method_items = tuple(sorted((method_params or {}).items()))
    if source.twins is not None:  # anonymized already: one compiled view function serves every method
        method, method_items = None, ()
    step_fn = programs.step
    view_key = jax.random.key(train_cfg.seed + 1)

    log_file = TrainingLog(run_dir, resume_step=start) if hosts.is_main() else None
    pending: list[tuple[int, dict]] = []
    last_time, last_step = time.perf_counter(), start
    end = total_steps if stop_at is None else min(stop_at, total_steps)
    bar = tqdm(total=total_steps, initial=start, desc=run_dir.name, disable=not (progress and hosts.is_main()),
               unit="step")
    try:
        for step in range(start, end):
            batch = next(data)
            views = make_views(jax.random.fold_in(view_key, step), batch, crops=crops, adaptation=adaptation,
                               method=method, method_params=method_items)
            state, logged = step_fn(state, views)
            pending.append((step + 1, logged))
            bar.update(1)
            done = step + 1
            if done % train_cfg.log_every == 0 or done % train_cfg.checkpoint_every == 0 or done == total_steps:
                rows = [(s, {k: float(v) for k, v in m.items()}) for s, m in jax.device_get(pending)]
                pending.clear()
                check_finite(rows, checkpoints)
                now = time.perf_counter()
                row = {k: float(np.mean([r[k] for _, r in rows])) for k in rows[-1][1]}
                row["images_per_s"] = global_batch * (done - last_step) / (now - last_time)
                last_time, last_step = now, done
                if log_file is not None:
                    log_file.write(done, row)
                bar.set_postfix(loss=f"{row['loss']:.4f}", img_s=f"{row['images_per_s']:.1f}")
                if done % train_cfg.checkpoint_every == 0 or done == total_steps:
                    checkpoints.save(done, state, {**data_state, "step": done, "reader": reader_state(done)})
        checkpoints.wait()
        if end == total_steps:
            export_backbone(run_dir, state["teacher"]["backbone"], train_cfg)
    finally:
        bar.close()
        if log_file is not None:
            log_file.close()
        checkpoints.close()
    return state


def export_backbone(run_dir: epath.Path, params: dict, train_cfg: ml_collections.ConfigDict) -> None:
    """The teacher backbone (the model DINOv2 evaluates) as ``teacher_backbone.npz`` + ``model.json``, gathered
    from every host and written by the main process."""
    whole = multihost_utils.process_allgather(params, tiled=True)
    if not hosts.is_main():
        return
    flat = {path_name(p): np.asarray(v) for p, v in jax.tree_util.tree_leaves_with_path(whole)}
    with atomic_path(run_dir / BACKBONE_FILE) as tmp, open(tmp, "wb") as f:
        np.savez(f, **flat)
    save_json(run_dir / MODEL_FILE, {
        "model": train_cfg.model, "drop_path_rate": train_cfg.drop_path_rate,
        "drop_path_uniform": train_cfg.drop_path_uniform, "layerscale_init": train_cfg.layerscale_init,
    })


def load_backbone(run_dir: str | Path) -> tuple[dict, ViTConfig]:
    """The exported teacher backbone of a finished run and its ViT config (for embedding)."""
    run_dir = as_path(run_dir)
    path = run_dir / BACKBONE_FILE
    if not path.is_file():
        raise MissingInputError(f"{path} does not exist: the training run in {run_dir} has not finished")
    spec = json.loads((run_dir / MODEL_FILE).read_text())
    cfg = dinov2.config(spec.pop("model"), **spec)
    params: dict = {}
    with path.open("rb") as file, np.load(file) as f:
        for name in f.files:
            node = params
            *parents, leaf = name.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = jnp.asarray(f[name])
    return params, dataclasses.replace(cfg, drop_path_rate=0.0)
