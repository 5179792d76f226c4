"""The image as the model sees it, shared by the embed stage and the anonymize stage's statistics: the same
arrays as fitting, anonymizing, cropping and resizing by hand, and statistics that show when the
anonymization vanishes at the models' input."""

from types import SimpleNamespace

import ml_collections
import numpy as np
import pytest
from PIL import Image

from anonjax.analysis.anonymization_summary import markdown
from anonjax.anonymize import BoxTable, apply, split_inputs
from anonjax.anonymize.detection import KINDS
from anonjax.anonymize.model_input import box_pixels, input_boxes, model_inputs
from anonjax.anonymize.statistics import NEARLY_INVISIBLE, split_report
from anonjax.data import EvalTransform, open_split, pixel_digest, read_image
from anonjax.data.canvas import fit_to_canvas, scale_boxes
from anonjax.plan import Variant
from configs import data as presets

PARAMS = {"pixel": {"cells": 4}, "blur": {"sigma": 0.2}, "mask": {"fill": (0, 0, 0)}}
TEXT = KINDS.index("text")


def table_of(ids, images, boxes, kinds=None) -> BoxTable:
    """A box table of hand-made boxes (int32 [N, M, 4], rows of zeros as padding), text unless ``kinds``."""
    boxes = np.asarray(boxes, np.int32)
    valid = boxes[..., 2] > boxes[..., 0]
    kinds = np.where(valid, TEXT if kinds is None else kinds, -1).astype(np.int8)
    return BoxTable.from_padded(ids=list(ids), boxes=boxes, valid=valid, scores=valid.astype(np.float32), kinds=kinds,
                    sizes=np.array([i.shape[:2] for i in images], np.int32),
                    digests=[pixel_digest(i) for i in images], failed={}, empty=[])


def test_embed_views_are_fit_anonymize_crop_and_transform(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    (tmp_path / "a").mkdir()
    for name, shape in (("wide", (50, 70)), ("tall", (90, 40))):
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(tmp_path / "a" / f"{name}.png")
    split = open_split(presets.folder(str(tmp_path), split_ratios=(1.0, 0.0, 0.0)), "train")
    images = [read_image(tmp_path / image_id) for image_id in split.ids]
    boxes = [[[3, 4, 30, 20], [10, 25, 35, 40]], [[1, 1, 7, 5], [0, 0, 0, 0]]]
    table = table_of(split.ids, images, boxes)
    monkeypatch.setattr(split_inputs, "load_split_boxes", lambda *args, keep_empty: table)
    variants = [Variant(), *(Variant(m, 1.0) for m in PARAMS)]
    plan = SimpleNamespace(seed=0, degree_kinds=("text",), method_params=PARAMS, variants=tuple(variants[1:]))
    # Shrinking and enlarging; without and with the inputs kept for the next model (the second pass reads them).
    for size, cache_mb, passes in ((24, 0, 1), (80, 0, 1), (80, 64, 2)):
        config = ml_collections.ConfigDict({"data": {}, "train": {"canvas_size": 48}, "embed": {"cache_mb": cache_mb},
                                            "anonymize": {"keep_empty": False}})
        images_of_split = split_inputs.SplitInputs(split, tmp_path, config)
        for _ in range(passes):
            ids, batch = next(images_of_split.views(variants, plan, size, batch_size=2))
        assert len(images_of_split._inputs) == (len(variants) if cache_mb else 0)
        assert ids == split.ids
        for variant in variants:
            for k, image in enumerate(images):
                fitted = fit_to_canvas(image, 48)
                pixels = fitted.pixels
                if variant.anonymized:
                    scaled = scale_boxes(table.padded().boxes[k], fitted.scale, fitted.size)
                    pixels = np.asarray(apply(pixels[None], scaled[None], table.padded().valid[k][None], variant.method,
                                              **PARAMS[variant.method]))[0]
                expected = EvalTransform(size)(pixels[:fitted.size[0], :fitted.size[1]])
                assert batch[variant.name][k].tobytes() == expected.tobytes(), (variant.name, size, k)


def test_boxes_map_to_the_input_axis_by_axis():
    boxes = np.array([[[0, 0, 32, 12], [8, 16, 16, 48]]], np.int32)
    mapped = input_boxes(boxes, [(48, 32)], 96)  # content 48 high, 32 wide -> 96 x 96
    np.testing.assert_array_equal(mapped, [[[0, 0, 96, 24], [24, 32, 48, 96]]])
    canvas = np.zeros((1, 64, 64, 3), np.uint8)
    inputs = model_inputs(canvas, [(48, 32)], boxes, 96)
    assert inputs.pixels.shape == (1, 96, 96, 3) and inputs.pixels.dtype == np.uint8
    np.testing.assert_array_equal(inputs.boxes, mapped)
    with pytest.raises(ValueError, match="selected"):
        model_inputs(canvas, [(48, 32)], boxes, 96, method="mask")


def test_box_pixels_are_those_whose_centre_is_inside():
    inside = box_pixels(np.array([[1.0, 0.4, 3.0, 2.6], [0.0, 0.0, 0.4, 4.0]]), 4, 5)
    expected = np.zeros((4, 5), bool)
    expected[0:3, 1:3] = True  # centres 0.5, 1.5, 2.5 lie in [0.4, 2.6); the 0.4-wide box holds no centre
    np.testing.assert_array_equal(inside, expected)


def page_with_text_lines(seed: int = 0) -> tuple[np.ndarray, list[list[int]]]:
    """A white 384 x 512 page with eight lines of dark noise 16 px tall, and their boxes."""
    rng = np.random.default_rng(seed)
    page = np.full((512, 384, 3), 255, np.uint8)
    boxes = []
    for k in range(8):
        x0, y0, x1, y1 = 32, 40 + 56 * k, 352, 56 + 56 * k
        page[y0:y1, x0:x1] = rng.integers(0, 160, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
        boxes.append([x0, y0, x1, y1])
    return page, boxes


def report_of(pages, boxes, methods=tuple(PARAMS), degrees=(0.5, 1.0), **sizes) -> dict:
    """``split_report`` of ``pages`` with their text ``boxes``, measured on all of them."""
    ids = [f"page{k}" for k in range(len(pages))]
    split = SimpleNamespace(ids=ids, skipped=[], multi_page=[])
    return split_report(split, 0, table_of(ids, pages, boxes), lambda i: pages[i], methods, degrees,
                                  PARAMS, 0, len(pages), ("text",), **sizes)


def markdown_of(report: dict, methods=tuple(PARAMS)) -> str:
    return markdown({"methods": methods, "degrees": (0.5, 1.0), "count_rule": "", "seed": 0,
                               "params": PARAMS, "detectors": {}, "keep_empty": False, "splits": {"val": report}})


def test_tiny_text_at_the_model_input_is_not_anonymized_by_pixelation():
    pages, boxes = zip(*(page_with_text_lines(seed) for seed in range(2)), strict=True)
    report = report_of(pages, boxes, canvas=64, image_size=64)
    heights = report["text_box_height_px"]
    assert heights["image"] == {"median": 16.0, "p10": 16.0, "n": 16}
    assert heights["model_input"]["median"] <= 3  # 16 px * 64 / 512, rounded outwards on the canvas
    changed = report["degrees"]["100"]["box_pixels_changed"]
    assert changed["pixel"]["pixels"] < 0.05 and changed["pixel"]["images"] < 0.05
    assert changed["mask"] == {"images": 1.0, "pixels": 1.0, "n_images": 2, "n_pixels": changed["mask"]["n_pixels"]}
    assert changed["mask"]["n_pixels"] > 0
    assert report["model_input"] == {"canvas_size": 64, "image_size": 64}
    [warning] = report["warnings"]
    assert "median text box" in warning and "pixel at 100%" in warning and NEARLY_INVISIBLE in warning
    text = markdown_of(report)
    assert "at the resolution the model sees: canvas 64 px, input 64 px" in text
    assert f"**Warning:** {warning}." in text
    assert "| 100% | 8.00 |" in text and "1.000 (1.000)" in text


def test_a_large_canvas_keeps_the_anonymization_visible():
    page, boxes = page_with_text_lines()
    report = report_of([page], [boxes], degrees=(1.0,), canvas=256, image_size=320)
    assert report["text_box_height_px"]["model_input"]["median"] >= 8
    changed = report["degrees"]["100"]["box_pixels_changed"]
    for method in PARAMS:
        assert changed[method]["pixels"] >= 0.9, method
    assert changed["mask"]["pixels"] == 1.0
    assert report["warnings"] == []


def test_without_the_model_sizes_the_images_are_measured_at_their_own_resolution():
    page, boxes = page_with_text_lines()
    report = report_of([page], [boxes], methods=("mask",), degrees=(1.0,))
    assert report["model_input"] is None and report["text_box_height_px"]["model_input"] is None
    changed = report["degrees"]["100"]["box_pixels_changed"]["mask"]
    assert changed["pixels"] == 1.0 and changed["n_pixels"] == 8 * 16 * 320
    assert report["warnings"] == []
    text = markdown_of(report, methods=("mask",))
    assert "at the images' own resolution" in text
