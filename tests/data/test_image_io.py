"""Every kind of input becomes uint8 RGB; whole files pass the header check, broken ones do not."""

import numpy as np
import pytest
from data_test_files import corrupt_png_payload, rgb, save, truncate
from PIL import Image

from anonjax.data import FileCheck, ImageError, check_file, file_stamp, read_image


def test_rgb_png_and_jpeg_roundtrip(tmp_path):
    pixels = rgb(0)
    assert np.array_equal(read_image(save(tmp_path / "a.png", pixels)), pixels)
    jpeg = read_image(save(tmp_path / "a.jpg", pixels, quality=95))
    assert jpeg.dtype == np.uint8 and jpeg.shape == pixels.shape


def test_grayscale_tiff_is_replicated(tmp_path):
    gray = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    out = read_image(save(tmp_path / "g.tif", gray, "TIFF"))
    assert out.shape == (12, 10, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, :, 0], gray) and np.array_equal(out[:, :, 2], gray)


def test_bilevel_tiff(tmp_path):
    bits = (np.indices((16, 16)).sum(0) % 2).astype(bool)
    path = tmp_path / "b.tif"
    Image.fromarray(bits).save(path, compression="group4")
    out = read_image(path)
    assert set(np.unique(out)) == {0, 255} and np.array_equal(out[:, :, 1] == 255, bits)


def test_16bit_png_scales_full_range(tmp_path):
    wide = np.array([[0, 257, 65535], [32896, 65280, 1000]], dtype=np.uint16)
    out = read_image(save(tmp_path / "w.png", wide))
    np.testing.assert_array_equal(out[:, :, 0], np.rint(wide / 257.0).astype(np.uint8))


def test_16bit_tiff(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    wide = (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)
    tifffile.imwrite(tmp_path / "w.tif", wide)
    expected = np.rint(wide * (255 / 57000)).astype(np.uint8)  # its own range, 0..57000
    np.testing.assert_array_equal(read_image(tmp_path / "w.tif")[:, :, 1], expected)


@pytest.mark.parametrize("bits", [10, 12])
def test_partial_bit_depth_in_a_16bit_png_uses_its_own_range(tmp_path, bits):
    """Data of fewer bits (a background and a brighter name) spans 0..255, not a few dark levels."""
    top = 2**bits - 1
    wide = np.array([[top // 2, top // 2, top], [top // 2, top, top // 2]], dtype=np.uint16)
    out = read_image(save(tmp_path / "w.png", wide))
    np.testing.assert_array_equal(out[:, :, 2], np.where(wide == top, 255, 0))


def test_32bit_integer_tiff_uses_its_own_range(tmp_path):
    wide = np.array([[-5000, 100000], [200000, 47500]], dtype=np.int32)
    path = tmp_path / "i.tif"
    Image.fromarray(wide).save(path)
    assert Image.open(path).mode == "I"
    np.testing.assert_array_equal(read_image(path)[:, :, 0], [[0, 131], [255, 65]])


def test_palette_png_with_transparency_composites_on_white(tmp_path):
    palette_img = Image.new("P", (4, 3))
    palette_img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette_img.putdata([0, 1, 0, 1] * 3)
    palette_img.save(tmp_path / "p.png", transparency=1)
    out = read_image(tmp_path / "p.png")
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])  # transparent index -> white


def test_rgba_composites_on_white(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = [[255, 0], [128, 64]]
    out = read_image(save(tmp_path / "a.png", rgba))
    alpha = rgba[..., 3:] / 255.0
    expected = np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_check_file_accepts_whole_files(tmp_path):
    for name, fmt in (("a.png", None), ("a.jpg", None), ("a.tif", "TIFF")):
        path = save(tmp_path / name, rgb(1), fmt)
        assert check_file(path) == FileCheck(None, file_stamp(path), 1)


@pytest.mark.parametrize("name,fmt,reason", [("t.jpg", "JPEG", "JPEG"), ("t.png", "PNG", "PNG"),
                                             ("t.tif", "TIFF", "TIFF")])
def test_check_file_finds_truncated_files(tmp_path, name, fmt, reason):
    path = truncate(save(tmp_path / name, rgb(2, 64, 64), fmt), 0.6)
    assert f"truncated {reason}" in check_file(path).reason


def test_check_file_empty_missing_and_foreign(tmp_path):
    (tmp_path / "e.png").write_bytes(b"")
    (tmp_path / "x.jpg").write_text("not an image")
    assert check_file(tmp_path / "e.png").reason == "empty file"
    assert check_file(tmp_path / "missing.png").reason == "file not found"
    assert check_file(tmp_path / "x.jpg").reason.startswith("not a readable image")


def test_corrupt_payload_passes_header_but_fails_decode_naming_file(tmp_path):
    path = corrupt_png_payload(tmp_path / "c.png", rgb(3, 64, 64))
    assert check_file(path).reason is None
    with pytest.raises(ImageError, match=r"c\.png"):
        read_image(path)


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path):
    """A 9,000 x 9,000 PNG of one colour is about 100 KB: its size, not its bytes, must stop it."""
    path = tmp_path / "huge.png"
    Image.new("L", (9000, 9000), 255).save(path)
    assert path.stat().st_size < 200_000
    assert check_file(path).reason == "9000x9000 = 81000000 pixels, more than data.max_pixels = 40000000"
    assert check_file(path, max_pixels=81_000_000).reason is None


def test_the_pages_of_a_multi_page_tiff_are_counted(tmp_path):
    path = tmp_path / "pages.tif"
    pages = [Image.fromarray(rgb(i, 30, 20)) for i in range(3)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert check_file(path).pages == 3
    np.testing.assert_array_equal(read_image(path), rgb(0, 30, 20))  # the first page
