"""Fixtures writing tiny datasets in the real layouts of each source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_test_files import rgb, save, truncate


@pytest.fixture
def make_rvl_cdip(tmp_path):
    """An RVL-CDIP archive layout: grayscale TIFFs, label files, one truncated TIFF in val."""

    def make() -> Path:
        root = tmp_path / "rvl-cdip"
        lines = {"train": [], "val": [], "test": []}
        for i in range(12):
            split = ("train", "train", "val", "test")[i % 4]
            rel = f"imagesa/a/{i:02d}/doc{i:03d}.tif"
            gray = np.random.default_rng(i).integers(0, 256, (40, 30), dtype=np.uint8)
            save(root / "images" / rel, gray, "TIFF")
            lines[split].append(f"{rel} {i % 16}")
        truncate(root / "images" / "imagesa/a/02/doc002.tif", 0.4)
        for split, rows in lines.items():
            (root / "labels").mkdir(parents=True, exist_ok=True)
            (root / "labels" / f"{split}.txt").write_text("\n".join(rows) + "\n")
        return root

    return make


@pytest.fixture
def make_celeba(tmp_path):
    """The official CelebA layout: 8 JPEGs, partition and attribute files; one JPEG truncated."""

    def make() -> Path:
        root = tmp_path / "celeba"
        names = [f"{i:06d}.jpg" for i in range(1, 9)]
        header = [f"Attr{k}" for k in range(40)]
        header[20] = "Male"
        attr_rows, part_rows = [], []
        for i, name in enumerate(names):
            save(root / "img_align_celeba" / name, rgb(i, 218 // 4, 178 // 4), "JPEG")
            values = ["-1"] * 40
            values[20] = "1" if i % 2 else "-1"
            attr_rows.append(f"{name} " + " ".join(values))
            part_rows.append(f"{name} {(0, 0, 0, 0, 1, 1, 2, 2)[i]}")
        truncate(root / "img_align_celeba" / names[1], 0.6)
        (root / "list_attr_celeba.txt").write_text(f"{len(names)}\n" + " ".join(header) + "\n"
                                                  + "\n".join(attr_rows) + "\n")
        (root / "list_eval_partition.txt").write_text("\n".join(part_rows) + "\n")
        return root

    return make
