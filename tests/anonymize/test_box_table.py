"""The box table is stored ragged: its memory follows the boxes, not the largest page, and a batch cut out of it
is the padded layout its users anonymize with."""

import dataclasses

import numpy as np

from anonjax.anonymize.box_shards import Record, _table
from anonjax.anonymize.box_table import BoxRows


def _records(counts) -> list[Record]:
    rng = np.random.default_rng(0)
    out = []
    for i, n in enumerate(counts):
        xy = rng.integers(0, 50, (n, 2))
        boxes = np.concatenate([xy, xy + rng.integers(1, 20, (n, 2))], axis=1).astype(np.int32)
        out.append(Record(f"img{i}", boxes, rng.random(n).astype(np.float32), rng.integers(0, 3, n).astype(np.int8),
                          (80, 60), "", f"digest{i}", ""))
    return out


def test_memory_follows_the_boxes_not_the_largest_page():
    counts = [1000] + [2] * 9999
    table = _table(_records(counts), keep_empty=False)
    assert table.width == 1000
    assert table.nbytes() < 25 * sum(counts) + 20 * len(counts)  # padded: 22 bytes x 10,000 x 1,000 = 220 MB


def test_a_batch_is_its_rows_padded_to_the_table_width():
    counts = [3, 0, 5, 1]
    records = _records(counts)
    table = _table(records, keep_empty=True)
    rows = np.array([2, 0, 1])
    padded = table.padded(rows)
    assert padded.boxes.shape == (3, 5, 4) and padded.valid.shape == (3, 5)
    for out, row in enumerate(rows):
        n = counts[row]
        np.testing.assert_array_equal(padded.boxes[out, :n], records[row].boxes)
        np.testing.assert_array_equal(padded.kinds[out, :n], records[row].kinds)
        np.testing.assert_array_equal(padded.scores[out, :n], records[row].scores)
        assert padded.valid[out].tolist() == [True] * n + [False] * (5 - n)
        assert (padded.boxes[out, n:] == 0).all() and (padded.kinds[out, n:] == -1).all()
        np.testing.assert_array_equal(table.row_boxes(row), records[row].boxes)
    boxes, selected = BoxRows(table, rows, 0.5, seed=3, degree_kinds=("text",)).batch([0, 2])
    np.testing.assert_array_equal(boxes, padded.boxes[[0, 2]])
    np.testing.assert_array_equal(selected, table.selection(0.5, 3, rows[[0, 2]], degree_kinds=("text",)))
    assert not (selected & ~padded.valid[[0, 2]]).any()


def test_row_lookup_does_not_rebuild_the_index():
    table = _table(_records([1] * 2_000), keep_empty=False)
    built = []
    table = dataclasses.replace(table, ids=_Counted(table.ids, built))  # every pass over the ids is counted
    built.clear()
    for i in range(500):
        assert table.rows([f"img{i}"])[0] == i
    assert len(built) == 1  # the index is built once, not per call


class _Counted(list):
    """A list that records each full iteration over it."""

    def __init__(self, items, log):
        super().__init__(items)
        self.log = log

    def __iter__(self):
        self.log.append(1)
        return super().__iter__()
