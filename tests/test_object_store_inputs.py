"""Inputs on an object store stay URLs: pretrained weights and a trained backbone are read through epath, TFDS gets
its ``data_dir`` and orbax its checkpoint directory with the scheme, and a local checkpoint directory is made absolute
as before."""

import types

import ml_collections
import numpy as np
import pytest
from object_store import serve_buckets

from anonjax.config_checks import ConfigError, check_path
from anonjax.data import celeba
from anonjax.models.pretrained import read_state_dict
from anonjax.ssl import checkpoint
from anonjax.ssl.loop import BACKBONE_FILE, MODEL_FILE, load_backbone

TENSORS = {"pos_embed": np.arange(12, dtype=np.float32).reshape(1, 3, 4), "cls_token": np.ones((1, 1, 4), np.float32)}


@pytest.fixture
def buckets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a URL collapsed into a local folder would appear here, as gs:/...
    folder = tmp_path / "buckets"
    (folder / "weights").mkdir(parents=True)
    serve_buckets(folder)
    return folder


def test_pretrained_weights_are_read_from_a_bucket(buckets):
    import torch
    from safetensors.numpy import save_file

    save_file(TENSORS, str(buckets / "weights" / "small.safetensors"))
    torch.save({"teacher": {k: torch.from_numpy(v) for k, v in TENSORS.items()}}, buckets / "weights" / "small.pth")
    config = ml_collections.ConfigDict({"train": {"pretrained": "gs://weights/small.pth"}})
    assert str(check_path(config, "train.pretrained", kind="file")) == "gs://weights/small.pth"
    for name in ("small.safetensors", "small.pth"):
        found = read_state_dict(f"gs://weights/{name}")
        assert sorted(found) == sorted(TENSORS), name
        for key, value in TENSORS.items():
            np.testing.assert_array_equal(found[key], value, err_msg=f"{name}: {key}")


def test_a_trained_backbone_is_read_from_a_bucket(buckets):
    run = buckets / "runs" / "unadapted"
    run.mkdir(parents=True)
    np.savez(run / BACKBONE_FILE, **{"blocks.0.ls1": TENSORS["cls_token"], "pos_embed": TENSORS["pos_embed"]})
    (run / MODEL_FILE).write_text('{"model": "vits14", "drop_path_rate": 0.1}')
    params, cfg = load_backbone("gs://runs/unadapted")
    np.testing.assert_array_equal(params["blocks"]["0"]["ls1"], TENSORS["cls_token"])
    np.testing.assert_array_equal(params["pos_embed"], TENSORS["pos_embed"])
    assert (cfg.embed_dim, cfg.drop_path_rate) == (384, 0.0)


def test_tfds_is_given_the_url_as_its_data_dir(monkeypatch):
    given = {}

    class Builder:
        def __init__(self, name, data_dir, file_format):
            given.update(name=name, data_dir=data_dir)

        def as_data_source(self, split, decoders):
            return [{"image": b"", "attributes": {"Male": i % 2 == 0}} for i in range(3)]

    fake = types.SimpleNamespace(builder=Builder, decode=types.SimpleNamespace(SkipDecoding=lambda: None))
    monkeypatch.setattr(celeba, "_import_tfds", lambda: fake)
    data = ml_collections.ConfigDict({"root": "gs://data/tfds", "celeba_format": "tfds", "download": False})
    listing = celeba.list_split(data, "val")
    assert given == {"name": "celeb_a", "data_dir": "gs://data/tfds"}
    assert listing.labels.tolist() == [1, 0, 1]
    data.root = "s3://data/tfds"
    with pytest.raises(ConfigError, match=r"data\.root.*s3://data/tfds.*pip install s3fs"):
        celeba.validate(ml_collections.ConfigDict({"data": data}))


@pytest.fixture
def handed_to_orbax(monkeypatch):
    given = []

    class Manager:
        def __init__(self, directory, **kwargs):
            given.append(directory)

    monkeypatch.setattr(checkpoint.ocp, "CheckpointManager", Manager)
    return given


def test_orbax_is_given_the_checkpoint_url_with_its_scheme(buckets, handed_to_orbax, tmp_path):
    checkpoint.Checkpoints("gs://runs/train/ckpt")
    (directory,) = handed_to_orbax
    assert str(directory) == "gs://runs/train/ckpt" and directory.exists() is False
    assert not (tmp_path / "gs:").exists()


def test_a_local_checkpoint_directory_is_made_absolute(handed_to_orbax, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint.Checkpoints("runs/ckpt")
    assert str(handed_to_orbax[0]) == str(tmp_path / "runs" / "ckpt")
