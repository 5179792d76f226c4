"""On-the-fly training never anonymizes an image with boxes detected on other pixels."""

import numpy as np
import pytest
from ssl_box_rows import box_rows

from anonjax.data import pixel_digest
from anonjax.data.canvas import FittedImages
from anonjax.ssl.pipeline import BatchPlan, PairSource, host_batch


def test_an_image_changed_after_detection_is_left_out_of_the_batch(caplog):
    images = [np.full((32, 32, 3), 40 * (i + 1), np.uint8) for i in range(4)]
    dataset = [{"id": f"{i}.png", "image": image, "label": 0} for i, image in enumerate(images)]
    detected = [pixel_digest(image) for image in images]
    detected[2] = pixel_digest(np.zeros((32, 32, 3), np.uint8))  # image 2 is no longer what was detected
    boxes = np.tile(np.array([[[0, 0, 8, 8]]], np.int32), (4, 1, 1))
    source = PairSource(FittedImages(dataset, 32), np.arange(4), boxes=box_rows(boxes, detected))
    plan = BatchPlan(global_batch=4, rows=(0, 1, 2, 3), canvas=32, seed=0, patch_shape=(2, 2),
                     mask_probability=0.5, mask_ratio=(0.1, 0.5))
    batch = host_batch(source, plan, step=0)
    values = sorted({int(canvas[0, 0, 0]) for canvas in batch["images"]})
    assert 120 not in values and len(batch["images"]) == 4
    assert "changed after its detection" in caplog.text
    unchecked = host_batch(PairSource(FittedImages(dataset, 32), np.arange(4)), plan, step=0)
    assert sorted({int(c[0, 0, 0]) for c in unchecked["images"]}) == [40, 80, 120, 160]


@pytest.mark.slow
def test_twins_made_once_are_the_views_made_at_every_step(caplog):
    """Anonymizing once before training gives the views that anonymizing at every step gives, bit for bit, and
    leaves out an image that changed after its detection."""
    import jax

    from anonjax.data.multicrop import CropConfig
    from anonjax.ssl.loop import make_views
    from anonjax.ssl.pipeline import anonymize_once
    from configs.training import get_config

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (48, 40, 3), dtype=np.uint8) for _ in range(5)]
    dataset = [{"id": f"{i}.png", "image": image, "label": 0} for i, image in enumerate(images)]
    detected = [pixel_digest(image) for image in images]
    detected[3] = pixel_digest(np.zeros((48, 40, 3), np.uint8))
    boxes = np.tile(np.array([[[2, 3, 30, 14], [5, 20, 38, 40]]], np.int32), (5, 1, 1))
    source = PairSource(FittedImages(dataset, 32), np.arange(5), boxes=box_rows(boxes, detected))
    once = anonymize_once(source, "pixel", {"cells": 2}, budget_mb=1, batch_size=2)
    assert sorted(once.twins) == [0, 1, 2, 4] and "changed after its detection" in caplog.text
    plan = BatchPlan(global_batch=4, rows=(0, 1, 2, 3), canvas=32, seed=0, patch_shape=(2, 2),
                     mask_probability=0.5, mask_ratio=(0.1, 0.5))
    train = get_config("tiny")
    crops = CropConfig.from_config(train.crops, train.augment)
    for step in range(3):
        every_step, with_twins = host_batch(source, plan, step), host_batch(once, plan, step)
        assert "twins" in with_twins and "boxes" not in with_twins
        a, b = (make_views(jax.random.key(step), batch, crops=crops, adaptation="A", method="pixel",
                           method_params=(("cells", 2),)) for batch in (every_step, with_twins))
        for key in a:
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]))
    assert anonymize_once(source, "pixel", {"cells": 2}, budget_mb=0.001).twins is None  # too large: at every step
