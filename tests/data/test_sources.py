"""Each real source read from tiny files in its real layout."""

import sys
from pathlib import Path

import numpy as np
import pytest
from data_test_files import rgb, save

from anonjax.config_checks import ConfigError
from anonjax.data import DatasetError, ImageError, open_split, validate
from configs import data as presets


def test_rvl_cdip_layout_labels_and_truncated_tiff(make_rvl_cdip):
    cfg = presets.rvl_cdip(str(make_rvl_cdip()))
    train = open_split(cfg, "train")
    assert len(train.class_names) == 16 and train.class_names[11] == "invoice"
    assert train.ids[0] == "imagesa/a/00/doc000.tif"
    np.testing.assert_array_equal(train.labels, [0, 1, 4, 5, 8, 9])
    record = train.dataset[0]
    assert record["image"].shape == (40, 30, 3) and record["image"].dtype == np.uint8
    assert record["label"] == 0 and record["id"] == train.ids[0]
    val = open_split(cfg, "val")  # doc002.tif was truncated
    assert "imagesa/a/02/doc002.tif" not in val.ids and len(val) == 2
    assert val.skipped[0][0].endswith("doc002.tif") and "truncated TIFF" in val.skipped[0][1]
    with pytest.raises(ImageError, match=r"doc002\.tif"):
        open_split(cfg, "val", strict=True)


def test_rvl_cdip_bad_label_line_names_file_and_line(make_rvl_cdip):
    root = make_rvl_cdip()
    (root / "labels" / "test.txt").write_text("imagesa/a/03/doc003.tif 16\n")
    with pytest.raises(DatasetError, match=r"test\.txt:1"):
        open_split(presets.rvl_cdip(str(root)), "test")


def test_celeba_folder_layout_partition_and_male_label(make_celeba):
    cfg = presets.celeba(str(make_celeba()))
    train = open_split(cfg, "train")
    assert train.class_names == ["not_male", "male"]
    assert train.ids == ["000001.jpg", "000003.jpg", "000004.jpg"]  # 000002.jpg is truncated
    np.testing.assert_array_equal(train.labels, [0, 0, 1])
    assert train.skipped == [(str(Path(cfg.root) / "img_align_celeba" / "000002.jpg"),
                              "truncated JPEG (no end-of-image marker)")]
    assert [r["id"] for r in train.dataset] == train.ids
    assert open_split(cfg, "val").ids == ["000005.jpg", "000006.jpg"]
    test = open_split(cfg, "test")
    assert test.ids == ["000007.jpg", "000008.jpg"] and list(test.labels) == [0, 1]


def test_celeba_malformed_attribute_file(make_celeba):
    root = make_celeba()
    (root / "list_attr_celeba.txt").write_text("1\nMale\n000001.jpg 1\n")
    with pytest.raises(DatasetError, match=r"list_attr_celeba\.txt:2"):
        open_split(presets.celeba(str(root)), "train")


def test_celeba_tfds_without_the_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ImportError, match=r"anonjax\[tfds\]"):
        open_split(presets.celeba(str(tmp_path), celeba_format="tfds"), "train")


def _user_folder(root: Path) -> Path:
    for c, n in (("id_card", 10), ("Passport", 10)):
        for i in range(n):
            suffix = (".png", ".JPG", ".jpeg", ".TIF", ".tiff")[i % 5]
            fmt = "TIFF" if "TI" in suffix.upper() else None
            save(root / c / ("scans" if i == 9 else "") / f"img{i}{suffix}", rgb(i), fmt)
    (root / "id_card" / "notes.txt").write_text("not an image")
    return root


def test_folder_ratio_split_is_seeded_stratified_and_complete(tmp_path):
    root = _user_folder(tmp_path / "cases")
    cfg = presets.folder(str(root), split_ratios=(0.6, 0.2, 0.2), seed=3)
    splits = {s: open_split(cfg, s) for s in ("train", "val", "test")}
    assert splits["train"].class_names == ["Passport", "id_card"]
    assert [len(splits[s]) for s in ("train", "val", "test")] == [12, 4, 4]
    all_ids = sorted(i for s in splits.values() for i in s.ids)
    assert len(set(all_ids)) == 20 and "id_card/scans/img9.tiff" in all_ids
    for s in splits.values():
        assert np.bincount(s.labels, minlength=2).tolist() == [len(s) // 2] * 2
        assert all(s.class_names[label] == i.split("/")[0] for i, label in zip(s.ids, s.labels, strict=True))
    assert open_split(cfg, "train").ids == splits["train"].ids
    cfg.seed = 4
    assert open_split(cfg, "train").ids != splits["train"].ids


def test_folder_split_lists(tmp_path):
    root = _user_folder(tmp_path / "cases")
    (root / "splits").mkdir()
    lines = ["# train", "id_card/img0.png", "Passport/img1.JPG", "", "Passport/gone.png"]
    (root / "splits" / "train.txt").write_text("\n".join(lines) + "\n")
    (root / "splits" / "val.txt").write_text("id_card/img2.jpeg\n")
    train = open_split(presets.folder(str(root)), "train")
    assert train.ids == ["id_card/img0.png", "Passport/img1.JPG"] and list(train.labels) == [1, 0]
    assert train.skipped == [(str(root / "Passport/gone.png"), "file not found")]
    with pytest.raises(DatasetError, match=r"test\.txt"):
        open_split(presets.folder(str(root)), "test")
    (root / "splits" / "val.txt").write_text("other/img2.jpeg\n")
    with pytest.raises(DatasetError, match=r"val\.txt:1"):
        open_split(presets.folder(str(root)), "val")


def _listed_folder(root: Path, train: str, val: str = "id_card/img2.jpeg\n") -> Path:
    """The user folder of ``_user_folder`` with ``splits/train.txt`` and ``splits/val.txt`` holding ``train`` and
    ``val``."""
    root = _user_folder(root)
    (root / "splits").mkdir()
    (root / "splits" / "train.txt").write_text(train)
    (root / "splits" / "val.txt").write_text(val)
    return root


def test_a_file_in_two_split_lists_is_refused_at_validation(tmp_path):
    root = _listed_folder(tmp_path / "cases", "id_card/img0.png\nPassport/img1.JPG\n",
                          "# val\nid_card/img2.jpeg\nPassport/img1.JPG\n")
    with pytest.raises(DatasetError, match=r"'Passport/img1\.JPG' is in two split lists, .*train\.txt:2 and "
                                           r".*val\.txt:3"):
        validate(presets.folder(str(root)))


def test_a_listed_file_of_another_suffix_is_refused(tmp_path):
    root = _listed_folder(tmp_path / "cases", "id_card/img0.png\nid_card/photo.gif\n")
    save(root / "id_card" / "photo.gif", rgb(0), "GIF")
    with pytest.raises(DatasetError, match=r"train\.txt:2: 'id_card/photo\.gif' has the suffix '\.gif'"):
        open_split(presets.folder(str(root)), "train")


def test_a_file_listed_twice_names_the_list_the_lines_and_the_id(tmp_path):
    root = _listed_folder(tmp_path / "cases", "id_card/img0.png\n\nPassport/img1.JPG\nid_card/./img0.png\n")
    with pytest.raises(DatasetError, match=r"train\.txt: lines 1 and 4 both list 'id_card/img0\.png'"):
        open_split(presets.folder(str(root)), "train")


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"config\.data\.root"):
        validate(presets.rvl_cdip(str(tmp_path / "nowhere")))
    with pytest.raises(ConfigError, match=r"config\.data\.source"):
        cfg = presets.rvl_cdip(str(tmp_path))
        cfg.source = "imagenet"
        validate(cfg)
    with pytest.raises(ConfigError, match=r"config\.data\.split_ratios"):
        validate(presets.folder(str(tmp_path), split_ratios=(0.5, 0.2, 0.2)))
    with pytest.raises(ConfigError, match=r"config\.data\.sizes\.val"):
        cfg = presets.synthetic()
        cfg.sizes.val = -1
        validate(cfg)
    with pytest.raises(ConfigError, match=r"config\.data\.classes"):
        cfg = presets.synthetic()
        cfg.classes = ("letter", "postcard")
        validate(cfg)
