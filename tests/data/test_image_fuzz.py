"""Damaged image files end as a reason, a decoded image or an ``ImageError``: never another exception."""

import io
import struct
import warnings

import numpy as np
import pytest
from data_test_files import rgb, save
from PIL import Image

from anonjax.data import FileCheck, ImageError, check_file, open_split, read_image
from anonjax.data import folder as folder_source
from configs import data as presets

_TRIALS = 1500


def _encoded(fmt: str, pages: int = 1, **options) -> bytes:
    images = [Image.fromarray(rgb(k, 12, 10)) for k in range(pages)]
    buf = io.BytesIO()
    images[0].save(buf, fmt, save_all=pages > 1, append_images=images[1:], **options)
    return buf.getvalue()


def _two_page_tiff(next_page: int) -> bytes:
    """A little-endian two-page TIFF whose first page points to its next page at ``next_page``."""
    data = bytearray(_encoded("TIFF", pages=2))
    first = struct.unpack_from("<I", data, 4)[0]
    entries = struct.unpack_from("<H", data, first)[0]
    struct.pack_into("<I", data, first + 2 + 12 * entries, next_page)
    return bytes(data)


def test_a_tiff_page_pointer_beyond_the_file_is_a_reason(tmp_path):
    path = tmp_path / "scan.tif"
    path.write_bytes(_two_page_tiff(next_page=1 << 20))
    check = check_file(path)
    assert check.reason is not None and check.reason.startswith("not a readable image: TypeError")


def test_truncated_and_mutated_files_give_a_reason_an_image_or_an_image_error(tmp_path):
    seeds = {".png": _encoded("PNG"), ".jpg": _encoded("JPEG"), ".tif": _encoded("TIFF"),
             ".tiff": _encoded("TIFF", pages=3), ".TIF": _encoded("TIFF", compression="tiff_lzw")}
    rng = np.random.default_rng(25)
    outcomes = {"reason": 0, "image": 0, "error": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL warns about every damaged TIFF tag
        for trial in range(_TRIALS):
            suffix = list(seeds)[trial % len(seeds)]
            data = bytearray(seeds[suffix])
            if rng.random() < 0.3:
                data = data[: rng.integers(1, len(data))]
            else:
                for _ in range(rng.integers(1, 6)):
                    data[rng.integers(len(data))] = rng.integers(256)
            path = tmp_path / f"case{suffix}"
            path.write_bytes(bytes(data))
            check = check_file(path)
            assert isinstance(check, FileCheck)
            if check.reason is not None:
                outcomes["reason"] += 1
                continue
            try:
                image = read_image(path)
            except ImageError:
                outcomes["error"] += 1
                continue
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            outcomes["image"] += 1
    assert min(outcomes.values()) > 0, outcomes  # every outcome was reached


def test_the_reader_leaves_out_a_file_whose_decoder_raises_any_type(tmp_path, monkeypatch):
    root = tmp_path / "cases"
    for name in ("0.png", "1.png", "2.png"):
        save(root / "a" / name, rgb(0, 16, 12))

    def fragile(path):
        if str(path).endswith("1.png"):
            raise TypeError("Missing dimensions")
        return read_image(path)

    monkeypatch.setattr(folder_source, "read_image", fragile)
    config = presets.folder(str(root), split_ratios=(1.0, 0.0, 0.0))
    split = open_split(config, "train")
    assert [r["id"] for r in split.dataset] == ["a/0.png", "a/2.png"]
    assert split.skipped == [(str(root / "a" / "1.png"),
                              f"{root / 'a' / '1.png'}: cannot decode image: TypeError: Missing dimensions")]
    strict = open_split(config, "train", strict=True)
    with pytest.raises(ImageError, match=r"1\.png: cannot decode image: TypeError"):
        [strict.dataset[i] for i in range(len(strict))]
