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

The fingerprints leave out the operational keys of ``config.train`` (``anonjax.stages.fingerprint.OPERATIONAL``):
a run resumes with another device layout, ``fsdp``, log or checkpoint interval. With ``train.distributed`` every
process of a multi-host run (``anonjax.hosts.initialize``) trains every model on its rows of each global batch;
the batch, masks and crops do not depend on the number of processes, so the run is the one a single host makes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import jax
import ml_collections
import numpy as np

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.anonymize.box_cache import BoxTable, load_split_boxes
from anonjax.anonymize.detection import KINDS
from anonjax.data.canvas import FittedImages
from anonjax.errors import DatasetError
from anonjax.files import save_json
from anonjax.plan import StudyPlan, study_plan, validate_grid
from anonjax.ssl import micro_batch
from anonjax.ssl.meta_arch import CENTERINGS, DTYPES
from anonjax.ssl.pipeline import PairSource, anonymize_once
from anonjax.stages.fingerprint import (
    changed_keys,
    fingerprint,
    is_complete,
    mark_complete,
    recorded_fingerprint,
    results_settings,
)

log = logging.getLogger(__name__)

RUN_FILE = "RUN.json"


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
    _check_cluster(config)
    if not config.train.distributed:  # multi-host: devices are known only after jax.distributed.initialize
        _check_devices(config)
    if config.train.pretrained and str(config.train.pretrained) not in dinov2.RELEASES:
        cc.check_path(config, "train.pretrained", kind="file")
    validate_grid(config, variants_required=False)
    if study_plan(config).models[1:]:
        cc.check_choices(config, "anonymize.degree_kinds", KINDS)  # adapted models anonymize as the stage does


def _check_cluster(config: ml_collections.ConfigDict) -> None:
    """``train.distributed`` a bool; ``train.coordinator_address`` "" or "host:port"; ``train.num_processes``
    -1 or positive; ``train.process_id`` -1 or below ``train.num_processes``."""
    cc.check_bool(config, "train.distributed")
    address = cc.get(config, "train.coordinator_address")
    if not isinstance(address, str) or (address and not address.rpartition(":")[2].isdigit()):
        raise cc.ConfigError("train.coordinator_address", f'must be "host:port" or "" (detected), got {address!r}')
    n, index = cc.get(config, "train.num_processes"), cc.get(config, "train.process_id")
    if isinstance(n, bool) or not isinstance(n, int) or not (n == -1 or n >= 1):
        raise cc.ConfigError("train.num_processes", f"must be a positive integer or -1 (detected), got {n!r}")
    if isinstance(index, bool) or not isinstance(index, int) or index < -1 or 0 < n <= index:
        raise cc.ConfigError("train.process_id", f"must be -1 (detected) or an integer in [0, train.num_processes)"
                             f", got {index!r}")


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
    stage_dir = Path(workdir) / "train"
    plan = study_plan(config)
    split = open_split(config.data, "train")
    table = load_split_boxes(workdir, config.data, split, plan.detectors, plan.detector_settings,
                             keep_empty=plan.keep_empty) if plan.detectors else None
    kept = _kept_positions(split, table)
    runs = [(m.name, m.seed(config.train.seed)) for m in plan.models]
    stage_fp = fingerprint(results_settings("train", config.train), config.data, runs, plan.method_params, plan.seed,
                           plan.boxes_key(), split.digest)
    if hosts.main_value(is_complete(stage_dir, stage_fp)):
        log.info("train: every model is finished in %s", stage_dir)
        return "up to date"
    images = FittedImages(split.dataset, config.train.canvas_size, budget_mb=config.train.cache_mb)
    trained = 0
    for model in plan.models:
        run_dir = stage_dir / model.name
        method, degree = model.variant.method, model.variant.degree
        train_cfg = config.train.copy_and_resolve_references()
        train_cfg.seed = model.seed(config.train.seed)
        settings = results_settings("train", train_cfg)
        fp = fingerprint(settings, config.data, model.name, method, degree, plan.method_params.get(method),
                         plan.seed, plan.boxes_key() if plan.detectors else None, split.digest)
        if hosts.main_value(is_complete(run_dir, fp)):
            log.info("train: %s is finished", model.name)
            continue
        _claim(run_dir, fp, settings)
        if model.on_original:
            source = PairSource(images, kept)
        else:
            source = anonymize_once(_paired_source(split, images, table, kept, degree, plan), method,
                                    plan.method_params[method], budget_mb=config.train.cache_mb, progress=True)
        log.info("train: %s on %d images (seed %d)", model.name, len(source), train_cfg.seed)
        train(train_cfg, run_dir, source, adaptation=model.recipe, method=method,
              method_params=plan.method_params.get(method), progress=True)
        hosts.on_main(f"train {model.name}", mark_complete, run_dir, fp, model=model.name, images=len(source),
                      seed=train_cfg.seed)
        trained += 1
    hosts.on_main("train", mark_complete, stage_dir, stage_fp, models=[m.name for m in plan.models])
    return f"{trained} of {len(plan.models)} models trained"


def _kept_positions(split, table: BoxTable | None) -> np.ndarray:
    """Positions of the training images every model trains on: with detectors, those the anonymize stage kept
    (detected, and with at least one detection unless ``anonymize.keep_empty``, as the paper removes images
    without personal data); without detectors, all."""
    if table is None:
        return np.arange(len(split.ids))
    kept = set(table.ids)
    positions = np.asarray([p for p, image_id in enumerate(split.ids) if image_id in kept], np.int64)
    left_out = len(split.ids) - len(positions)
    if left_out:
        log.info("train: %d of %d training images are left out (no usable detection, or none at all with "
                 "anonymize.keep_empty False)", left_out, len(split.ids))
    if not len(positions):
        raise DatasetError("no training image has detections: run the anonymize stage on split 'train', or set "
                           "anonymize.keep_empty=True")
    return positions


def _claim(run_dir: Path, fp: str, settings: dict) -> None:
    """Record the fingerprint and training settings a run starts with; refuse to resume checkpoints made with
    another config, naming the keys that changed."""
    marker = run_dir / RUN_FILE
    if hosts.main_value(marker.exists()):
        previous = recorded_fingerprint(marker)
        if previous != fp:
            if previous is None:
                started = f"a config that its damaged {RUN_FILE} no longer names"
            else:
                recorded = json.loads(marker.read_text(encoding="utf-8")).get("train")
                changed = changed_keys(recorded, settings, "config.train.") if isinstance(recorded, dict) else []
                if changed:
                    started = f"another config ({', '.join(changed)} changed)"
                elif recorded is not None:
                    started = "other data, detections or anonymization settings"
                else:
                    started = f"another training config (fingerprint {previous}, now {fp})"
            raise DatasetError(f"{run_dir} holds a run started with {started}; delete that directory to train it "
                               "again with this config, or restore the config to resume it")
        return
    hosts.on_main(f"claim {run_dir}", save_json, marker, {"fingerprint": fp, "train": settings})


def _paired_source(split, images: FittedImages, table: BoxTable, positions: np.ndarray, degree: float,
                   plan: StudyPlan) -> PairSource:
    """The kept training images with their boxes and the ones anonymized at ``degree``."""
    rows = {image_id: i for i, image_id in enumerate(table.ids)}
    table_rows = np.asarray([rows[split.ids[p]] for p in positions])
    return PairSource(images, positions, boxes=table.boxes[table_rows],
                      selected=table.selection(degree, plan.seed, table_rows, degree_kinds=plan.degree_kinds),
                      digests=[table.digests[r] for r in table_rows])
