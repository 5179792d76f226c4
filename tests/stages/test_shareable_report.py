"""A report built with ``report.originals=False`` holds no original text and no source name: pages and file
names full of personal words go through the anonymize stage at 50 %, attention maps and the report stage, and
nothing under ``report/`` (file names, Markdown, HTML, the text OCR reads in every PNG) gives one away."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from anonjax.main import load_config, run
from anonjax.models import attention_maps
from anonjax.plan import study_plan
from anonjax.stages import embed, report

pytest.importorskip("rapidocr_onnxruntime")
from anonjax.privacy.ocr import Ocr

FOLDER = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "folder.py"
PERSONAL = ("ANNA", "MILLER", "1955", "KARL", "SCHMIDT", "BERLIN", "MARIA", "HUBER", "PETRA", "KLEIN")
LINES = ("ANNA MILLER 1955", "KARL SCHMIDT BERLIN", "MARIA HUBER 1978", "PETRA KLEIN")


def page(lines: tuple[str, ...]) -> np.ndarray:
    """A white page with ``lines`` of large black text, easy to detect and to read."""
    pixels = np.full((420, 640, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(pixels, line, (30, 70 + 95 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 4, cv2.LINE_AA)
    return pixels


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> tuple[Path, Path]:
    """(data root, work directory) of a study whose report is meant to be shared."""
    root = tmp_path_factory.mktemp("data")
    (root / "letter").mkdir()
    (root / "splits").mkdir()
    names = ["letter/ANNA_MILLER_1955.png", "letter/KARL_SCHMIDT_BERLIN.png"]
    for i, name in enumerate(names):
        Image.fromarray(page(LINES[i:] + LINES[:i])).save(root / name)
    (root / "letter" / "MARIA_HUBER_1978.png").write_bytes(b"not an image")  # left out, listed by name
    (root / "splits" / "val.txt").write_text("\n".join([*names, "letter/MARIA_HUBER_1978.png"]) + "\n")
    config = load_config(FOLDER)
    config.data.root = str(root)
    config.stages = "anonymize"
    config.grid.methods, config.grid.degrees, config.grid.adaptations = ("pixel", "mask"), (0.5,), ("A",)
    config.grid.controls = 0
    config.train.canvas_size, config.embed.image_size = 256, 64
    a = config.anonymize
    a.detectors, a.splits, a.stats_images, a.workers = ("text",), ("val",), 1, 1
    a.materialize, a.materialize_original, a.opaque_names = True, False, True
    config.embed.splits, config.embed.attention_images = ("val",), 2
    config.report.originals = False
    workdir = tmp_path_factory.mktemp("work")
    run(config, workdir)
    mp = pytest.MonkeyPatch()  # attention maps of untrained models: uniform, drawn by the real renderer
    mp.setattr(embed, "load_backbone", lambda run_dir: (None, None))
    mp.setattr(attention_maps, "attention_maps", lambda params, cfg, x: np.full((len(x), 2, 2, 2), .25, np.float32))
    try:
        embed._attention(config, study_plan(config), workdir, "embeddings-fingerprint")
    finally:
        mp.undo()
    (workdir / "results").mkdir()
    (workdir / "results" / "scenarios.json").write_text("[]")
    settings = dict(split="val", splits=["val"], n=2, k=1, fraction=0.05, exclude_self=False, n_bootstrap=10,
                    train_split=None)
    (workdir / "results" / "summary.json").write_text(json.dumps(dict(settings=settings, degrees=[])))
    report.run(config, workdir)
    return root, workdir


def personal(text: str, root: Path) -> list[str]:
    """The personal words and source paths in ``text``."""
    upper = text.upper()
    return [w for w in PERSONAL if w in upper] + ([str(root)] if str(root) in text else [])


def test_the_pages_hold_personal_text_that_ocr_reads():
    read = " ".join(line.text for line in Ocr()(page(LINES)))
    assert personal(read, Path("/nowhere")) == list(PERSONAL)  # the check below can find them


def test_the_shareable_report_holds_no_personal_word_or_source_path(shared):
    root, workdir = shared
    files = sorted(p for p in (workdir / "report").rglob("*") if p.is_file())
    pngs = [p for p in files if p.suffix == ".png"]
    assert any("example_sheet" in p.name for p in pngs) and sum("__" in p.name for p in pngs) == 4
    ocr = Ocr()
    found = {}
    for path in files:
        text = path.relative_to(workdir).as_posix()
        if path.suffix in (".md", ".html"):
            text += path.read_text(encoding="utf-8")
        else:
            pixels = np.asarray(Image.open(path).convert("RGB"))
            text += " ".join(line.text for line in ocr(cv2.resize(pixels, None, fx=2, fy=2)))
        if hits := personal(text, root):
            found[path.name] = hits
    assert not found
