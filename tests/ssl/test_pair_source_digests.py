"""On-the-fly training never anonymizes an image with boxes detected on other pixels."""

import numpy as np

from anonjax.data import pixel_digest
from anonjax.data.canvas import FittedImages
from anonjax.ssl.pipeline import BatchPlan, PairSource, host_batch


def test_an_image_changed_after_detection_is_left_out_of_the_batch(caplog):
    images = [np.full((32, 32, 3), 40 * (i + 1), np.uint8) for i in range(4)]
    dataset = [{"id": f"{i}.png", "image": image, "label": 0} for i, image in enumerate(images)]
    detected = [pixel_digest(image) for image in images]
    detected[2] = pixel_digest(np.zeros((32, 32, 3), np.uint8))  # image 2 is no longer what was detected
    boxes = np.tile(np.array([[[0, 0, 8, 8]]], np.int32), (4, 1, 1))
    source = PairSource(FittedImages(dataset, 32), np.arange(4), boxes=boxes, selected=np.ones((4, 1), bool),
                        digests=detected)
    plan = BatchPlan(global_batch=4, process_index=0, process_count=1, canvas=32, seed=0, patch_shape=(2, 2),
                     mask_probability=0.5, mask_ratio=(0.1, 0.5))
    batch = host_batch(source, plan, step=0)
    values = sorted({int(canvas[0, 0, 0]) for canvas in batch["images"]})
    assert 120 not in values and len(batch["images"]) == 4
    assert "changed after its detection" in caplog.text
    unchecked = host_batch(PairSource(FittedImages(dataset, 32), np.arange(4)), plan, step=0)
    assert sorted({int(c[0, 0, 0]) for c in unchecked["images"]}) == [40, 80, 120, 160]
