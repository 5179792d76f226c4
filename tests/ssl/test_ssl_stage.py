"""Stage ``train`` end to end at a tiny size: the unadapted model and one adapted model (boxes from a box
table, anonymized on the fly), then reruns that skip the finished work, resume with other operational keys and
refuse a changed recipe."""

import json
import shutil

import ml_collections
import numpy as np
import pytest
from tiny_study import tiny_train

from anonjax import hosts
from anonjax.anonymize.box_table import BoxTable
from anonjax.config_checks import ConfigError
from anonjax.data import DatasetError, open_split, pixel_digest
from anonjax.plan import study_plan
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
    return BoxTable.from_padded(
        ids=kept, boxes=boxes, valid=valid, scores=valid.astype(np.float32), kinds=np.zeros((len(kept), 1), np.int8),
        sizes=np.tile([[512, 384]], (len(kept), 1)).astype(np.int32), failed={ids[0]: "unreadable"}, empty=[kept[0]],
        digests=[pixel_digest(split.dataset[i]["image"]) for i in range(1, len(ids))],
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A study trained once in a work directory, with the box table of :func:`_box_table` in place of the
    anonymize stage's (patched for the module)."""
    config = _config()
    table = _box_table(config)
    calls = []

    def fake_load(workdir, data, split, kinds, settings, *, keep_empty=False):
        calls.append((split.name, tuple(kinds), keep_empty))
        keep = [i for i, image_id in enumerate(table.ids) if keep_empty or image_id not in table.empty]
        padded = table.padded(keep)
        return BoxTable.from_padded(ids=[table.ids[i] for i in keep], boxes=padded.boxes, valid=padded.valid,
                                    scores=padded.scores, kinds=padded.kinds, sizes=table.sizes[keep],
                                    failed=table.failed, empty=table.empty, digests=[table.digests[i] for i in keep])

    workdir = tmp_path_factory.mktemp("study")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stage, "load_split_boxes", fake_load)
        stage.validate(config)
        stage.run(config, workdir)
        yield config, workdir, list(calls)


@pytest.mark.slow
def test_stage_trains_every_model_and_skips_finished_ones(trained, tmp_path):
    config, trained_dir, calls = trained
    assert calls == [("train", ("faces", "text", "codes"), False)]
    workdir = shutil.copytree(trained_dir, tmp_path / "work")
    plan = study_plan(config)
    # Every model trains on the pages with detections: the failed page and the page without any are left out.
    for model in plan.models:
        run_dir = workdir / "train" / model.name
        done = json.loads((run_dir / "DONE.json").read_text())
        assert (done["images"], done["seed"]) == (10, model.seed(config.train.seed))
        assert (run_dir / "teacher_backbone.npz").is_file()
        rows = (run_dir / "training_log.jsonl").read_text().splitlines()
        assert json.loads(rows[-1])["step"] == 5
    assert [m.name for m in plan.models] == ["unadapted", "A_mask_100"]
    assert (workdir / "train" / "DONE.json").is_file()
    stamp = (workdir / "train" / "unadapted" / "teacher_backbone.npz").stat().st_mtime_ns
    assert stage.run(config, workdir) == "up to date"  # everything finished: nothing is redone
    assert (workdir / "train" / "unadapted" / "teacher_backbone.npz").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_operational_keys_never_force_a_rerun(trained, tmp_path):
    """Another device layout, log or checkpoint interval or cache size leaves a finished study up to date and
    an unfinished run resumes (restored into the new shardings); a changed recipe is refused, naming the key."""
    config, trained_dir, _ = trained
    workdir = shutil.copytree(trained_dir, tmp_path / "work")
    config = config.copy_and_resolve_references()
    t = config.train
    t.fsdp, t.log_every, t.checkpoint_every, t.keep_checkpoints, t.cache_mb, t.remat = 2, 3, 4, 1, 0, True
    t.workers = 2
    stage.validate(config)
    assert stage.run(config, workdir) == "up to date"

    run_dir = workdir / "train" / "unadapted"
    with np.load(run_dir / "teacher_backbone.npz") as f:
        exported = dict(f)
    for finished in (workdir / "train" / "DONE.json", run_dir / "DONE.json", run_dir / "teacher_backbone.npz"):
        finished.unlink()  # as if stopped after its last checkpoint
    assert stage.run(config, workdir) == "1 of 2 models trained"
    with np.load(run_dir / "teacher_backbone.npz") as f:
        assert sorted(f.files) == sorted(exported)
        for name in f.files:
            np.testing.assert_array_equal(f[name], exported[name], err_msg=name)

    t.epochs = 2
    with pytest.raises(DatasetError, match=r"config\.train\.epochs changed.*delete that directory"):
        stage.run(config, workdir)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train.model", "vit_huge", "unknown model name"),
        ("train.batch_size", 12, "multiple of the 8 devices"),
        ("train.crops.global_size", 40, "multiple of the patch size 16"),
        ("train.centering", "mean", "must be one of"),
        ("train.crops.local_scale", (0.5, 0.1), "range"),
        ("train.group_size", 3, "must divide train.batch_size=8"),
        ("train.group_size", -1, "integer >= 0"),
        ("train.coordinator_address", "10.0.0.1", "host:port"),
        ("train.num_processes", 0, "positive integer or -1"),
        ("train.process_id", -2, r"-1 \(detected\)"),
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


def test_distributed_training_starts_from_the_explicit_settings(monkeypatch):
    """Explicit values reach ``jax.distributed.initialize``; empty and -1 are left to JAX's detection."""
    calls = []
    monkeypatch.setattr(hosts.jax.distributed, "initialize", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(hosts.jax.distributed, "is_initialized", lambda: False)
    config, detected = _config(), _config()
    config.train.coordinator_address, config.train.num_processes, config.train.process_id = "localhost:1234", 2, 1
    stage.validate(config)
    hosts.initialize(config)  # not distributed: nothing to join
    config.train.distributed = detected.train.distributed = True
    hosts.initialize(config)
    hosts.initialize(detected)
    assert calls == [{"coordinator_address": "localhost:1234", "num_processes": 2, "process_id": 1},
                     {"coordinator_address": None, "num_processes": None, "process_id": None}]
    config.train.process_id = 2
    with pytest.raises(ConfigError, match=r"config\.train\.process_id: .*\[0, train\.num_processes\)"):
        stage.validate(config)
