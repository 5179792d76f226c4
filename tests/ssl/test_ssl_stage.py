"""Stage ``train`` end to end at a tiny size: the unadapted model and one adapted model (boxes from a box
table, anonymized on the fly), then a rerun that skips the finished work."""

import json

import ml_collections
import numpy as np
import pytest
from ssl_tiny_config import tiny_train

from anonjax.anonymize import box_cache
from anonjax.config_checks import ConfigError
from anonjax.data import open_split, pixel_digest
from anonjax.stages import train as stage
from configs import anonymization, data


def _config():
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.data = data.synthetic(train=12, val=0, test=0)
    config.grid = ml_collections.ConfigDict({"adaptations": ("A",), "methods": ("mask",), "degrees": (1.0,)})
    config.anonymize = anonymization.get_config()
    config.train = tiny_train()
    return config


def _box_table(config):
    """Detections for the training pages: one box per page except the first (failed) and second (none)."""
    split = open_split(config.data, "train")
    ids = split.ids
    kept = ids[1:]
    boxes = np.zeros((len(kept), 1, 4), np.int32)
    boxes[:, 0] = (10, 20, 200, 120)
    valid = np.ones((len(kept), 1), bool)
    valid[0] = False
    return box_cache.BoxTable(
        ids=kept, boxes=boxes, valid=valid, scores=valid.astype(np.float32), kinds=np.zeros((len(kept), 1), np.int8),
        sizes=np.tile([[512, 384]], (len(kept), 1)).astype(np.int32), failed={ids[0]: "unreadable"}, empty=[kept[0]],
        digests=[pixel_digest(split.dataset[i]["image"]) for i in range(1, len(ids))],
    )


def test_stage_trains_every_model_and_skips_finished_ones(tmp_path, monkeypatch):
    config = _config()
    table = _box_table(config)
    calls = []

    def fake_load(workdir, split, keep_empty=False):
        calls.append((split, keep_empty))
        return table

    monkeypatch.setattr(stage, "load_box_table", fake_load)
    stage.validate(config)
    stage.run(config, tmp_path)
    assert calls == [("train", True)]
    for name, images in (("unadapted", 12), ("A_mask_100", 11)):  # the failed page is left out of A
        run_dir = tmp_path / "train" / name
        assert json.loads((run_dir / "DONE.json").read_text())["images"] == images
        assert (run_dir / "teacher_backbone.npz").is_file()
        rows = (run_dir / "training_log.jsonl").read_text().splitlines()
        assert json.loads(rows[-1])["step"] == 5
    assert (tmp_path / "train" / "DONE.json").is_file()
    stamp = (tmp_path / "train" / "unadapted" / "teacher_backbone.npz").stat().st_mtime_ns
    stage.run(config, tmp_path)  # everything finished: nothing is redone
    assert (tmp_path / "train" / "unadapted" / "teacher_backbone.npz").stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train.model", "vit_huge", "unknown model name"),
        ("train.batch_size", 12, "multiple of the 8 devices"),
        ("train.crops.global_size", 40, "multiple of the patch size 16"),
        ("train.centering", "mean", "must be one of"),
        ("train.crops.local_scale", (0.5, 0.1), "range"),
    ],
)
def test_validate_names_the_wrong_key(key, value, message):
    config = _config()
    node = config
    *parents, leaf = key.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    with pytest.raises(ConfigError, match=rf"config\.{key}: .*{message}"):
        stage.validate(config)
