"""A user's folder: links out of the root, undecodable names, oversized images and empty splits are left
out and listed, or stop the run with one message; never read silently."""

import logging
import os
from pathlib import Path

import pytest
from data_test_files import rgb, save
from PIL import Image

from anonjax.data import DatasetError, open_split
from configs import data as presets


def _folder(root, **overrides):
    config = presets.folder(str(root), split_ratios=(1.0, 0.0, 0.0))
    for key, value in overrides.items():
        config[key] = value
    return config


@pytest.fixture
def outside(tmp_path):
    """Images outside the data root: a private folder a link may point to."""
    private = tmp_path / "private"
    save(private / "passport.png", rgb(9, 16, 12))
    return private


def test_a_linked_file_outside_the_root_is_refused_and_listed(tmp_path, outside):
    root = tmp_path / "cases"
    save(root / "a" / "0.png", rgb(0, 16, 12))
    os.symlink(outside / "passport.png", root / "a" / "1.png")
    split = open_split(_folder(root), "train")
    assert split.ids == ["a/0.png"]
    assert split.skipped == [(str(root / "a" / "1.png"),
                              f"a link to {outside / 'passport.png'}, outside data.root "
                              "(set data.follow_symlinks=True to read it)")]
    assert open_split(_folder(root, follow_symlinks=True), "train").ids == ["a/0.png", "a/1.png"]


def test_a_linked_class_folder_outside_the_root_is_not_entered(tmp_path, outside):
    root = tmp_path / "cases"
    save(root / "a" / "0.png", rgb(0, 16, 12))
    os.symlink(outside, root / "b")
    os.symlink("/", root / "everything")  # would crawl the file system
    split = open_split(_folder(root), "train")
    assert split.ids == ["a/0.png"] and split.class_names == ["a"]
    assert [(Path(name).name, reason.split(",")[0]) for name, reason in split.skipped] == [
        ("b", f"a link to {outside}"), ("everything", "a link to /")]
    (root / "everything").unlink()
    assert open_split(_folder(root, follow_symlinks=True), "train").ids == ["a/0.png", "b/passport.png"]


def test_a_link_that_stays_inside_the_root_is_read(tmp_path):
    root = tmp_path / "cases"
    save(root / "a" / "0.png", rgb(0, 16, 12))
    os.symlink(root / "a" / "0.png", root / "a" / "copy.png")
    assert open_split(_folder(root), "train").ids == ["a/0.png", "a/copy.png"]


def test_a_file_name_that_is_not_utf8_is_listed_as_skipped(tmp_path):
    root = tmp_path / "cases"
    save(root / "a" / "0.png", rgb(0, 16, 12))
    bad = os.fsencode(root / "a") + b"/caf\xe9.png"
    with open(bad, "wb") as f:
        f.write((root / "a" / "0.png").read_bytes())
    split = open_split(_folder(root), "train")
    assert split.ids == ["a/0.png"]
    assert len(split.skipped) == 1 and "not valid UTF-8" in split.skipped[0][1]


def test_an_empty_split_names_the_split_and_the_ratios(tmp_path):
    root = tmp_path / "cases"
    for c in ("a", "b"):
        for i in range(6):
            save(root / c / f"{i}.png", rgb(i, 8, 8))
    config = presets.folder(str(root))
    assert len(open_split(config, "train")) == 10
    with pytest.raises(DatasetError, match=r"split 'val' is empty: data.split_ratios \(0.8, 0.1, 0.1\) give it no "
                                           r"image of the 2 classes \(6 to 6 images each\)"):
        open_split(config, "val")


def test_images_over_the_pixel_limit_are_left_out_and_listed(tmp_path):
    root = tmp_path / "cases"
    save(root / "a" / "0.png", rgb(0, 16, 12))
    Image.new("RGB", (200, 100), "white").save(root / "a" / "big.png")
    split = open_split(_folder(root, max_pixels=10_000), "train")
    assert split.ids == ["a/0.png"]
    assert split.skipped == [(str(root / "a" / "big.png"),
                              "200x100 = 20000 pixels, more than data.max_pixels = 10000")]


def test_a_multi_page_tiff_is_reported(tmp_path, caplog):
    root = tmp_path / "cases"
    pages = [Image.fromarray(rgb(i, 30, 20)) for i in range(2)]
    (root / "a").mkdir(parents=True)
    pages[0].save(root / "a" / "scan.tif", save_all=True, append_images=pages[1:])
    with caplog.at_level(logging.WARNING):
        split = open_split(_folder(root), "train")
    assert split.multi_page == [(str(root / "a" / "scan.tif"), 2)]
    assert "only the first page of each is used" in caplog.text
