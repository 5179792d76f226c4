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
from anonjax.data import EvalTransform, open_split
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


def run(config: ml_collections.ConfigDict, workdir: Path) -> None:
    """Embed every split with every model of the grid."""
    out = workdir / "embeddings"
    fp = fingerprint(config.data, config.grid, config.anonymize, config.train, config.embed, config.seed)
    if is_complete(out, fp):
        log.info("embed: embeddings in %s are up to date", out)
        return
    params_by_method = method_params(config.anonymize)
    for split_name in cc.as_tuple(config.embed.splits):
        split = open_split(config.data, split_name)
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
    _attention(config, workdir)
    mark_complete(out, fp)


class _Canvases:
    """The split's images fitted to the training canvas, with their boxes scaled alike, batch by batch.

    When they fit ``config.embed.cache_mb`` they are read once and held for every model; otherwise they
    are read again for each model.
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
            fitted = [fit_to_canvas(self.split.dataset[self.position[i]]["image"], self.canvas) for i in chunk]
            rows = self.table.rows(chunk)
            boxes = np.stack([scale_boxes(self.table.boxes[r], f[2], f[1])
                              for r, f in zip(rows, fitted, strict=True)])
            yield chunk, np.stack([f[0] for f in fitted]), boxes, [f[1] for f in fitted]


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


def _attention(config, workdir: Path) -> None:
    """Attention maps of the Unadapted model and the first adapted one for a few validation images."""
    count = config.embed.attention_images
    split_name = "val" if "val" in cc.as_tuple(config.embed.splits) else cc.as_tuple(config.embed.splits)[0]
    if count <= 0:
        return
    split = open_split(config.data, split_name)
    table = load_box_table(workdir, split_name, keep_empty=config.anonymize.keep_empty)
    transform = EvalTransform(config.embed.image_size)
    chosen = table.ids[:count]
    position = {image_id: i for i, image_id in enumerate(split.ids)}
    for adaptation, method, degree in trained_models(config)[:2]:
        name = model_name(adaptation, method, degree)
        params, cfg = load_backbone(workdir / "train" / name)
        for image_id in chosen:
            image = transform(split.dataset[position[image_id]]["image"])
            maps = dinov2.attention_maps(params, cfg, image[None])[0]
            safe = image_id.replace("/", "_")
            dinov2.render_attention(image, maps, workdir / "attention" / f"{name}__{safe}.png",
                                    title=f"{name}: {image_id}")
