"""The reader's skip and strict behaviours, and batching that keeps ids with their rows."""

from pathlib import Path

import numpy as np
import pytest
from data_test_files import corrupt_png_payload, rgb, save

from anonjax.data import EvalTransform, ImageError, iterate_batches, open_split
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
        list(iterate_batches(split, 2))


def test_batches_keep_ids_with_rows_and_hold_the_remainder_last(cases):
    split = _open(cases)
    batches = list(iterate_batches(split, 2))
    assert [len(b.ids) for b in batches] == [2, 2, 1]
    ids = [i for b in batches for i in b.ids]
    assert ids == [i for i in split.ids if i != "b/3.png"]
    for b in batches:
        assert b.images.dtype == np.uint8 and b.images.shape[1:] == (16, 12, 3)
        for i, row_id in enumerate(b.ids):
            assert b.labels[i] == split.labels[split.ids.index(row_id)]
            index = int(Path(row_id).stem)
            np.testing.assert_array_equal(b.images[i], rgb(index, 16, 12))
    assert [len(b.ids) for b in iterate_batches(split, 2, drop_remainder=True)] == [2, 2]
    assert sum(1 for name, _ in split.skipped if name.endswith("3.png")) == 1


def test_shuffle_is_seeded_and_transform_gives_normalized_squares(cases):
    split = _open(cases)
    first = [i for b in iterate_batches(split, 3, shuffle_seed=7) for i in b.ids]
    again = [i for b in iterate_batches(split, 3, shuffle_seed=7) for i in b.ids]
    assert first == again and sorted(first) == sorted(i for i in split.ids if i != "b/3.png")
    assert first != [i for b in iterate_batches(split, 3, shuffle_seed=8) for i in b.ids]
    batch = next(iterate_batches(split, 4, transform=EvalTransform(8)))
    assert batch.images.shape == (4, 8, 8, 3) and batch.images.dtype == np.float32


def test_images_of_different_sizes_need_a_transform(tmp_path):
    save(tmp_path / "c" / "x" / "0.png", rgb(0, 10, 10))
    save(tmp_path / "c" / "x" / "1.png", rgb(1, 12, 10))
    split = _open(tmp_path / "c")
    with pytest.raises(ValueError, match="EvalTransform"):
        list(iterate_batches(split, 2))
    assert next(iterate_batches(split, 2, transform=EvalTransform(6))).images.shape == (2, 6, 6, 3)


def test_worker_processes_deliver_the_same_batches_and_report_failures(cases):
    split = _open(cases)
    in_process = list(iterate_batches(split, 2, transform=EvalTransform(8)))
    split = _open(cases)
    workers = list(iterate_batches(split, 2, transform=EvalTransform(8), num_workers=2))
    assert [b.ids for b in workers] == [b.ids for b in in_process]
    for a, b in zip(workers, in_process, strict=True):
        np.testing.assert_array_equal(a.images, b.images)
    assert [Path(p).name for p, _ in split.skipped] == ["2.png", "3.png"]


def test_max_images_keeps_a_seeded_subset(tmp_path):
    cfg = presets.synthetic(train=30, val=5, test=5)
    cfg.max_images = 7
    a, b = open_split(cfg, "train"), open_split(cfg, "train")
    full = open_split(presets.synthetic(train=30, val=5, test=5), "train")
    assert a.ids == b.ids and len(a) == 7 and set(a.ids) <= set(full.ids)
    assert a.ids == [i for i in full.ids if i in set(a.ids)]
