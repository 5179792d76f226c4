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
from collections.abc import Iterator, Sequence
from pathlib import Path

import jax.numpy as jnp
import ml_collections
import numpy as np

from anonjax import config_checks as cc
from anonjax import hosts
from anonjax.anonymize import BoxTable, load_split_boxes
from anonjax.anonymize.box_table import CHANGED
from anonjax.anonymize.model_input import model_inputs
from anonjax.data import SPLITS, DatasetError, Split, open_split
from anonjax.data.canvas import Fitted, FittedImages, scale_boxes
from anonjax.data.transforms import normalize
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
    if hosts.main_value(is_complete(out, fp)):
        log.info("embed: embeddings in %s are up to date", out)
        status = "up to date"
    else:
        for split in splits.values():
            _embed_split(config, plan, workdir, _SplitImages(split, workdir, config), fp)
        hosts.on_main("embed", mark_complete, out, fp)
        status = f"{len(plan.models)} models x {len(splits)} split(s) embedded"
    hosts.on_main("attention", _attention, config, plan, workdir, fp)
    return status


class _SplitImages:
    """The images of a split that the anonymize stage kept, fitted to the training canvas, with their boxes;
    and each variant's model inputs, made once for all models. Both are held in memory when they fit
    ``embed.cache_mb`` (each on its own).

    An image that cannot be read, or is not the image its boxes were detected on, stops the stage with a
    ``DatasetError`` naming it: nothing is embedded from it.
    """

    def __init__(self, split: Split, workdir: Path, config: ml_collections.ConfigDict):
        self.split = split
        plan = study_plan(config)
        self.table: BoxTable = load_split_boxes(workdir, config.data, split, plan.detectors, plan.detector_settings,
                                                keep_empty=plan.keep_empty)
        self.position = {image_id: i for i, image_id in enumerate(split.ids)}
        self.ids = [i for i in self.table.ids if i in self.position]
        self.fitted = FittedImages(split.dataset, config.train.canvas_size, budget_mb=config.embed.cache_mb)
        self.budget_mb = config.embed.cache_mb
        self._inputs: dict[tuple, np.ndarray] = {}

    def image(self, image_id: str) -> Fitted:
        """``image_id`` on the canvas, checked against its detection."""
        fitted = self.fitted[self.position[image_id]]
        if fitted is None:
            raise DatasetError("{}: {}".format(*self.split.records[self.position[image_id]]["error"]))
        if fitted.digest != self.table.digests[self.table.rows([image_id])[0]]:
            raise DatasetError(f"image {image_id!r} of split {self.split.name!r}: {CHANGED}")
        return fitted

    def views(self, variants: Sequence[Variant], plan: StudyPlan, image_size: int, batch_size: int,
              ids: Sequence[str] | None = None, rows: Sequence[int] | None = None,
              ) -> Iterator[tuple[list[str], dict[str, np.ndarray]]]:
        """``(ids, {variant name: float32 [b, S, S, 3]})``: each batch of ``batch_size`` ids and its images as the
        models see them in every variant (``model_inputs``: anonymized on the canvas, cut back to the content,
        resized), normalized; of the images only the ``rows`` of the batch (all by default) that it has, so that
        each host reads only its share (``parallel.process_rows``)."""
        ids = self.ids if ids is None else list(ids)
        rows = range(batch_size) if rows is None else rows
        keep = len(self.ids) * image_size**2 * 3 * (1 + len(plan.variants)) <= self.budget_mb * 2**20
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            mine = [chunk[r] for r in rows if r < len(chunk)]
            key = (image_size, *mine)
            made = self._make(mine, [v for v in variants if (v.name, *key) not in self._inputs], plan, image_size)
            if keep:
                self._inputs.update({(name, *key): pixels for name, pixels in made.items()})
            pixels = {v.name: made[v.name] if v.name in made else self._inputs[(v.name, *key)] for v in variants}
            yield chunk, {name: normalize(p) for name, p in pixels.items()}

    def _make(self, chunk: list[str], variants: Sequence[Variant], plan: StudyPlan,
              image_size: int) -> dict[str, np.ndarray]:
        """The model inputs (uint8, before normalization) of ``chunk`` in each of ``variants``."""
        if not variants:
            return {}
        if not chunk:
            return {v.name: np.zeros((0, image_size, image_size, 3), np.uint8) for v in variants}
        fitted = [self.image(i) for i in chunk]
        rows = self.table.rows(chunk)
        canvases = np.stack([f.pixels for f in fitted])
        boxes = np.stack([scale_boxes(self.table.boxes[r], f.scale, f.size) for r, f in zip(rows, fitted,
                                                                                             strict=True)])
        sizes = [f.size for f in fitted]
        made = {}
        for variant in variants:
            selected = params = None
            if variant.anonymized:
                selected = self.table.selection(variant.degree, plan.seed, rows, degree_kinds=plan.degree_kinds)
                params = plan.method_params[variant.method]
            made[variant.name] = model_inputs(canvases, sizes, boxes, image_size, method=variant.method,
                                              selected=selected, params=params).pixels
        return made


def _embed_split(config: ml_collections.ConfigDict, plan: StudyPlan, workdir: Path, images: _SplitImages,
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
        if hosts.main_value(is_complete(done_marker, fp)):
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
    for stale in out.rglob("*.png"):
        stale.unlink()
    splits = cc.as_tuple(config.embed.splits)
    images = _SplitImages(open_split(config.data, "val" if "val" in splits else splits[0]), workdir, config)
    chosen = images.ids[:config.embed.attention_images]
    if not chosen:
        return
    inputs = [x for _, batch in images.views([view], plan, config.embed.image_size, len(chosen), chosen)
              for x in batch[view.name]]
    for model in (plan.unadapted, *[m for m in plan.models if not m.on_original][:1]):
        params, cfg = load_backbone(work.model(model.name))
        for number, (image_id, image) in enumerate(zip(chosen, inputs, strict=True), start=1):
            maps = dinov2.attention_maps(params, cfg, image[None])[0]
            shown = image_id if originals else f"image {number}"
            dinov2.render_attention(image, maps, work.attention_map(view.name, model.name, number),
                                    title=f"{model.name}: {shown} ({view.name})")
    mark_complete(out, fp)
