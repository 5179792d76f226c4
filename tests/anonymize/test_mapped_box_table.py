"""The box table kept beside the detection shards as memory-mapped ``.npy`` files: shared by every model and worker
process of a host, and assembled again from the shards whenever they changed or its files are of another format."""

import json
import pickle
from types import SimpleNamespace

import numpy as np
from tiny_study import tiny_demo

from anonjax.anonymize import load_box_table
from anonjax.anonymize.box_shards import Record, write_shard
from anonjax.plan import study_plan
from anonjax.ssl.model_data import model_source

IDS = [f"page/{i:03d}.png" for i in range(40)]
MAPPED = ("offsets", "flat_boxes", "flat_scores", "flat_kinds", "sizes")


def write_cache(folder, first_x=0):
    """Two shards of 20 pages; page i holds 10 * (i % 5) text boxes, the first at ``first_x``."""
    records = []
    for i, image_id in enumerate(IDS):
        n = 10 * (i % 5)
        boxes = np.tile(np.array([[first_x, i, first_x + 5, i + 3]], np.int32), (n, 1))
        records.append(Record(image_id, boxes, np.full(n, 0.9, np.float32), np.ones(n, np.int8), (100, 80), "",
                              f"{i:064x}", ""))
    folder.mkdir(parents=True, exist_ok=True)
    write_shard(folder / "shard_000000.npz", records[:20])
    write_shard(folder / "shard_000001.npz", records[20:])


def test_the_loaded_table_is_memory_mapped_and_pickles_as_its_folder(tmp_path):
    write_cache(tmp_path)
    table = load_box_table(tmp_path)
    assert all(isinstance(getattr(table, name), np.memmap) for name in MAPPED)
    assert table.ids == [i for k, i in enumerate(IDS) if k % 5] and table.digests[0] == f"{1:064x}"
    again = pickle.loads(pickle.dumps(table))  # what a worker process receives
    assert len(pickle.dumps(table)) < 1000 < table.nbytes()
    assert all(isinstance(getattr(again, name), np.memmap) for name in MAPPED)
    assert again.ids == table.ids and again.digests == table.digests
    np.testing.assert_array_equal(again.padded().boxes, table.padded().boxes)


def test_every_model_trains_from_the_one_mapped_table(tmp_path):
    write_cache(tmp_path)
    table = load_box_table(tmp_path)
    config = tiny_demo()
    config.grid.methods = ("mask", "blur")
    plan = study_plan(config)
    split = SimpleNamespace(ids=IDS)
    positions = np.asarray([p for p, image_id in enumerate(IDS) if p % 5], np.int64)
    images = SimpleNamespace(canvas=64)  # not read: with no budget the models anonymize in every step
    adapted = [m for m in plan.models if not m.on_original]
    sources = [model_source(m, plan, split, images, table, positions, budget_mb=0) for m in adapted]
    assert len(sources) == 2 and all(s.boxes.table is table for s in sources)
    for source in sources:  # each worker process gets the rows and the folder's name, not the table's arrays
        assert len(pickle.dumps(source.boxes)) < 2000 < table.nbytes()


def test_shards_written_since_rebuild_the_table(tmp_path):
    write_cache(tmp_path)
    assert load_box_table(tmp_path).row_boxes(0)[0, 0] == 0
    write_cache(tmp_path, first_x=7)
    assert load_box_table(tmp_path).row_boxes(0)[0, 0] == 7


def test_a_table_of_another_format_or_damaged_is_rebuilt_not_misread(tmp_path):
    write_cache(tmp_path)
    expected = load_box_table(tmp_path).padded().boxes
    marker = tmp_path / "table_detected" / "table.json"
    old = json.loads(marker.read_text())
    marker.write_text(json.dumps({**old, "format": 0}))
    np.save(tmp_path / "table_detected" / "flat_boxes.npy", np.zeros((3, 4), np.int64))  # what format 0 held
    np.testing.assert_array_equal(load_box_table(tmp_path).padded().boxes, expected)
    assert json.loads(marker.read_text())["format"] == old["format"]
    (tmp_path / "table_detected" / "offsets.npy").write_bytes(b"\x93NUMPY garbage")
    np.testing.assert_array_equal(load_box_table(tmp_path).padded().boxes, expected)
    kept = load_box_table(tmp_path, keep_empty=True)  # its own folder: the empty pages are rows too
    assert kept.ids == IDS and (tmp_path / "table_all" / "table.json").exists()
