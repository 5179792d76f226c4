"""Stage ``train``: DINOv2 self-supervised training of the Unadapted model and every requested adapted
model (adaptation x method x degree of ``config.grid``), each resumable and skipped once finished.

Writes under ``<workdir>/train/<model>/`` (names from ``anonjax.plan.Model.name``):
  checkpoints/<step>/            orbax: student, teacher, optimizer state, centers, step, data state
  training_log.jsonl, tensorboard/  losses, lr, wd, teacher momentum and temperature, images/s
  teacher_backbone.npz, model.json   the trained teacher backbone and its ViT settings (``load_backbone``)
  RUN.json                       the fingerprint (and the training settings) the run was started with
  DONE.json                      written last
and ``<workdir>/train/DONE.json`` when every model is done.

Every model trains on the images the anonymize stage kept (``anonymize.keep_empty`` False drops images without
detections, as the paper did; a failed detection is always left out: what could not be detected cannot be
anonymized). Adapted models read the detections (``<workdir>/anonymize``) and anonymize on the fly. Each model
has its own seed (``Model.seed``): the Unadapted model ``train.seed``, the others one drawn from it and their
name, so that the models are independent draws and the controls measure the retraining noise.

The fingerprints leave out the operational keys of ``config.train`` (``anonjax.fingerprint.OPERATIONAL``):
a run resumes with another device layout, ``fsdp``, log or checkpoint interval. With ``train.distributed`` every
process of a multi-host run (``anonjax.hosts.initialize``) trains every model on its rows of each global batch;
the batch, masks and crops do not depend on the number of processes, so the run is the one a single host makes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jax
import ml_collections

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.anonymize.box_cache import load_split_boxes
from anonjax.anonymize.detection import KINDS
from anonjax.data.canvas import fit_once
from anonjax.fingerprint import fingerprint, is_complete, mark_complete, results_settings
from anonjax.layout import WorkDir
from anonjax.paths import on_local_disk
from anonjax.plan import study_plan, validate_grid
from anonjax.ssl import micro_batch
from anonjax.ssl.meta_arch import CENTERINGS, DTYPES
from anonjax.ssl.model_data import kept_positions, model_source
from anonjax.ssl.run_record import claim

log = logging.getLogger(__name__)


def validate(config: ml_collections.ConfigDict) -> None:
    """Check ``config.train``, ``config.grid`` and the data before any work."""
    from anonjax.data import validate as validate_data
    from anonjax.models import dinov2

    validate_data(cc.get(config, "data"))
    model = cc.get(config, "train.model")
    try:
        backbone = dinov2.config(model)
    except ValueError as e:
        raise cc.ConfigError("train.model", str(e)) from None
    for key in ("batch_size", "epochs", "steps_per_epoch", "checkpoint_every", "log_every", "keep_checkpoints",
                "canvas_size", "fsdp", "crops.global_size", "crops.local_size", "dino.n_prototypes",
                "dino.hidden_dim", "dino.bottleneck_dim", "dino.n_layers", "ibot.n_prototypes"):
        cc.check_positive_int(config, f"train.{key}")
    for key in ("head_warmup_steps", "crops.local_number", "group_size", "workers"):
        cc.check_nonnegative_int(config, f"train.{key}")
    group, batch = config.train.group_size, config.train.batch_size
    if group and batch % group:
        raise cc.ConfigError("train.group_size", f"{group} must divide train.batch_size={batch}: KoLeo, drop path "
                             "and iBOT masks are drawn in groups of this many images (0: one group, the whole batch)")
    micro_batch.check(config.train)
    cc.check_choice(config, "train.compute_dtype", DTYPES)
    cc.check_choice(config, "train.centering", CENTERINGS)
    cc.check_choice(config, "train.optim.scaling_rule", ("linear_wrt_1024", "sqrt_wrt_1024"))
    if config.train.crops.global_size % backbone.patch_size:
        raise cc.ConfigError("train.crops.global_size",
                             f"must be a multiple of the patch size {backbone.patch_size} of {model}")
    if config.train.crops.local_size < backbone.patch_size:
        raise cc.ConfigError("train.crops.local_size", f"must be at least the patch size {backbone.patch_size}")
    for key in ("crops.global_scale", "crops.local_scale", "ibot.mask_ratio"):
        low, high = (*cc.as_tuple(cc.get(config, f"train.{key}")), None, None)[:2]
        if not (isinstance(low, int | float) and isinstance(high, int | float) and 0 < low <= high <= 1):
            raise cc.ConfigError(f"train.{key}", f"must be a range (low, high) with 0 < low <= high <= 1, got "
                                 f"{cc.get(config, f'train.{key}')!r}")
    hosts.check_cluster(config)
    if not config.train.distributed:  # multi-host: devices are known only after jax.distributed.initialize
        _check_devices(config)
    if config.train.pretrained and str(config.train.pretrained) not in dinov2.RELEASES:
        cc.check_path(config, "train.pretrained", kind="file")
    validate_grid(config, variants_required=False)
    if study_plan(config).models[1:]:
        cc.check_choices(config, "anonymize.degree_kinds", KINDS)  # adapted models anonymize as the stage does


def _check_devices(config: ml_collections.ConfigDict) -> None:
    n_devices = jax.device_count()
    if config.train.batch_size % n_devices:
        raise cc.ConfigError("train.batch_size",
                             f"{config.train.batch_size} must be a multiple of the {n_devices} devices")
    if n_devices % config.train.fsdp:
        raise cc.ConfigError("train.fsdp", f"{config.train.fsdp} must divide the {n_devices} devices")


def run(config: ml_collections.ConfigDict, workdir: Path) -> str:
    """Train every model of the study plan that is not finished yet."""
    from anonjax.data import open_split
    from anonjax.ssl.loop import train

    if config.train.distributed:
        hosts.initialize(config)  # multi-host: before any computation
        _check_devices(config)
    work = WorkDir(workdir)
    stage_dir = work.train
    plan = study_plan(config)
    split = open_split(config.data, "train")
    table = load_split_boxes(workdir, config.data, split, plan.detectors, plan.detector_settings,
                             keep_empty=plan.keep_empty) if plan.detectors else None
    kept = kept_positions(split, table)
    runs = [(m.name, m.seed(config.train.seed)) for m in plan.models]
    stage_fp = fingerprint(results_settings("train", config.train), config.data, runs, plan.method_params, plan.seed,
                           plan.boxes_key(), split.digest)
    if hosts.main_decides(is_complete, stage_dir, stage_fp):
        log.info("train: every model is finished in %s", stage_dir)
        return "up to date"
    canvases = on_local_disk(work.canvases(config.train.canvas_size, fingerprint(split.ids), hosts.index()))
    log.info("train: fitting the training images to the canvas in %s (checked against their files)", canvases)
    images = fit_once(split.dataset, config.train.canvas_size, canvases)
    trained = 0
    for model in plan.models:
        run_dir = work.model(model.name)
        method, degree = model.variant.method, model.variant.degree
        train_cfg = config.train.copy_and_resolve_references()
        train_cfg.seed = model.seed(config.train.seed)
        settings = results_settings("train", train_cfg)
        fp = fingerprint(settings, config.data, model.name, method, degree, plan.method_params.get(method),
                         plan.seed, plan.boxes_key() if plan.detectors else None, split.digest)
        if hosts.main_decides(is_complete, run_dir, fp):
            log.info("train: %s is finished", model.name)
            continue
        claim(work.run_record(model.name), fp, settings)
        source = model_source(model, plan, split, images, table, kept, budget_mb=config.train.cache_mb)
        log.info("train: %s on %d images (seed %d)", model.name, len(source), train_cfg.seed)
        train(train_cfg, run_dir, source, adaptation=model.recipe, method=method,
              method_params=plan.method_params.get(method), progress=True)
        hosts.on_main(f"train {model.name}", mark_complete, run_dir, fp, model=model.name, images=len(source),
                      seed=train_cfg.seed)
        trained += 1
    hosts.on_main("train", mark_complete, stage_dir, stage_fp, models=[m.name for m in plan.models])
    return f"{trained} of {len(plan.models)} models trained"
