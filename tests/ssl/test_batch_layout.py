"""The training input does not depend on the process layout: the hosts of any layout together read the global
batch that one process reads (images, sizes, boxes or twins, masks), and its masks stay within the bound the
train step's buffer is sized for. Read through grain, in threads or worker processes, the batches are the same,
and an iterator restored from a saved state continues with the next step."""

import numpy as np
import pytest
from ssl_box_rows import box_rows

from anonjax.data import pixel_digest
from anonjax.data.canvas import FittedImages
from anonjax.ssl.masking import batch_masks, max_masked
from anonjax.ssl.pipeline import BatchPlan, PairSource, anonymize_once, batches, host_batch, reader_state

N_IMAGES, BATCH, BROKEN, CHANGED = 11, 4, 4, 7  # 2 batches per epoch; image 4 fails to decode, 7 changed
LAYOUTS = {"one": [(0, 1, 2, 3)], "two": [(0, 1), (2, 3)], "interleaved": [(1, 3), (0, 2)]}


@pytest.fixture(scope="module")
def sources():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (24 + i, 32, 3), dtype=np.uint8) for i in range(N_IMAGES)]
    dataset = [{"id": f"{i}.png", "image": image, "label": 0} for i, image in enumerate(images)]
    dataset[BROKEN] = None
    digests = [pixel_digest(image) for image in images]
    digests[CHANGED] = pixel_digest(np.zeros((4, 4, 3), np.uint8))
    boxes = np.tile(np.array([[[2, 3, 20, 14], [5, 10, 30, 22]]], np.int32), (N_IMAGES, 1, 1))
    source = PairSource(FittedImages(dataset, 32), np.arange(N_IMAGES), boxes=box_rows(boxes, digests, degree=0.5))
    return {"boxes": source, "twins": anonymize_once(source, "mask", {}, budget_mb=1, batch_size=4)}


def _plan(rows) -> BatchPlan:
    return BatchPlan(global_batch=BATCH, rows=rows, canvas=32, seed=3, patch_shape=(4, 4), mask_probability=0.5,
                     mask_ratio=(0.1, 0.5))


@pytest.mark.parametrize("kind", ["boxes", "twins"])
@pytest.mark.parametrize("layout", ["two", "interleaved"])
def test_every_layout_reads_the_global_batch_of_one_process(sources, kind, layout):
    source = sources[kind]
    for step in range(5):  # epochs 0, 1 and 2
        whole = host_batch(source, _plan(LAYOUTS["one"][0]), step)
        assert kind in whole
        parts = {rows: host_batch(source, _plan(rows), step) for rows in LAYOUTS[layout]}
        for key, value in whole.items():
            assembled = np.empty_like(value)
            for rows, part in parts.items():
                assembled[list(rows)] = part[key]
            np.testing.assert_array_equal(assembled, value, err_msg=f"{key} at step {step}")


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2], ids=["threads", "processes"])
def test_grain_reads_the_batches_and_resumes_from_the_saved_state(sources, workers):
    source, plan = sources["twins"], _plan(LAYOUTS["interleaved"][0])
    marked = lambda batch: {**batch, "placed": np.ones(1)}

    def check(data, steps):
        for step in steps:
            batch, expected = next(data), marked(host_batch(source, plan, step))
            assert sorted(batch) == sorted(expected)
            for key, value in expected.items():
                np.testing.assert_array_equal(batch[key], value, err_msg=f"{key} at step {step}")

    data = batches(source, plan, 6, marked, workers=workers)
    check(data, range(3))
    if not workers:  # grain's own account of where it stands is the state a checkpoint keeps
        assert data.get_state() == reader_state(3)
    resumed = batches(source, plan, 6, marked, reader_state(3)["next_index"], workers=workers)
    check(resumed, range(3, 6))
    with pytest.raises(StopIteration):
        next(resumed)


def test_an_unusable_image_gives_its_slot_to_the_next_usable_one(sources):
    source, plan = sources["boxes"], _plan(LAYOUTS["one"][0])
    fitted = [source.images[p] for p in range(N_IMAGES)]
    stand_in = {BROKEN: BROKEN + 1, CHANGED: CHANGED + 1}
    seen = set()
    for step in range(6):
        batch = host_batch(source, plan, step)
        for p, pixels in zip(plan.positions(step, N_IMAGES), batch["images"], strict=True):
            np.testing.assert_array_equal(pixels, fitted[stand_in.get(int(p), int(p))].pixels)
            seen.add(int(p))
    assert {BROKEN, CHANGED} <= seen


def test_the_masks_of_the_global_batch_stay_within_the_buffer():
    n_crops, grid = 64, (6, 6)
    bound = max_masked(n_crops, 36, probability=0.5, ratio_range=(0.1, 0.5))
    for step in range(20):
        whole = batch_masks((3, step), n_crops, grid, probability=0.5, ratio_range=(0.1, 0.5))
        halves = [batch_masks((3, step), n_crops, grid, probability=0.5, ratio_range=(0.1, 0.5), crops=crops)
                  for crops in (range(0, 40), range(40, 64))]
        np.testing.assert_array_equal(np.concatenate(halves), whole)
        assert (whole.sum(1) > 0).sum() == 32 and whole.sum() <= bound


def test_masks_drawn_in_groups_stay_within_each_groups_buffer():
    n_crops, group, grid = 64, 16, (6, 6)
    bound = max_masked(group, 36, probability=0.5, ratio_range=(0.1, 0.5))
    for step in range(20):
        whole = batch_masks((3, step), n_crops, grid, probability=0.5, ratio_range=(0.1, 0.5), group=group)
        part = batch_masks((3, step), n_crops, grid, probability=0.5, ratio_range=(0.1, 0.5), group=group,
                           crops=range(24, 40))
        np.testing.assert_array_equal(part, whole[24:40])
        per_group = whole.reshape(4, group, -1)
        assert np.all((per_group.sum(2) > 0).sum(1) == 8) and np.all(per_group.sum((1, 2)) <= bound)
    with pytest.raises(ValueError, match="must divide"):
        batch_masks((0,), n_crops, grid, group=24)
