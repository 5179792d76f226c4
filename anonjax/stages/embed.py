"""Stage ``embed``: every trained model embeds the original and the anonymized images of the evaluation
splits, and draws attention maps of a few validation images.

The images are those the anonymize stage kept (detections present, as in the paper), in the order of
its box table, so that every file of a split has the same rows. Each image is fitted to the training
canvas, anonymized there from its cached boxes (the same path as training), cut back to its content and
resized to the model's input; ``dinov2.embed_to_files`` embeds all views of a batch over every device of every
host, each host reading and anonymizing only its rows of the batch (``embed.batch_size`` is rounded up to a
multiple of the device count). The main process writes ``<workdir>/embeddings/`` in the layout of
:mod:`anonjax.layout` and ``<workdir>/attention/``; each model's files are finished (and skipped on a rerun) as
a whole. The fingerprint leaves out the operational keys (batch size, caches, workers, device layout:
``anonjax.fingerprint.OPERATIONAL``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import jax.numpy as jnp
import ml_collections

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.anonymize.split_inputs import SplitInputs
from anonjax.data import SPLITS, open_split
from anonjax.files import save_npy
from anonjax.fingerprint import fingerprint, is_complete, mark_complete, results_settings
from anonjax.layout import WorkDir, embedding_path, labels_path
from anonjax.models import dinov2
from anonjax.parallel import make_mesh, mesh_size, process_rows
from anonjax.plan import StudyPlan, Variant, study_plan
from anonjax.ssl.loop import load_backbone

log = logging.getLogger(__name__)


def validate(config: ml_collections.ConfigDict) -> None:
    """Check the embedding settings before any work."""
    cc.check_positive_int(config, "embed.batch_size")
    cc.check_positive_int(config, "embed.image_size")
    cc.check_choice(config, "embed.dtype", ("float32", "bfloat16"))
    cc.check_choices(config, "embed.splits", SPLITS)
    cc.check_nonnegative_int(config, "embed.attention_images")
    cc.report_originals(config)


def run(config: ml_collections.ConfigDict, workdir: Path) -> str:
    """Embed every split with every model of the plan; draw the attention maps."""
    plan = study_plan(config)
    out = WorkDir(workdir).embeddings
    splits = {name: open_split(config.data, name) for name in cc.as_tuple(config.embed.splits)}
    fp = fingerprint(config.data, config.grid, *(results_settings(block, config[block])
                                                 for block in ("anonymize", "train", "embed")),
                     plan.seed, {name: split.digest for name, split in splits.items()})
    if hosts.main_decides(is_complete, out, fp):
        log.info("embed: embeddings in %s are up to date", out)
        status = "up to date"
    else:
        for split in splits.values():
            _embed_split(config, plan, workdir, SplitInputs(split, workdir, config), fp)
        hosts.on_main("embed", mark_complete, out, fp)
        status = f"{len(plan.models)} models x {len(splits)} split(s) embedded"
    hosts.on_main("attention", _attention, config, plan, workdir, fp)
    return status


def _embed_split(config: ml_collections.ConfigDict, plan: StudyPlan, workdir: Path, images: SplitInputs,
                 fp: str) -> None:
    """Every model's embeddings of one split, in every variant the model is scored on."""
    out, split = WorkDir(workdir).embeddings, images.split
    hosts.on_main(f"labels {split.name}", save_npy, labels_path(out, split.name),
                  split.labels[[images.position[i] for i in images.ids]])
    mesh = make_mesh()
    devices = mesh_size(mesh)
    batch_size = -(-config.embed.batch_size // devices) * devices  # a whole batch on every device
    rows = process_rows(mesh, batch_size)
    dtype = jnp.bfloat16 if config.embed.dtype == "bfloat16" else jnp.float32
    for model in plan.models:
        done_marker = WorkDir(workdir).embedded(model.name, split.name)
        if hosts.main_decides(is_complete, done_marker, fp):
            continue
        params, cfg = load_backbone(WorkDir(workdir).model(model.name))
        variants = plan.embedded_variants(model)
        batches = images.views(variants, plan, config.embed.image_size, batch_size, rows=rows)
        paths = {v.name: embedding_path(out, model.name, v.name, split.name) for v in variants}
        dinov2.embed_to_files(params, cfg, batches, paths, mesh=mesh, batch_size=batch_size, dtype=dtype,
                              total=len(images.ids), desc=f"embed {model.name} {split.name}")
        hosts.on_main(f"embed {model.name} {split.name}", mark_complete, done_marker, fp)


def _attention(config: ml_collections.ConfigDict, plan: StudyPlan, workdir: Path, embed_fp: str) -> None:
    """Attention maps of the Unadapted model and the first adapted one for a few validation images, in
    ``attention/<view>/<model>__<n>.png``, numbered from 1 (no file name from data reaches a report).

    Each map is drawn on the input the models embed (the image fitted to the canvas, cut back to its
    content): the original, titled with its id, or with ``report.originals`` False the image with every
    detected box masked (mask at 100 %, whatever the grid's degrees) made from the cached boxes, titled by
    number only. Maps of an earlier run are removed first, so none drawn on an original outlives a switch to
    anonymized views. The maps have their own marker, so switching ``report.originals`` redraws them without
    embedding again.
    """
    work = WorkDir(workdir)
    out = work.attention
    originals = cc.report_originals(config)
    view = Variant() if originals else Variant("mask", 1.0)
    fp = fingerprint(embed_fp, originals, view.name, "numbered")  # maps named by id before are redrawn
    if is_complete(out, fp):
        return
    for stale in out.glob("*/*.png"):  # attention/<view>/<model>__<n>.png
        stale.unlink()
    splits = cc.as_tuple(config.embed.splits)
    images = SplitInputs(open_split(config.data, "val" if "val" in splits else splits[0]), workdir, config)
    chosen = images.ids[:config.embed.attention_images]
    if not chosen:
        return
    inputs = [x for _, batch in images.views([view], plan, config.embed.image_size, len(chosen), chosen)
              for x in batch[view.name]]
    shown = chosen if originals else [f"image {number}" for number in range(1, len(chosen) + 1)]
    for model in (plan.unadapted, *[m for m in plan.models if not m.on_original][:1]):
        params, cfg = load_backbone(work.model(model.name))
        dinov2.draw_attention(params, cfg, inputs,
                              [work.attention_map(view.name, model.name, n) for n in range(1, len(chosen) + 1)],
                              [f"{model.name}: {name} ({view.name})" for name in shown])
    mark_complete(out, fp)
