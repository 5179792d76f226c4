"""The detection cache: resumable shards, fail-closed exclusion, padded box tables."""

import numpy as np
import pytest
from anon_test_images import paste, qr_code

from anonjax.anonymize import BoxTable, box_cache, box_shards, detect_split, load_box_table, select_boxes
from anonjax.anonymize.detection import Detections, Detectors
from anonjax.data import DatasetError, pixel_digest

SETTINGS = {"codes": {"barcodes": False, "qr_codes": True}}


def make_images(n: int) -> list[np.ndarray]:
    """Pages with 0, 1 or 2 real QR codes (image i has i % 3 of them)."""
    images = []
    for i in range(n):
        page = np.full((200, 320, 3), 255, np.uint8)
        for k in range(i % 3):
            paste(page, qr_code(f"case {i} code {k}", module=3), 20 + 150 * k, 50)
        images.append(page)
    return images


IMAGES = make_images(7)
IDS = [f"doc/{i:02d}.png" for i in range(7)]


class Loader:
    """Counts which images were read, so tests can see what a resumed run recomputes."""

    def __init__(self, images, broken=()):
        self.images, self.broken, self.calls = images, set(broken), []

    def __call__(self, i):
        self.calls.append(i)
        if i in self.broken:
            raise OSError(f"truncated file {IDS[i]}")
        return self.images[i]


def test_real_detections_are_cached_and_padded(tmp_path):
    assert detect_split(IDS, Loader(IMAGES), ("codes",), SETTINGS, tmp_path, shard_size=3) == 3
    table = load_box_table(tmp_path)
    assert table.ids == [i for k, i in enumerate(IDS) if k % 3]  # pages without a code are excluded
    assert table.empty == [IDS[0], IDS[3], IDS[6]]
    padded = table.padded()
    assert padded.boxes.shape == (4, 2, 4) and padded.boxes.dtype == np.int32
    np.testing.assert_array_equal(table.counts, [1, 2, 1, 2])
    np.testing.assert_array_equal(padded.valid, np.arange(2)[None] < table.counts[:, None])
    assert (padded.boxes[~padded.valid] == 0).all() and (padded.kinds[padded.valid] == 2).all()
    np.testing.assert_array_equal(table.sizes, [[200, 320]] * 4)
    kept = load_box_table(tmp_path, keep_empty=True)
    assert kept.ids == IDS and kept.counts.tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    class Interrupted(Loader):
        def __call__(self, i):
            if i == 4:
                raise KeyboardInterrupt
            return super().__call__(i)

    with pytest.raises(KeyboardInterrupt):
        detect_split(IDS, Interrupted(IMAGES), ("codes",), SETTINGS, tmp_path, shard_size=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard_000000.npz", "shard_000001.npz"]
    loader = Loader(IMAGES)
    assert detect_split(IDS, loader, ("codes",), SETTINGS, tmp_path, shard_size=2) == 2
    assert loader.calls == [4, 5, 6]
    assert detect_split(IDS, loader, ("codes",), SETTINGS, tmp_path, shard_size=2) == 0
    assert detect_split(IDS, loader, ("codes",), SETTINGS, tmp_path, shard_size=3) == 3  # another size
    assert sorted(p.name for p in tmp_path.glob("shard_*")) == [f"shard_00000{k}.npz" for k in range(3)]
    fresh = tmp_path / "fresh"
    detect_split(IDS, Loader(IMAGES), ("codes",), SETTINGS, fresh, shard_size=2)
    np.testing.assert_array_equal(load_box_table(tmp_path).padded().boxes, load_box_table(fresh).padded().boxes)


def test_failures_exclude_the_image_with_its_reason(tmp_path, monkeypatch):
    class Flaky(Detectors):
        def __call__(self, image):
            found = super().__call__(image)
            if image is IMAGES[1]:
                raise RuntimeError("onnxruntime crashed")
            if image is IMAGES[2]:
                return Detections(found.boxes.astype(float) * np.nan, found.scores, found.kinds)
            return found

    monkeypatch.setattr(box_cache, "Detectors", Flaky)
    detect_split(IDS, Loader(IMAGES, broken=[4]), ("codes",), SETTINGS, tmp_path, shard_size=4)
    table = load_box_table(tmp_path)
    assert set(table.failed) == {IDS[1], IDS[2], IDS[4]}
    assert "onnxruntime crashed" in table.failed[IDS[1]]
    assert "could not be read" in table.failed[IDS[4]]
    assert not set(table.failed) & set(table.ids)
    with pytest.raises(KeyError, match="not in the box table"):
        table.rows([IDS[1]])


def test_nan_boxes_from_a_detector_fail_the_image(tmp_path, monkeypatch):
    class Garbage(Detectors):
        def __call__(self, image):
            return Detections(np.array([[np.nan, 0, 5, 5]]), np.ones(1, np.float32), np.zeros(1, np.int8))

    monkeypatch.setattr(box_cache, "Detectors", Garbage)
    detect_split(IDS[:2], Loader(IMAGES), ("codes",), SETTINGS, tmp_path)
    table = load_box_table(tmp_path)
    assert table.ids == [] and set(table.failed) == set(IDS[:2])


def test_selection_of_a_table_follows_select_boxes(tmp_path):
    detect_split(IDS, Loader(IMAGES), ("codes",), SETTINGS, tmp_path, shard_size=4)
    table = load_box_table(tmp_path)
    boxes, mask = table.batch([IDS[5], IDS[1]], 0.5, seed=9, degree_kinds=("codes",))
    assert boxes.shape == (2, 2, 4)
    np.testing.assert_array_equal(mask[0], select_boxes(2, 0.5, seed=9, image_id=IDS[5]))
    np.testing.assert_array_equal(mask[1], [True, False])
    # A degree of the text boxes leaves no code (nor face) unanonymized.
    _, always = table.batch([IDS[5], IDS[1]], 0.25, seed=9)
    np.testing.assert_array_equal(always, table.padded().valid[table.rows([IDS[5], IDS[1]])])


def test_a_degree_chooses_among_its_kind_only():
    kinds = np.array([[1, 0, 1, 1, 2, 1, -1]], np.int8)  # text, face, text, text, code, text, padding
    valid = kinds >= 0
    table = BoxTable.from_padded(ids=["card"], boxes=np.zeros((1, 7, 4), np.int32), valid=valid, scores=np.ones((1, 7)),
                     kinds=kinds, sizes=np.array([[10, 10]]), digests=[""], failed={}, empty=[])
    for degree in (0.25, 0.5, 1.0):
        mask = table.selection(degree, seed=4)[0]
        assert mask[1] and mask[4] and not mask[6]
        text = np.flatnonzero(kinds[0] == 1)
        np.testing.assert_array_equal(mask[text], select_boxes(4, degree, seed=4, image_id="card"))


def test_a_cache_without_shards_needs_the_stage(tmp_path):
    with pytest.raises(DatasetError, match="run the anonymize stage"):
        load_box_table(tmp_path)


def test_detection_processes_give_the_same_boxes(tmp_path):
    detect_split(IDS[:4], Loader(IMAGES), ("codes",), SETTINGS, tmp_path / "one", shard_size=2)
    detect_split(IDS[:4], Loader(IMAGES), ("codes",), SETTINGS, tmp_path / "two", shard_size=2, workers=2)
    a, b = load_box_table(tmp_path / "one"), load_box_table(tmp_path / "two")
    assert a.ids == b.ids
    np.testing.assert_array_equal(a.padded().boxes, b.padded().boxes)


def test_a_changed_image_is_detected_again_and_a_touched_one_is_not(tmp_path):
    stamps = [f"1:{i}" for i in range(len(IDS))]
    detect_split(IDS, Loader(IMAGES), ("codes",), SETTINGS, tmp_path, stamps=stamps, shard_size=3)
    before = load_box_table(tmp_path)
    moved = IMAGES[:]
    moved[1] = np.full((200, 320, 3), 255, np.uint8)  # same name and size, its code elsewhere
    paste(moved[1], qr_code("someone else", module=3), 200, 100)
    stamps[1], stamps[2] = "1:99", "1:98"  # 1 replaced, 2 only touched
    loader = Loader(moved)
    assert detect_split(IDS, loader, ("codes",), SETTINGS, tmp_path, stamps=stamps, shard_size=3) == 1
    assert loader.calls == [1, 2]  # only the images whose stamp changed are read again
    after = load_box_table(tmp_path)
    row = after.ids.index(IDS[1])
    assert after.digests[row] == pixel_digest(moved[1]) != before.digests[before.ids.index(IDS[1])]
    assert after.row_boxes(row)[0, 0] >= 200  # the new code's box, not the old one's
    assert after.changed(row, moved[1]) is None and "changed after its detection" in after.changed(row, IMAGES[1])
    np.testing.assert_array_equal(after.row_boxes(after.ids.index(IDS[2])), before.row_boxes(before.ids.index(IDS[2])))


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage", "missing_key"])
def test_a_damaged_shard_is_recomputed(tmp_path, damage):
    detect_split(IDS, Loader(IMAGES), ("codes",), SETTINGS, tmp_path, shard_size=4)
    shard = tmp_path / "shard_000001.npz"
    data = shard.read_bytes()
    if damage == "missing_key":
        with np.load(shard) as f:
            np.savez(shard, **{k: f[k] for k in f.files if k != "digests"})
    else:
        shard.write_bytes({"truncate": data[: len(data) // 2], "empty": b"", "garbage": b"\xff" * 99}[damage])
    assert not box_shards.intact(tmp_path, len(IDS))
    with pytest.raises(DatasetError, match=r"shard_000001\.npz is damaged"):
        load_box_table(tmp_path)
    loader = Loader(IMAGES)
    assert detect_split(IDS, loader, ("codes",), SETTINGS, tmp_path, shard_size=4) == 1
    assert loader.calls == [4, 5, 6] and box_shards.intact(tmp_path, len(IDS))
    assert load_box_table(tmp_path).ids == [i for k, i in enumerate(IDS) if k % 3]


def test_shards_are_dealt_to_the_processes_in_turn():
    assert list(box_cache.own_shards(7, 0, 3)) == [0, 3, 6]
    assert list(box_cache.own_shards(7, 2, 3)) == [2, 5]
    assert list(box_cache.own_shards(1, 1, 2)) == []
    assert list(box_cache.own_shards(4)) == [0, 1, 2, 3]  # this run's one process: all of them
    with pytest.raises(ValueError, match="process 2 of 2"):
        box_cache.own_shards(4, 2, 2)


def test_two_processes_give_the_table_of_one(tmp_path):
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    first, second = Loader(IMAGES, broken=[4]), Loader(IMAGES, broken=[4])
    assert detect_split(IDS, first, ("codes",), SETTINGS, shared, shard_size=2, process_index=0,
                        process_count=2) == 2
    assert first.calls == [0, 1, 4, 5]  # shards 0 and 2 of 0 .. 3
    with pytest.raises(DatasetError, match=r"2 of 4 detection shards are missing "
                                           r"\(shard_000001\.npz, shard_000003\.npz\)"):
        box_shards.assemble_table(IDS, shared, shard_size=2)
    assert detect_split(IDS, second, ("codes",), SETTINGS, shared, shard_size=2, process_index=1,
                        process_count=2) == 2
    assert second.calls == [2, 3, 6]
    detect_split(IDS, Loader(IMAGES, broken=[4]), ("codes",), SETTINGS, alone, shard_size=2)
    for keep_empty in (False, True):
        split = box_shards.assemble_table(IDS, shared, shard_size=2, keep_empty=keep_empty)
        one = box_shards.assemble_table(IDS, alone, shard_size=2, keep_empty=keep_empty)
        assert split.ids == one.ids and split.digests == one.digests and split.empty == one.empty
        assert split.failed == one.failed and set(split.failed) == {IDS[4]}
        for key in ("boxes", "valid", "scores", "kinds"):
            np.testing.assert_array_equal(getattr(split.padded(), key), getattr(one.padded(), key))
        np.testing.assert_array_equal(split.sizes, one.sizes)
    assert sorted(p.name for p in shared.iterdir()) == sorted(p.name for p in alone.iterdir())
    np.testing.assert_array_equal(load_box_table(shared).padded().boxes, load_box_table(alone).padded().boxes)


def test_only_the_shards_of_the_split_are_assembled(tmp_path):
    detect_split(IDS, Loader(IMAGES), ("codes",), SETTINGS, tmp_path, shard_size=2)
    with pytest.raises(DatasetError, match=r"shard_000000\.npz holds other images"):
        box_shards.assemble_table(IDS, tmp_path, shard_size=3)
    (tmp_path / "shard_000002.npz").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"shard_000002\.npz is damaged"):
        box_shards.assemble_table(IDS, tmp_path, shard_size=2)
    with pytest.raises(DatasetError, match="no image to detect"):
        box_shards.assemble_table([], tmp_path)
