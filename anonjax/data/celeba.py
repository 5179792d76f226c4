"""CelebA, from the official folder layout or from the TensorFlow Datasets ``celeb_a`` builder.

The label is the ``Male`` attribute (1 male, 0 not), the downstream task of the study.

Official layout (``data.celeba_format = "folder"``)::

    root/img_align_celeba/000001.jpg ...
    root/list_eval_partition.txt      "000001.jpg 0" per line: 0 train, 1 val, 2 test
    root/list_attr_celeba.txt         a count line, a header of 40 attribute names, then
                                      "000001.jpg v1 ... v40" with values -1 or 1

Ids are the file names. With ``data.celeba_format = "tfds"`` the images come from the ``celeb_a``
builder (extra ``anonjax[tfds]``; it downloads once into ``data.root`` when ``data.download`` is true,
and is read through ``as_data_source``, which needs the array_record file format); ids are
``<split>/<record index>`` because the builder does not keep file names.
"""

from __future__ import annotations

import os
from typing import Any

import ml_collections
import numpy as np
from etils import epath

from anonjax.config_checks import ConfigError, check_choice, check_path, check_servable, get
from anonjax.data.image_io import decode_bytes, read_image
from anonjax.data.listing import Listing
from anonjax.errors import DatasetError
from anonjax.paths import as_path

CLASS_NAMES = ["not_male", "male"]
LABEL_ATTRIBUTE = "Male"
NUM_ATTRIBUTES = 40
IMAGE_DIR = "img_align_celeba"
PARTITION_FILE = "list_eval_partition.txt"
ATTRIBUTE_FILE = "list_attr_celeba.txt"
_PARTITION_CODES = {"train": 0, "val": 1, "test": 2}
_TFDS_SPLITS = {"train": "train", "val": "validation", "test": "test"}


def validate(root_config: ml_collections.ConfigDict) -> None:
    """Check ``data.celeba_format`` and the files it needs."""
    fmt = check_choice(root_config, "data.celeba_format", ("folder", "tfds"))
    if fmt == "folder":
        root = check_path(root_config, "data.root", kind="dir")
        for name in (IMAGE_DIR, PARTITION_FILE, ATTRIBUTE_FILE):
            if not (root / name).exists():
                raise ConfigError("data.root", f"{str(root)!r} has no {name} (the official CelebA layout)")
    else:
        check_servable("data.root", get(root_config, "data.root"))  # TFDS's data_dir: local or a URL
        get(root_config, "data.download")


def list_split(data_config: ml_collections.ConfigDict, split: str) -> Listing:
    """The images of ``split``, from the folder layout or from TFDS."""
    if data_config.celeba_format == "tfds":
        return _list_tfds(data_config, split)
    root = as_path(str(data_config.root))
    files = read_partition(root / PARTITION_FILE, _PARTITION_CODES[split])
    male = read_attribute(root / ATTRIBUTE_FILE, LABEL_ATTRIBUTE)
    missing = [f for f in files if f not in male]
    if missing:
        raise DatasetError(f"{root / ATTRIBUTE_FILE}: no attributes for {missing[0]} ({len(missing)} files)")
    paths = [root / IMAGE_DIR / f for f in files]
    return Listing(
        ids=files,
        labels=np.array([male[f] for f in files], dtype=np.int32),
        class_names=CLASS_NAMES,
        items=paths,
        names=[str(p) for p in paths],
        load=read_image,
        files=True,
    )


def read_partition(path: epath.Path, code: int) -> list[str]:
    """File names whose partition code is ``code``, in file order."""
    files = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise DatasetError(f"{path}:{line_no}: expected '<file> <0|1|2>', got {line.strip()!r}")
        if int(parts[1]) == code:
            files.append(parts[0])
    return files


def read_attribute(path: epath.Path, attribute: str) -> dict[str, int]:
    """``file -> 0/1`` for one attribute of ``list_attr_celeba.txt`` (1 where the file says 1)."""
    lines = path.read_text().splitlines()
    if len(lines) < 2:
        raise DatasetError(f"{path}: expected a count line and a header line of attribute names")
    header = lines[1].split()
    if len(header) != NUM_ATTRIBUTES or attribute not in header:
        raise DatasetError(f"{path}:2: expected {NUM_ATTRIBUTES} attribute names including {attribute!r}")
    column = header.index(attribute) + 1
    values = {}
    for line_no, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != NUM_ATTRIBUTES + 1 or any(v not in ("-1", "1") for v in parts[1:]):
            raise DatasetError(
                f"{path}:{line_no}: expected a file name and {NUM_ATTRIBUTES} values of -1 or 1"
            )
        values[parts[0]] = int(parts[column] == "1")
    return values


class TfdsImages:
    """Decodes record i of a TFDS data source whose images were left encoded (picklable)."""

    def __init__(self, source: Any, split: str):
        self.source = source
        self.split = split

    def __call__(self, index: int) -> np.ndarray:
        image = self.source[index]["image"]
        if isinstance(image, np.ndarray):
            return np.ascontiguousarray(image, dtype=np.uint8)
        return decode_bytes(image, f"celeb_a/{self.split}/{index}")


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(
            "data.celeba_format='tfds' needs TensorFlow Datasets: pip install 'anonjax[tfds]' "
            "(or use data.celeba_format='folder' with the official CelebA files)"
        ) from None
    return tfds


def _list_tfds(data_config: ml_collections.ConfigDict, split: str) -> Listing:
    tfds = _import_tfds()
    data_dir = os.fspath(as_path(str(data_config.root)))  # a URL stays a URL: TFDS reads it through epath
    builder = tfds.builder("celeb_a", data_dir=data_dir, file_format="array_record")
    if data_config.download:
        builder.download_and_prepare()
    source = builder.as_data_source(
        split=_TFDS_SPLITS[split], decoders={"image": tfds.decode.SkipDecoding()}
    )
    labels = np.fromiter(
        (bool(source[i]["attributes"][LABEL_ATTRIBUTE]) for i in range(len(source))),
        dtype=np.int32, count=len(source),
    )
    ids = [f"{split}/{i:06d}" for i in range(len(source))]
    return Listing(
        ids=ids,
        labels=labels,
        class_names=CLASS_NAMES,
        items=list(range(len(source))),
        names=[f"celeb_a/{i}" for i in ids],
        load=TfdsImages(source, split),
        files=False,
    )
