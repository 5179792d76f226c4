"""The reader's skip and strict behaviours, and batching that keeps ids with their rows."""

from pathlib import Path

import pytest
from data_test_files import corrupt_png_payload, rgb, save

from anonjax.data import ImageError, open_split
from configs import data as presets


@pytest.fixture
def cases(tmp_path):
    """A user folder of 7 same-size images: one truncated (found at index time), one with a corrupt
    payload (found only when read)."""
    root = tmp_path / "cases"
    for i in range(7):
        save(root / ("a", "b")[i % 2] / f"{i}.png", rgb(i, 16, 12))
    data = (root / "a" / "2.png").read_bytes()
    (root / "a" / "2.png").write_bytes(data[: len(data) // 2])
    corrupt_png_payload(root / "b" / "3.png", rgb(3, 64, 64))
    return root


def _open(root, strict=False):
    return open_split(presets.folder(str(root), split_ratios=(1.0, 0.0, 0.0)), "train", strict=strict)


def test_read_failure_is_skipped_and_listed_once(cases):
    split = _open(cases)
    assert "a/2.png" not in split.ids and "b/3.png" in split.ids and len(split) == 6
    assert len(split.skipped) == 1
    position = split.ids.index("b/3.png")
    assert split.dataset[position] is None
    assert split.dataset[position] is None
    delivered = [r["id"] for r in split.dataset]
    assert delivered == [i for i in split.ids if i != "b/3.png"]
    assert [Path(p).name for p, _ in split.skipped] == ["2.png", "3.png"]
    assert "cannot decode" in split.skipped[1][1]


def test_strict_mode_raises_naming_the_file(cases):
    with pytest.raises(ImageError, match=r"2\.png"):
        _open(cases, strict=True)
    (cases / "a" / "2.png").unlink()
    split = _open(cases, strict=True)
    with pytest.raises(ImageError, match=r"3\.png"):
        [split.dataset[i] for i in range(len(split))]


def test_max_images_keeps_a_seeded_subset(tmp_path):
    cfg = presets.synthetic(train=30, val=5, test=5)
    cfg.max_images = 7
    a, b = open_split(cfg, "train"), open_split(cfg, "train")
    full = open_split(presets.synthetic(train=30, val=5, test=5), "train")
    assert a.ids == b.ids and len(a) == 7 and set(a.ids) <= set(full.ids)
    assert a.ids == [i for i in full.ids if i in set(a.ids)]
