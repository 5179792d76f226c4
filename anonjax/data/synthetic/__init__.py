"""The built-in synthetic document set: the offline default source of anonjax.

Pages are drawn by code when read, with the DejaVu fonts that matplotlib ships, so no file is
downloaded or stored. Every page is a pure function of ``(data.seed, split, index)``: the same seed
gives the same pixels on every machine and in every worker process, another seed gives other pages.

Config (``configs/data.py: synthetic()``):
  data.seed:        generator seed.
  data.sizes:       pages per split, ``{"train": n, "val": n, "test": n}``.
  data.classes:     which classes to draw (default all of ``CLASS_NAMES``), labels follow this order.
  data.page_width, data.page_height: page size in pixels (default 384 x 512, portrait like a scan of
                    a letter-size sheet at about 45 dpi; body text is then 10 px high).

Classes are balanced: split ``s`` of ``n`` pages holds ``n // C`` or ``n // C + 1`` pages per class,
in an order shuffled by the seed. Ids read ``<split>/<class>/<index>``.
"""

from __future__ import annotations

import dataclasses
import functools

import ml_collections
import numpy as np

from anonjax.config_checks import ConfigError, as_tuple, check_choices, check_nonnegative_int, get
from anonjax.data.listing import Listing
from anonjax.data.synthetic.canvas import Box, Canvas
from anonjax.data.synthetic.id_card import id_card
from anonjax.data.synthetic.layouts import LAYOUTS

CLASS_NAMES = [*LAYOUTS, "id_card"]
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}


@dataclasses.dataclass(frozen=True)
class Page:
    """A rendered page and where its content is: text lines (``texts[i]`` is drawn in ``text_boxes[i]``),
    faces, QR codes, and the machine-readable-zone lines of identity pages."""

    image: np.ndarray
    text_boxes: list[Box]
    texts: list[str]
    face_boxes: list[Box]
    code_boxes: list[Box]
    mrz_lines: list[str]


def render_page(kind: str, seed: tuple[int, ...], width: int = 384, height: int = 512) -> Page:
    """Draw one page of class ``kind`` from the random stream ``seed`` (a tuple of ints)."""
    rng = np.random.default_rng(list(seed))
    canvas = Canvas(width, height, paper=tuple(int(v) for v in rng.integers(246, 256, size=3)))
    mrz = id_card(canvas, rng) if kind == "id_card" else LAYOUTS[kind](canvas, rng) or []
    return Page(canvas.pixels(), canvas.text_boxes, canvas.texts, canvas.face_boxes, canvas.code_boxes, mrz)


def render_image(item: tuple[str, tuple[int, ...]], width: int, height: int) -> np.ndarray:
    """The uint8 RGB pixels of listing item ``(kind, seed)``."""
    kind, seed = item
    return render_page(kind, seed, width, height).image


def validate(root_config: ml_collections.ConfigDict) -> None:
    """Check seed, split sizes, classes and page size."""
    check_nonnegative_int(root_config, "data.seed")
    for split in SPLIT_CODES:
        check_nonnegative_int(root_config, f"data.sizes.{split}")
    if as_tuple(root_config.data.get("classes")):
        check_choices(root_config, "data.classes", CLASS_NAMES)
    for key, low in (("data.page_width", 128), ("data.page_height", 128)):
        value = get(root_config, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 4096:
            raise ConfigError(key, f"must be an integer in [{low}, 4096], got {value!r}")


def list_split(data_config: ml_collections.ConfigDict, split: str) -> Listing:
    """The pages of ``split``: balanced classes in a seeded order."""
    classes = list(as_tuple(data_config.get("classes"))) or CLASS_NAMES
    n = int(data_config.sizes[split])
    code = SPLIT_CODES[split]
    seed = int(data_config.seed)
    labels = np.random.default_rng([seed, code]).permutation(np.arange(n) % len(classes)).astype(np.int32)
    ids = [f"{split}/{classes[label]}/{i:06d}" for i, label in enumerate(labels)]
    items = [(classes[label], (seed, code, i)) for i, label in enumerate(labels)]
    return Listing(
        ids=ids,
        labels=labels,
        class_names=classes,
        items=items,
        names=ids,
        load=functools.partial(render_image, width=int(data_config.page_width),
                               height=int(data_config.page_height)),
        files=False,
    )
