"""The jittable methods against a plain OpenCV reference, and the privacy properties they promise."""

import functools

import cv2
import jax
import numpy as np
import pytest
import skimage.data

from anonjax.anonymize import apply
from anonjax.parallel import batch_sharding, make_mesh
from scripts.opencv_reference import anonymize, pixel_cells

H, W = 96, 128
# Disjoint boxes of varied shapes; the first three have sides divisible by their pixel grids at cells=4.
BOXES = np.array([[4, 8, 36, 24], [40, 40, 72, 88], [80, 4, 124, 26], [8, 50, 30, 91], [90, 60, 127, 77]], np.int32)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[100:100 + H, 150:150 + W])


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    """Black text on white: the sharpest edges a blur has to match."""
    img = np.full((H, W, 3), 255, np.uint8)
    for i, y in enumerate(range(20, 95, 14)):
        cv2.putText(img, f"ID 4711-{i}", (2, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def run(image, boxes, method, selected=None, **params):
    selected = np.ones(len(boxes), bool) if selected is None else selected
    return np.asarray(apply(image[None], boxes[None], selected[None], method, **params))[0]


def outside(boxes, selected=None) -> np.ndarray:
    inside = np.zeros((H, W), bool)
    for (x0, y0, x1, y1), s in zip(boxes, np.ones(len(boxes), bool) if selected is None else selected, strict=True):
        inside[y0:y1, x0:x1] |= s
    return ~inside


@pytest.mark.parametrize("method", ["pixel", "blur", "mask"])
def test_pixels_outside_selected_boxes_are_bit_identical(photo, method):
    selected = np.array([True, False, True, True, False])
    out = run(photo, BOXES, method, selected)
    keep = outside(BOXES, selected)
    np.testing.assert_array_equal(out[keep], photo[keep])
    assert (out[~keep] != photo[~keep]).any()


def test_mask_holds_no_original_pixel_and_matches_reference(photo):
    out = run(photo, BOXES, "mask", fill=(255, 0, 128))
    for x0, y0, x1, y1 in BOXES:
        assert (out[y0:y1, x0:x1] == (255, 0, 128)).all()
    np.testing.assert_array_equal(run(photo, BOXES, "mask"), anonymize(photo, BOXES, "mask"))


def test_pixelation_is_constant_per_cell_on_the_opencv_grid(photo):
    out = run(photo, BOXES, "pixel", cells=4)
    for x0, y0, x1, y1 in BOXES:
        nx, ny = pixel_cells(x1 - x0, y1 - y0, 4)
        labels = np.arange(nx * ny, dtype=np.float32).reshape(ny, nx)
        grid = cv2.resize(labels, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST).astype(int)
        box = out[y0:y1, x0:x1].reshape(-1, 3)
        for cell in range(nx * ny):
            values = box[grid.reshape(-1) == cell]
            assert len(values) and (values == values[0]).all(), f"cell {cell} of box {(x0, y0, x1, y1)} varies"


@pytest.mark.parametrize("cells", [4, 3])
def test_pixelation_matches_opencv_resize(photo, cells):
    out, ref = run(photo, BOXES, "pixel", cells=cells), anonymize(photo, BOXES, "pixel", cells=cells)
    for x0, y0, x1, y1 in BOXES:
        nx, ny = pixel_cells(x1 - x0, y1 - y0, cells)
        diff = np.abs(out[y0:y1, x0:x1].astype(int) - ref[y0:y1, x0:x1])
        if (x1 - x0) % nx == 0 and (y1 - y0) % ny == 0:
            assert diff.max() <= 1  # exact cell means; only rounding may differ
        else:  # INTER_AREA weighs a cell's edge pixels fractionally
            assert diff.mean() <= 4 and diff.max() <= 32


@pytest.mark.parametrize("image_name", ["photo", "page"])
def test_blur_matches_opencv_gaussian_blur(image_name, request):
    image = request.getfixturevalue(image_name)
    out, ref = run(image, BOXES, "blur"), anonymize(image, BOXES, "blur")
    diff = np.abs(out.astype(int) - ref)
    # Stated tolerance: three extended box filters vs OpenCV's truncated Gaussian kernel.
    assert diff.mean() <= 0.5 and diff.max() <= 8, (diff.mean(), diff.max())


@pytest.mark.parametrize("method", ["pixel", "blur"])
def test_a_box_draws_only_on_its_own_pixels(photo, method):
    only = np.arange(len(BOXES)) == 1
    x0, y0, x1, y1 = BOXES[1]
    around = outside(BOXES, only)
    other = photo.copy()
    other[around] = 255 - photo[around]  # everything around the box changes
    a, b = run(photo, BOXES, method, only), run(other, BOXES, method, only)
    np.testing.assert_array_equal(a[y0:y1, x0:x1], b[y0:y1, x0:x1])


def test_overlapping_boxes_the_later_box_wins_like_the_reference(photo):
    boxes = np.array([[10, 10, 70, 60], [40, 30, 112, 90]], np.int32)  # grids divide both boxes
    for method in ("pixel", "mask"):
        out, ref = run(photo, boxes, method, cells=5, fill=7), anonymize(photo, boxes, method, cells=5, fill=7)
        assert np.abs(out.astype(int) - ref).max() <= 1


def test_batch_equals_images_one_by_one_and_runs_sharded(photo, page):
    images = np.stack([photo, page] * 4)
    boxes = np.stack([BOXES, BOXES[::-1]] * 4)
    selected = np.random.default_rng(0).random(boxes.shape[:2]) < 0.6
    pixelate = jax.jit(functools.partial(apply, method="pixel", cells=4, backend="xla"))
    batch = np.asarray(pixelate(images, boxes, selected))
    for i in range(2):
        np.testing.assert_array_equal(batch[i], run(images[i], boxes[i], "pixel", selected[i], cells=4))
    sharding = batch_sharding(make_mesh())
    sharded = pixelate(*(jax.device_put(a, sharding) for a in (images, boxes, selected)))
    np.testing.assert_array_equal(np.asarray(sharded), batch)


def test_nothing_selected_changes_nothing(photo):
    np.testing.assert_array_equal(run(photo, BOXES, "blur", np.zeros(len(BOXES), bool)), photo)


def test_bad_arguments_name_what_is_wrong(photo):
    with pytest.raises(ValueError, match="method must be one of"):
        run(photo, BOXES, "smudge")
    with pytest.raises(ValueError, match="cells must be a positive integer"):
        run(photo, BOXES, "pixel", cells=0)
    with pytest.raises(ValueError, match="sigma must be"):
        run(photo, BOXES, "blur", sigma=2.0)
    with pytest.raises(ValueError, match=r"boxes must be \[B, M, 4\]"):
        apply(photo[None], BOXES, np.ones((1, 5), bool), "mask")


def test_the_covering_box_is_found_among_many_overlapping_boxes():
    """More boxes than one matmul group (60), heavily overlapping: the last selected box covering each
    pixel, against a plain loop."""
    from anonjax.anonymize.methods import _owner_boxes

    rng = np.random.default_rng(1)
    corners = rng.integers(0, [W, H], (130, 2))
    boxes = np.concatenate([corners, corners + rng.integers(1, 30, (130, 2))], 1).clip(0, [W, H, W, H])
    selected = rng.random(130) < 0.8
    expected = np.zeros((H, W, 5), np.int32)
    for box, s in zip(boxes, selected, strict=True):
        if s:
            expected[box[1]:box[3], box[0]:box[2]] = [*box, 1]
    got = np.asarray(jax.jit(_owner_boxes, static_argnums=(2, 3))(boxes.astype(np.int32), selected, H, W))
    np.testing.assert_array_equal(got, expected)
