"""Paired datasets on disk: every variant or none, fresh PNGs without metadata, fail closed."""

import contextlib
import dataclasses
import errno
import json
import os
import struct
import urllib.parse

import numpy as np
import pytest
from PIL import Image

from anonjax.anonymize import BoxTable, apply, file_name, materialize, materialize_pairs
from anonjax.data import pixel_digest
from anonjax.errors import OutputError

METHODS, DEGREES = ("pixel", "mask"), (0.5, 1.0)
PARAMS = {"pixel": {"cells": 4}, "mask": {"fill": 0}}
IDS = ["case 1/front.png", "case-2", "case-3", "failed-4"]


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return {i: rng.integers(1, 255, (40, 56, 3), dtype=np.uint8) for i in IDS}


@pytest.fixture(scope="module")
def table(images):
    boxes = np.array([[[2, 2, 18, 14], [30, 10, 50, 30]], [[5, 5, 25, 25], [0, 0, 0, 0]],
                      [[10, 20, 42, 36], [0, 30, 8, 40]]], np.int32)
    valid = np.array([[True, True], [True, False], [True, True]])
    return BoxTable.from_padded(ids=IDS[:3], boxes=boxes, valid=valid, scores=valid.astype(np.float32),
                    kinds=np.where(valid, 1, -1).astype(np.int8), sizes=np.array([[40, 56]] * 3, np.int32),
                    digests=[pixel_digest(images[i]) for i in IDS[:3]],
                    failed={"failed-4": "detection failed: RuntimeError: boom"}, empty=[])


def png_chunks(path) -> list[str]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append(kind.decode())
        pos += 12 + length
    return chunks


def test_pairs_hold_every_variant_as_fresh_pngs(tmp_path, images, table):
    result = materialize_pairs(images.items(), table, tmp_path, "val", methods=METHODS, degrees=DEGREES,
                               params=PARAMS, seed=0)
    assert result["ids"] == IDS[:3]
    assert result["excluded"] == {"failed-4": "detection failed: RuntimeError: boom"}
    assert result["variants"] == ["original", "pixel_50", "pixel_100", "mask_50", "mask_100"]
    for variant in result["variants"]:
        files = sorted(p.name for p in (tmp_path / variant / "val").iterdir())
        assert files == sorted(file_name(i) for i in IDS[:3])
        assert "failed-4.png" not in files
    path = tmp_path / "mask_100" / "val" / file_name(IDS[0])
    assert urllib.parse.unquote(path.name[:-4]) == IDS[0]
    assert set(png_chunks(path)) == {"IHDR", "IDAT", "IEND"}  # no eXIf, tEXt, iTXt, tIME
    expected = np.asarray(apply(images[IDS[0]][None], table.padded().boxes[:1], table.padded().valid[:1], "mask"))[0]
    np.testing.assert_array_equal(np.array(Image.open(path)), expected)
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "original" / "val" / path.name)), images[IDS[0]])


def test_an_image_that_cannot_be_encoded_leaves_nothing_of_it(tmp_path, images, table, monkeypatch):
    real = materialize.write_png

    def failing(path, pixels):
        if "mask_50" in str(path) and path.name == file_name("case-2"):
            raise ValueError("could not encode")
        real(path, pixels)

    monkeypatch.setattr(materialize, "write_png", failing)
    result = materialize_pairs(images.items(), table, tmp_path, "val", methods=METHODS, degrees=DEGREES,
                               params=PARAMS, seed=0)
    assert result["ids"] == [IDS[0], IDS[2]]
    assert "could not encode" in result["excluded"]["case-2"]
    assert not list(tmp_path.rglob(file_name("case-2")))
    assert len(list(tmp_path.rglob(file_name("case-3")))) == 5


def full_disk_at(monkeypatch, name: str) -> None:
    """Writing the file ``name`` of ``mask_50`` fails as on a full disk (ENOSPC from ``write``)."""
    real = materialize.atomic_open

    class Full:
        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    @contextlib.contextmanager
    def atomic_open(path, mode="w", **kwargs):
        with real(path, mode, **kwargs) as f:
            yield Full() if path.parent.parent.name == "mask_50" and path.name == name else f

    monkeypatch.setattr(materialize, "atomic_open", atomic_open)


def test_a_full_disk_stops_with_one_line_naming_the_file(tmp_path, images, table, monkeypatch):
    full_disk_at(monkeypatch, file_name("case-2"))
    with pytest.raises(OutputError) as stopped:
        materialize_pairs(images.items(), table, tmp_path, "val", methods=METHODS, degrees=DEGREES,
                          params=PARAMS, seed=0)
    message = str(stopped.value)
    assert message == (f"cannot write {tmp_path / 'mask_50' / 'val' / file_name('case-2')}: No space left on "
                       "device; free space on its file system (or raise the quota) and rerun")
    assert not list(tmp_path.rglob(file_name("case-2")))  # nothing of that image, and no temporary file
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "pairs_val.json").exists()


LONG = "案件" * 36 + "/正面.png"  # 74 CJK characters: 666 bytes once quoted


@pytest.mark.parametrize("opaque", [False, True])
def test_long_names_fit_the_file_system(tmp_path, images, table, opaque):
    ids = [LONG, LONG.replace("正面", "背面"), "case-3"]
    renamed = {ids[i]: images[IDS[i]] for i in range(3)}
    long_table = dataclasses.replace(table, ids=ids, failed={})
    result = materialize_pairs(renamed.items(), long_table, tmp_path / "pairs", "val", methods=METHODS,
                               degrees=DEGREES, params=PARAMS, seed=0, opaque_names=opaque,
                               names_file=tmp_path / "names_val.json")
    assert result["ids"] == ids and not result["excluded"]
    names = sorted(p.name for p in (tmp_path / "pairs" / "mask_100" / "val").iterdir())
    assert len(names) == 3 and all(len(os.fsencode(n)) <= 255 for n in names)
    if not opaque:
        assert names == sorted(file_name(i) for i in ids)
        assert urllib.parse.unquote(file_name(LONG)).startswith("案件" * 10)  # still readable
        listing = json.loads((tmp_path / "pairs" / "pairs_val.json").read_text())
        assert dict(zip(listing["files"], listing["ids"], strict=True))[file_name(ids[1])] == ids[1]


def test_shortened_names_are_stable_unique_and_never_a_whole_name():
    ids = ["x" * 300, "x" * 299 + "y", "%" * 100, "x" + "%" * 100, "a" * 251]
    names = [file_name(i) for i in ids]
    assert names == [file_name(i) for i in ids] and len(set(names)) == len(ids)
    assert all(len(n) <= 255 for n in names)
    assert names[4] == "a" * 251 + ".png"  # one that fits is kept whole
    assert all("+" in n for n in names[:4]) and "+" not in file_name("a+b")
    assert all(n.split("+")[0].endswith(("x", "%25")) for n in names[:4])  # no escape cut in half


@pytest.mark.parametrize("change", ["resized", "same size, text elsewhere"])
def test_an_image_that_changed_since_detection_is_refused(tmp_path, images, table, change):
    other = images[IDS[0]][:30] if change == "resized" else np.roll(images[IDS[0]], 20, axis=1)
    result = materialize_pairs({IDS[0]: other, IDS[1]: images[IDS[1]]}.items(), table, tmp_path, "val",
                               methods=METHODS, degrees=DEGREES, params=PARAMS, seed=0)
    assert result["ids"] == [IDS[1]] and "changed after its detection" in result["excluded"][IDS[0]]
    assert not list(tmp_path.rglob(file_name(IDS[0])))


def test_opaque_names_keep_ids_out_of_the_pairs(tmp_path, images, table):
    names_file = tmp_path / "names_val.json"
    result = materialize_pairs(images.items(), table, tmp_path / "pairs", "val", methods=METHODS,
                               degrees=DEGREES, params=PARAMS, seed=0, opaque_names=True, names_file=names_file)
    assert result["ids"] == IDS[:3]
    files = sorted(p.name for p in (tmp_path / "pairs" / "mask_100" / "val").iterdir())
    assert files == ["000000.png", "000001.png", "000002.png"]
    mapping = json.loads(names_file.read_text())
    assert mapping["names"] == {"000000.png": IDS[0], "000001.png": IDS[1], "000002.png": IDS[2]}
    assert mapping["excluded"] == {"failed-4": "detection failed: RuntimeError: boom"}
    listing = (tmp_path / "pairs" / "pairs_val.json").read_text()
    assert not any(i in listing for i in IDS) and json.loads(listing)["excluded"] == 1
    expected = np.asarray(apply(images[IDS[1]][None], table.padded().boxes[1:2], table.padded().valid[1:2], "mask"))[0]
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "pairs" / "mask_100" / "val" / files[1])), expected)
