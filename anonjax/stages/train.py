"""Stage ``train``: DINOv2 self-supervised training of the Unadapted model and every requested adapted
model (adaptation x method x degree of ``config.grid``), each resumable and skipped once finished.

Writes under ``<workdir>/train/<model>/`` (model names from ``anonjax.layout.model_name``):
  checkpoints/<step>/            orbax: student, teacher, optimizer state, centers, step, data state
  training_log.jsonl, tensorboard/  losses, lr, wd, teacher momentum and temperature, images/s
  teacher_backbone.npz, model.json   the trained teacher backbone and its ViT settings (``load_backbone``)
  RUN.json                       the fingerprint the run was started with
  DONE.json                      written last
and ``<workdir>/train/DONE.json`` when every model is done.

Adapted models read the detections of the anonymize stage (``<workdir>/anonymize``) and anonymize on the
fly; training images whose detection failed are left out of adapted training (what could not be
detected cannot be anonymized).
"""

from __future__ import annotations

import logging
from pathlib import Path

import jax
import ml_collections
import numpy as np

from anonjax import config_checks as cc
from anonjax.anonymize.box_cache import BoxTable, load_box_table
from anonjax.anonymize.detection import KINDS
from anonjax.data.canvas import FittedImages
from anonjax.errors import DatasetError
from anonjax.files import save_json
from anonjax.plan import StudyPlan, study_plan, validate_grid
from anonjax.ssl.meta_arch import CENTERINGS, DTYPES
from anonjax.ssl.pipeline import PairSource
from anonjax.stages.fingerprint import fingerprint, is_complete, mark_complete, recorded_fingerprint

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
    for key in ("head_warmup_steps", "crops.local_number"):
        cc.check_nonnegative_int(config, f"train.{key}")
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

    if config.train.distributed and not jax.distributed.is_initialized():
        jax.distributed.initialize()  # multi-host: before any computation; each host then loads its share
        _check_devices(config)
    stage_dir = Path(workdir) / "train"
    plan = study_plan(config)
    runs = [(m.adaptation, m.variant.method, m.variant.degree) for m in plan.models]
    split = open_split(config.data, "train")
    stage_fp = fingerprint(config.train, config.data, runs, plan.method_params, plan.seed, plan.boxes_key(),
                           split.digest)
    if is_complete(stage_dir, stage_fp):
        log.info("train: every model is finished in %s", stage_dir)
        return "up to date"
    images = FittedImages(split.dataset, config.train.canvas_size, budget_mb=config.train.cache_mb)
    table, trained = None, 0
    for model in plan.models:
        run_dir = stage_dir / model.name
        method, degree = model.variant.method, model.variant.degree
        fp = fingerprint(config.train, config.data, model.adaptation, method, degree,
                         plan.method_params.get(method), plan.seed, None if model.unadapted else plan.boxes_key(),
                         split.digest)
        if is_complete(run_dir, fp):
            log.info("train: %s is finished", model.name)
            continue
        _claim(run_dir, fp)
        if model.unadapted:
            source = PairSource(images, np.arange(len(split.ids)))
        else:
            table = table or load_box_table(workdir, "train", keep_empty=True)
            source = _paired_source(split, images, table, degree, plan, model.name)
        log.info("train: %s on %d images", model.name, len(source))
        train(config.train, run_dir, source, adaptation=model.adaptation, method=method,
              method_params=plan.method_params.get(method), progress=True)
        mark_complete(run_dir, fp, model=model.name, images=len(source))
        trained += 1
    mark_complete(stage_dir, stage_fp, models=[m.name for m in plan.models])
    return f"{trained} of {len(plan.models)} models trained"


def _claim(run_dir: Path, fp: str) -> None:
    """Record the fingerprint a run starts with; refuse to resume checkpoints made with another config."""
    marker = run_dir / RUN_FILE
    if marker.exists():
        previous = recorded_fingerprint(marker)
        if previous != fp:
            started = f"another training config (fingerprint {previous}, now {fp})" if previous else \
                f"a config that its damaged {RUN_FILE} no longer names"
            raise DatasetError(f"{run_dir} holds a run started with {started}; delete that directory to train it "
                               "again with this config")
        return
    save_json(marker, {"fingerprint": fp})


def _paired_source(split, images: FittedImages, table: BoxTable, degree: float, plan: StudyPlan,
                   name: str) -> PairSource:
    """Training images that have a box-table row, with their boxes and the ones anonymized at ``degree``."""
    rows = {image_id: i for i, image_id in enumerate(table.ids)}
    positions = [p for p, image_id in enumerate(split.ids) if image_id in rows]
    left_out = len(split.ids) - len(positions)
    if left_out:
        log.warning("train: %s leaves out %d training images without a usable detection record", name, left_out)
    if not positions:
        raise DatasetError(f"no training image of {name} has detections: run the anonymize stage on split 'train'")
    table_rows = np.asarray([rows[split.ids[p]] for p in positions])
    return PairSource(images, np.asarray(positions), boxes=table.boxes[table_rows],
                      selected=table.selection(degree, plan.seed, table_rows, degree_kinds=plan.degree_kinds),
                      digests=[table.digests[r] for r in table_rows])
