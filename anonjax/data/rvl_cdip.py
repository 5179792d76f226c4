"""RVL-CDIP from its official archive layout: 16 classes of grayscale TIFF document scans.

Layout::

    root/images/imagesa/a/a/a/aaa06d00/50486482-6482.tif ...
    root/labels/train.txt   "imagesa/a/a/a/aaa06d00/50486482-6482.tif 6" per line (path under images/)
    root/labels/val.txt
    root/labels/test.txt

Ids are the paths under ``images/``. The archive is known to hold a file that does not decode; the
reader skips it and lists it like any other unreadable file.
"""

from __future__ import annotations

import ml_collections
import numpy as np
from etils import epath

from anonjax.config_checks import ConfigError, check_path
from anonjax.data.image_io import read_image
from anonjax.data.listing import Listing
from anonjax.errors import DatasetError
from anonjax.paths import as_path

CLASS_NAMES = [
    "letter", "form", "email", "handwritten", "advertisement", "scientific report",
    "scientific publication", "specification", "file folder", "news article", "budget",
    "invoice", "presentation", "questionnaire", "resume", "memo",
]


def validate(root_config: ml_collections.ConfigDict) -> None:
    """Check that ``data.root`` holds ``images/`` and ``labels/``."""
    root = check_path(root_config, "data.root", kind="dir")
    for name in ("images", "labels"):
        if not (root / name).is_dir():
            raise ConfigError("data.root", f"{str(root)!r} has no {name}/ (the RVL-CDIP archive layout)")


def list_split(data_config: ml_collections.ConfigDict, split: str) -> Listing:
    """The images of ``split`` as ``labels/<split>.txt`` lists them."""
    root = as_path(str(data_config.root))
    rel_paths, labels = read_labels(root / "labels" / f"{split}.txt")
    paths = [root / "images" / p for p in rel_paths]
    return Listing(
        ids=rel_paths,
        labels=np.array(labels, dtype=np.int32),
        class_names=CLASS_NAMES,
        items=paths,
        names=[str(p) for p in paths],
        load=read_image,
        files=True,
    )


def read_labels(path: epath.Path) -> tuple[list[str], list[int]]:
    """Relative paths and labels of one RVL-CDIP label file."""
    if not path.is_file():
        raise DatasetError(f"{path}: label file missing")
    rel_paths, labels = [], []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) >= len(CLASS_NAMES):
            raise DatasetError(f"{path}:{line_no}: expected '<path> <label 0..15>', got {line.strip()!r}")
        rel_paths.append(parts[0])
        labels.append(int(parts[1]))
    return rel_paths, labels
