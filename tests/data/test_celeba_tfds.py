"""CelebA through TensorFlow Datasets (``data.celeba_format="tfds"``) on TFDS's mock data, which needs no
download: the split listing, images and the ``Male`` attribute through anonjax's reader, and the anonymize
stage on them. Skipped without the extra ``anonjax[tfds]``; the mock encodes its images with TensorFlow, so
these tests also need ``tensorflow``, which the extra does not install."""

import numpy as np
import pytest

from anonjax.anonymize import load_box_table
from anonjax.anonymize.box_cache import cache_dir
from anonjax.data import open_split
from anonjax.data.image_io import decode_bytes
from anonjax.data.split_images import image_loader
from anonjax.main import load_config, run
from anonjax.plan import study_plan
from configs import anonymization
from configs import data as presets

tfds = pytest.importorskip("tensorflow_datasets")
pytest.importorskip("tensorflow")

N = 5  # mock images per split


@pytest.fixture
def mock_celeba():
    with tfds.testing.mock_data(num_examples=N, policy=tfds.testing.MockPolicy.USE_CODE):
        yield


def test_split_listing_images_and_attributes(tmp_path, mock_celeba):
    config = presets.celeba(str(tmp_path), celeba_format="tfds")
    split = open_split(config, "val")
    assert split.ids == [f"val/{i:06d}" for i in range(N)]
    # Mock examples depend on how the source decodes, so the reference is read as anonjax reads it: encoded bytes.
    source = tfds.builder("celeb_a", data_dir=str(tmp_path), file_format="array_record").as_data_source(
        split="validation", decoders={"image": tfds.decode.SkipDecoding()})
    assert split.labels.tolist() == [int(source[i]["attributes"]["Male"]) for i in range(N)]
    load = image_loader(split)
    for i in range(N):
        image = load(i)
        assert image.dtype == np.uint8 and image.shape == (218, 178, 3)
        assert np.array_equal(image, decode_bytes(source[i]["image"], f"val/{i}"))


def test_anonymize_stage_on_tfds_celeba(tmp_path, mock_celeba):
    pytest.importorskip("onnxruntime")
    config = load_config("ml_collections_configs/anonymize.py")
    config.data = presets.celeba(str(tmp_path / "tfds"), celeba_format="tfds")
    config.anonymize = anonymization.get_config(detectors=("faces",))
    config.anonymize.keep_empty = True  # mock images are noise: no face, kept all the same
    config.anonymize.stats_images = 2
    run(config, tmp_path / "work")
    plan = study_plan(config)
    for split in config.anonymize.splits:
        listed = open_split(config.data, split)
        cache = cache_dir(tmp_path / "work", config.data, split, plan.detectors, plan.detector_settings)
        table = load_box_table(cache, keep_empty=True)
        assert table.ids == listed.ids and not table.failed
    assert (tmp_path / "work" / "anonymize" / "report.md").is_file()
