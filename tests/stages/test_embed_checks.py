"""The embed stage anonymizes only the pixels that its boxes were detected on."""

import ml_collections
import numpy as np
import pytest
from PIL import Image

from anonjax.anonymize import BoxTable, split_inputs
from anonjax.data import DatasetError, open_split, pixel_digest, read_image
from anonjax.plan import Variant, study_plan
from configs import data as presets


def test_an_image_changed_after_detection_stops_the_embedding(tmp_path, monkeypatch):
    root = tmp_path / "cases"
    (root / "a").mkdir(parents=True)
    for i in range(2):
        Image.fromarray(np.full((20, 30, 3), 50 * (i + 1), np.uint8)).save(root / "a" / f"{i}.png")
    split = open_split(presets.folder(str(root), split_ratios=(1.0, 0.0, 0.0)), "train")
    digests = [pixel_digest(read_image(root / "a" / "0.png")), pixel_digest(np.zeros((20, 30, 3), np.uint8))]
    table = BoxTable.from_padded(ids=split.ids, boxes=np.zeros((2, 1, 4), np.int32), valid=np.ones((2, 1), bool),
                     scores=np.ones((2, 1), np.float32), kinds=np.ones((2, 1), np.int8),
                     sizes=np.array([[20, 30]] * 2, np.int32), digests=digests, failed={}, empty=[])
    monkeypatch.setattr(split_inputs, "load_split_boxes", lambda *args, keep_empty: table)
    config = ml_collections.ConfigDict({"data": {}, "train": {"canvas_size": 32}, "embed": {"cache_mb": 0},
                                        "anonymize": {"keep_empty": False}})
    images = split_inputs.SplitInputs(split, tmp_path, config)
    batches = images.views([Variant()], study_plan(config), image_size=14, batch_size=1)
    assert next(batches)[0] == ["a/0.png"]
    with pytest.raises(DatasetError, match=r"image 'a/1.png' of split 'train': the image changed after its detection"):
        next(batches)
