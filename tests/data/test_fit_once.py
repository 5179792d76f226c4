"""The training images fitted to the canvas once per run, in memory-mapped files checked against the images:
a changed image is fitted again and never trained on with the boxes of the old one."""

import pickle

import numpy as np
import pytest

from anonjax.data import canvas as canvas_module
from anonjax.data.canvas import fit_once, fit_to_canvas


class Pages:
    """A dataset of pages (None: a file that fails to decode) that counts reads."""

    def __init__(self, images):
        self.images, self.reads = list(images), 0

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        self.reads += 1
        return None if self.images[i] is None else {"image": self.images[i]}


def pages(n=5):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (30 + 7 * i, 50 - 5 * i, 3), dtype=np.uint8) for i in range(n)]


def count_fits(monkeypatch):
    fits = []
    real = canvas_module._fit
    monkeypatch.setattr(canvas_module, "_fit", lambda image, size: fits.append(image.shape) or real(image, size))
    return fits


def test_the_canvases_are_those_of_fit_to_canvas_and_memory_mapped(tmp_path):
    dataset = Pages([*pages(4), None])
    images = fit_once(dataset, 32, tmp_path, threads=2)
    assert len(images) == 5 and images[4] is None and isinstance(images.pixels, np.memmap)
    for i in range(4):
        expected, got = fit_to_canvas(dataset.images[i], 32), images[i]
        np.testing.assert_array_equal(got.pixels, expected.pixels)
        assert (got.size, got.scale, got.digest) == (expected.size, expected.scale, expected.digest)
    shipped = pickle.dumps(images)  # what a worker process receives: the folder's name
    assert len(shipped) < 1000 < images.pixels.nbytes
    np.testing.assert_array_equal(pickle.loads(shipped)[2].pixels, images[2].pixels)


def test_a_second_run_reads_every_image_once_and_fits_none(tmp_path, monkeypatch):
    fit_once(Pages(pages()), 32, tmp_path)
    fits, dataset = count_fits(monkeypatch), Pages(pages())
    fit_once(dataset, 32, tmp_path)
    assert dataset.reads == 5 and fits == []


@pytest.mark.parametrize("damage", ["digest_cleared", "other_canvas", "files_missing"])
def test_a_row_left_half_written_is_fitted_again(tmp_path, damage):
    originals = pages()
    fit_once(Pages(originals), 32, tmp_path)
    if damage == "files_missing":
        (tmp_path / "pixels.npy").unlink()
    else:
        files = {name: np.load(tmp_path / f"{name}.npy", mmap_mode="r+") for name in ("pixels", "digests")}
        files["pixels"][2] = 0  # a canvas overwritten by a run that stopped before writing its digest
        files["digests"][2] = b"" if damage == "digest_cleared" else files["digests"][3]
        files["pixels"].flush(), files["digests"].flush()
    images = fit_once(Pages(originals), 32, tmp_path)
    np.testing.assert_array_equal(images[2].pixels, fit_to_canvas(originals[2], 32).pixels)
