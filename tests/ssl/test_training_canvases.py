"""Training from the canvases fitted once per run (``canvas.fit_once``): an image changed since is fitted again and
never trained on with the boxes of the old one, and the batches do not depend on the number of reading processes."""

import numpy as np
from ssl_box_rows import box_rows

from anonjax.data import canvas as canvas_module
from anonjax.data import pixel_digest
from anonjax.data.canvas import fit_once
from anonjax.ssl.pipeline import BatchPlan, PairSource, batches, host_batch

PLAN = BatchPlan(global_batch=4, rows=(0, 1, 2, 3), canvas=32, seed=0, patch_shape=(2, 2), mask_probability=0.5,
                 mask_ratio=(0.1, 0.5))


class Pages:
    """A dataset of pages."""

    def __init__(self, images):
        self.images = list(images)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i]}


def pages(n):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (30 + 7 * (i % 3), 50 - 5 * (i % 4), 3), dtype=np.uint8) for i in range(n)]


def count_fits(monkeypatch):
    fits = []
    real = canvas_module._fit
    monkeypatch.setattr(canvas_module, "_fit", lambda image, size: fits.append(image.shape) or real(image, size))
    return fits


def test_a_changed_image_is_fitted_again_and_its_old_boxes_never_used(tmp_path, monkeypatch, caplog):
    originals = pages(4)
    fit_once(Pages(originals), 32, tmp_path)
    changed = [*originals]
    changed[1] = np.full_like(originals[1], 7)  # same name and size, other pixels
    fits = count_fits(monkeypatch)
    images = fit_once(Pages(changed), 32, tmp_path)
    assert fits == [changed[1].shape] and images[1].digest == pixel_digest(changed[1])
    assert (images[1].content == 7).all()
    detected = [pixel_digest(image) for image in originals]  # boxes of the old image 1
    boxes = np.tile(np.array([[[0, 0, 8, 8]]], np.int32), (4, 1, 1))
    source = PairSource(images, np.arange(4), boxes=box_rows(boxes, detected))
    batch = host_batch(source, PLAN, step=0)
    assert not any((canvas[:images[1].size[0], :images[1].size[1]] == 7).all() for canvas in batch["images"])
    assert "changed after its detection" in caplog.text




def test_the_batches_are_the_same_with_two_reading_processes(tmp_path):
    images = pages(8)
    canvases = fit_once(Pages(images), 32, tmp_path)
    boxes = np.tile(np.array([[[0, 0, 8, 8], [4, 4, 20, 12]]], np.int32), (8, 1, 1))
    source = PairSource(canvases, np.arange(8), boxes=box_rows(boxes, [pixel_digest(i) for i in images], 0.5))
    threads, processes = (list(batches(source, PLAN, 4, lambda b: b, 1, workers=w)) for w in (0, 2))
    assert len(threads) == len(processes) == 3
    for a, b in zip(threads, processes, strict=True):
        assert a.keys() == b.keys() == {"images", "sizes", "masks", "boxes", "selected"}
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
