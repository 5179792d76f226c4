"""A split is indexed by the main process of a run and shared: the other processes check no file and read the
split the main process indexed, whatever their own view of the folder."""

import pytest
from data_test_files import rgb, save

from anonjax import hosts
from anonjax.data import DatasetError, open_split, reader
from configs import data as presets


@pytest.fixture
def folder(tmp_path):
    """A user folder of 6 images, one of them truncated (left out at index time)."""
    root = tmp_path / "folder"
    for i in range(6):
        save(root / ("a", "b")[i % 2] / f"{i}.png", rgb(i, 16, 12))
    data = (root / "a" / "2.png").read_bytes()
    (root / "a" / "2.png").write_bytes(data[: len(data) // 2])
    return root


def _open(root):
    return open_split(presets.folder(str(root), split_ratios=(1.0, 0.0, 0.0)), "train")


@pytest.fixture
def as_process(monkeypatch):
    """``as_process(i)``: this is process ``i`` of 2 from now on, and receives what process 0 broadcast; returns
    the list of files it checks."""
    sent = []
    received = iter(sent)

    def become(index: int) -> list:
        checked = []
        check = reader.check_file
        monkeypatch.setattr(hosts, "count", lambda: 2)
        monkeypatch.setattr(hosts, "is_main", lambda: index == 0)
        monkeypatch.setattr(hosts, "main_value", lambda value: sent.append(value) or value if index == 0
                            else next(received))
        monkeypatch.setattr(reader, "check_file", lambda path, *a: checked.append(path) or check(path, *a))
        return checked

    return become


def _same(split, other) -> None:
    assert (split.ids, split.stamps, split.skipped, split.digest, list(split.labels)) == \
        (other.ids, other.stamps, other.skipped, other.digest, list(other.labels))


def test_only_the_main_process_checks_the_files_and_every_process_reads_its_split(folder, as_process):
    alone = _open(folder)
    assert len(alone) == 5 and len(alone.skipped) == 1
    checked = as_process(0)
    main = _open(folder)
    assert len(checked) == 6
    checked = as_process(1)
    other = _open(folder)
    assert checked == []
    _same(main, alone)
    _same(other, alone)
    assert [r["id"] for r in other.dataset] == alone.ids  # the images themselves


def test_a_process_that_sees_a_newer_folder_reads_the_main_processs_split(folder, as_process):
    as_process(0)
    main = _open(folder)
    save(folder / "a" / "6.png", rgb(6, 16, 12))  # the main process indexed before this file came
    (folder / "a" / "2.png").write_bytes((folder / "b" / "1.png").read_bytes())  # and while this one was broken
    as_process(1)
    _same(_open(folder), main)


def test_a_process_that_lacks_an_image_the_main_process_indexed_stops_naming_it(folder, as_process):
    as_process(0)
    _open(folder)
    (folder / "b" / "3.png").unlink()
    as_process(1)
    with pytest.raises(DatasetError, match=r"does not list 'b/3.png' .*every host must see the same data.root"):
        _open(folder)
