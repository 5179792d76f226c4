"""Stage ``embed``: every trained model embeds the original and the anonymized images of the evaluation
splits, and draws attention maps of a few validation images.

The images are those the anonymize stage kept (detections present, as in the paper), in the order of
its box table, so that every file of a split has the same rows. Each image is fitted to the training
canvas, anonymized there from its cached boxes (the same path as training), cut back to its content and
resized to the model's input. Writes ``<workdir>/embeddings/`` in the layout of :mod:`anonjax.layout` and
``<workdir>/attention/``; each model's files are finished (and skipped on a rerun) as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from anonjax import config_checks as cc
from anonjax.anonymize import apply, load_box_table
from anonjax.data import DatasetError, EvalTransform, open_split
from anonjax.files import save_json, save_npy
from anonjax.layout import ORIGINAL, embedding_path, ids_path, labels_path, model_name, variant_name
from anonjax.models import dinov2
from anonjax.ssl.loop import load_backbone
from anonjax.ssl.pipeline import fit_to_canvas, scale_boxes
from anonjax.stages.anonymize import method_params
from anonjax.stages.fingerprint import fingerprint, is_complete, mark_complete
from anonjax.stages.train import models as trained_models

log = logging.getLogger(__name__)


def validate(config: ml_collections.ConfigDict) -> None:
    """Check the embedding settings before any work."""
    cc.check_positive_int(config, "embed.batch_size")
    cc.check_positive_int(config, "embed.image_size")
    cc.check_choice(config, "embed.dtype", ("float32", "bfloat16"))
    cc.check_choices(config, "embed.splits", ("train", "val", "test"))
    if not isinstance(cc.get(config, "embed.attention_images"), int):
        raise cc.ConfigError("embed.attention_images", "must be an integer >= 0")
    cc.report_originals(config)


def run(config: ml_collections.ConfigDict, workdir: Path) -> None:
    """Embed every split with every model of the grid."""
    out = workdir / "embeddings"
    splits = {name: open_split(config.data, name) for name in cc.as_tuple(config.embed.splits)}
    fp = fingerprint(config.data, config.grid, config.anonymize, config.train, config.embed, config.seed,
                     {name: split.digest for name, split in splits.items()})
    if is_complete(out, fp):
        log.info("embed: embeddings in %s are up to date", out)
    else:
        _embed(config, workdir, splits, fp)
    _attention(config, workdir, fp)


def _embed(config: ml_collections.ConfigDict, workdir: Path, splits: dict, fp: str) -> None:
    """Every model's embeddings of every split, each model's files finished (and skipped) as a whole."""
    out = workdir / "embeddings"
    params_by_method = method_params(config.anonymize)
    for split_name, split in splits.items():
        table = load_box_table(workdir, split_name, keep_empty=config.anonymize.keep_empty)
        position = {image_id: i for i, image_id in enumerate(split.ids)}
        ids = [i for i in table.ids if i in position]
        save_npy(labels_path(out, split_name), split.labels[[position[i] for i in ids]])
        canvases = _Canvases(split, table, ids, position, config)
        for adaptation, method, degree in trained_models(config):
            name = model_name(adaptation, method, degree)
            model_dir = out / name / f".{split_name}"
            if is_complete(model_dir, fp):
                continue
            params, cfg = load_backbone(workdir / "train" / name)
            grid = [(method, degree)] if method else [
                (m, float(g)) for m in cc.as_tuple(config.grid.methods) for g in cc.as_tuple(config.grid.degrees)]
            variants = {ORIGINAL: None, **{variant_name(m, g): (m, g) for m, g in grid}}
            arrays = _embed_variants(params, cfg, canvases, variants, params_by_method, config,
                                     desc=f"embed {name} {split_name}")
            for variant, array in arrays.items():
                path = embedding_path(out, name, variant, split_name)
                save_npy(path, array)
                save_json(ids_path(path), ids)
            mark_complete(model_dir, fp)
    mark_complete(out, fp)


class _Canvases:
    """The split's images fitted to the training canvas, with their boxes scaled alike, batch by batch.

    When they fit ``config.embed.cache_mb`` they are read once and held for every model; otherwise they
    are read again for each model. An image that cannot be read, or is not the image its boxes were
    detected on, stops the stage with a ``DatasetError`` naming it: nothing is embedded from it.
    """

    def __init__(self, split, table, ids, position, config):
        self.split, self.table, self.ids, self.position = split, table, ids, position
        self.canvas, self.batch_size = config.train.canvas_size, config.embed.batch_size
        self.held = None
        if len(ids) * self.canvas**2 * 3 <= config.embed.cache_mb * 2**20:
            self.held = list(self._read())

    def __iter__(self) -> Iterator[tuple[list[str], np.ndarray, np.ndarray, list]]:
        return iter(self.held) if self.held is not None else self._read()

    def _read(self) -> Iterator[tuple[list[str], np.ndarray, np.ndarray, list]]:
        """(ids, canvases uint8 [B, C, C, 3], canvas boxes [B, M, 4], true sizes) of consecutive images."""
        for start in range(0, len(self.ids), self.batch_size):
            chunk = self.ids[start:start + self.batch_size]
            rows = self.table.rows(chunk)
            fitted = [fit_to_canvas(self._image(image_id, row), self.canvas) for image_id, row in zip(chunk, rows,
                                                                                                        strict=True)]
            boxes = np.stack([scale_boxes(self.table.boxes[r], f[2], f[1])
                              for r, f in zip(rows, fitted, strict=True)])
            yield chunk, np.stack([f[0] for f in fitted]), boxes, [f[1] for f in fitted]


    def _image(self, image_id: str, row: int) -> np.ndarray:
        record = self.split.records[self.position[image_id]]
        if "error" in record:
            raise DatasetError("{}: {}".format(*record["error"]))
        if reason := self.table.changed(row, record["image"]):
            raise DatasetError(f"image {image_id!r} of split {self.split.name!r}: {reason}")
        return record["image"]


def _embed_variants(params, cfg, canvases: _Canvases, variants, params_by_method, config, desc):
    """float32 [N, D] per variant, each image read once."""
    transform = EvalTransform(config.embed.image_size)
    dtype = jnp.bfloat16 if config.embed.dtype == "bfloat16" else jnp.float32
    rows: dict[str, list[np.ndarray]] = {v: [] for v in variants}
    table = canvases.table
    with tqdm(total=len(canvases.ids), desc=desc, unit="img") as bar:
        for chunk, images_in, boxes, sizes in canvases:
            for variant, spec in variants.items():
                images = images_in
                if spec is not None:
                    method, degree = spec
                    selected = table.selection(degree, config.seed, table.rows(chunk),
                                               degree_kinds=cc.as_tuple(config.anonymize.degree_kinds))
                    images = np.asarray(_anonymize(images_in, boxes, selected, method=method,
                                                   **params_by_method[method]))
                batch = np.stack([transform(im[:h, :w]) for im, (h, w) in zip(images, sizes, strict=True)])
                padded = np.zeros((config.embed.batch_size, *batch.shape[1:]), batch.dtype)
                padded[: len(batch)] = batch
                rows[variant].append(np.asarray(dinov2.embed(params, cfg, padded, dtype=dtype))[: len(batch)])
            bar.update(len(chunk))
    return {v: np.concatenate(r).astype(np.float32) for v, r in rows.items()}


_anonymize = jax.jit(apply, static_argnames=("method", "cells", "sigma", "fill"))


def _attention(config, workdir: Path, embed_fp: str) -> None:
    """Attention maps of the Unadapted model and the first adapted one for a few validation images, in
    ``attention/<view>/<model>__<id>.png``.

    Each map is drawn on the input the models embed (the image fitted to the canvas, cut back to its
    content): the original, or with ``report.originals`` False the grid's strongest anonymization (mask if
    the grid has it, else its first method, at its highest degree) made from the cached boxes. Maps of an
    earlier run are removed first, so none drawn on an original outlives a switch to anonymized views. The
    maps have their own marker, so switching ``report.originals`` redraws them without embedding again.
    """
    out = workdir / "attention"
    originals, methods = cc.report_originals(config), cc.as_tuple(config.grid.methods)
    fp = fingerprint(embed_fp, originals)
    if is_complete(out, fp):
        return
    for stale in out.rglob("*.png"):
        stale.unlink()
    count = config.embed.attention_images
    if count <= 0:
        return
    split_name = "val" if "val" in cc.as_tuple(config.embed.splits) else cc.as_tuple(config.embed.splits)[0]
    method = None if originals else ("mask" if "mask" in methods else methods[0])
    degree = max(float(d) for d in cc.as_tuple(config.grid.degrees))
    view = variant_name(method, degree)
    split = open_split(config.data, split_name)
    table = load_box_table(workdir, split_name, keep_empty=config.anonymize.keep_empty)
    transform = EvalTransform(config.embed.image_size)
    position = {image_id: i for i, image_id in enumerate(split.ids)}
    inputs = []  # (id, float32 [S, S, 3]) as the models see them
    for chunk, images, boxes, sizes in _Canvases(split, table, table.ids[:count], position, config):
        if method is not None:
            selected = table.selection(degree, config.seed, table.rows(chunk),
                                       degree_kinds=cc.as_tuple(config.anonymize.degree_kinds))
            images = np.asarray(_anonymize(images, boxes, selected, method=method,
                                           **method_params(config.anonymize)[method]))
        inputs += [(i, transform(im[:h, :w])) for i, im, (h, w) in zip(chunk, images, sizes, strict=True)]
    for adaptation, model_method, model_degree in trained_models(config)[:2]:
        name = model_name(adaptation, model_method, model_degree)
        params, cfg = load_backbone(workdir / "train" / name)
        for image_id, image in inputs:
            maps = dinov2.attention_maps(params, cfg, image[None])[0]
            safe = image_id.replace("/", "_")
            dinov2.render_attention(image, maps, out / view / f"{name}__{safe}.png",
                                    title=f"{name}: {image_id} ({view})")
    mark_complete(out, fp)
