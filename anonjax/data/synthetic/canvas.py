"""A page to draw on that remembers where it put text and photos (the ground truth of a synthetic page)."""

from __future__ import annotations

import functools

import numpy as np
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

Box = tuple[int, int, int, int]

FAMILIES = {"sans": "DejaVu Sans", "serif": "DejaVu Serif", "mono": "DejaVu Sans Mono"}


@functools.cache
def font_path(family: str, bold: bool = False, italic: bool = False) -> str:
    """Path of the DejaVu TrueType file that matplotlib ships for ``family`` ("sans", "serif", "mono")."""
    props = font_manager.FontProperties(
        family=FAMILIES[family], weight="bold" if bold else "normal", style="italic" if italic else "normal"
    )
    return font_manager.findfont(props, fallback_to_default=False)


@functools.lru_cache(maxsize=256)
def font(family: str, size: int, bold: bool = False, italic: bool = False) -> ImageFont.FreeTypeFont:
    """A loaded TrueType font (cached per process)."""
    return ImageFont.truetype(font_path(family, bold, italic), size)


class Canvas:
    """An RGB page plus the boxes (int x0, y0, x1, y1, half-open) and strings of every text line, and the
    boxes of every face and code drawn."""

    def __init__(self, width: int, height: int, paper: tuple[int, int, int] = (255, 255, 255)):
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width, height), paper)
        self.draw = ImageDraw.Draw(self.image)
        self.text_boxes: list[Box] = []
        self.texts: list[str] = []
        self.face_boxes: list[Box] = []
        self.code_boxes: list[Box] = []

    def text(self, xy: tuple[float, float], text: str, size: int, *, family: str = "sans", bold: bool = False,
             italic: bool = False, fill=(20, 20, 20), anchor: str = "la") -> Box:
        """Draw one line of text; records and returns its ink box clipped to the page."""
        f = font(family, size, bold, italic)
        self.draw.text(xy, text, font=f, fill=fill, anchor=anchor)
        x0, y0, x1, y1 = self.draw.textbbox(xy, text, font=f, anchor=anchor)
        box = self._clip((x0, y0, x1, y1))
        if box[2] > box[0] and box[3] > box[1]:
            self.text_boxes.append(box)
            self.texts.append(text)
        return box

    def text_width(self, text: str, size: int, *, family: str = "sans", bold: bool = False) -> float:
        """Advance width of ``text`` in pixels."""
        return font(family, size, bold).getlength(text)

    def paragraph(self, x: float, y: float, width: float, text: str, size: int, *, family: str = "sans",
                  leading: float = 1.35, max_y: float | None = None, **style) -> float:
        """Draw ``text`` wrapped to ``width`` from (x, y); returns the y below it. Stops above ``max_y``."""
        max_y = self.height if max_y is None else max_y
        line_height = size * leading
        line: list[str] = []
        for word in text.split():
            trial = " ".join([*line, word])
            if line and self.text_width(trial, size, family=family, bold=style.get("bold", False)) > width:
                if y + line_height > max_y:
                    return y
                self.text((x, y), " ".join(line), size, family=family, **style)
                y += line_height
                line = [word]
            else:
                line.append(word)
        if line and y + line_height <= max_y:
            self.text((x, y), " ".join(line), size, family=family, **style)
            y += line_height
        return y

    def rule(self, x0: float, y: float, x1: float, width: int = 1, fill=(40, 40, 40)) -> None:
        """A horizontal line."""
        self.draw.line([(x0, y), (x1, y)], fill=fill, width=width)

    def rect(self, box, outline=(40, 40, 40), fill=None, width: int = 1) -> None:
        """A rectangle outline or filled box (not recorded as content)."""
        self.draw.rectangle(box, outline=outline, fill=fill, width=width)

    def paste(self, pixels: np.ndarray, xy: tuple[int, int], *, face_box: Box | None = None,
              code: bool = False) -> Box:
        """Paste an RGB array at ``xy``; ``face_box`` (in the array's coordinates) records a face in it."""
        x, y = int(xy[0]), int(xy[1])
        self.image.paste(Image.fromarray(pixels), (x, y))
        box = self._clip((x, y, x + pixels.shape[1], y + pixels.shape[0]))
        if face_box is not None:
            fx0, fy0, fx1, fy1 = face_box
            self.face_boxes.append(self._clip((x + fx0, y + fy0, x + fx1, y + fy1)))
        if code:
            self.code_boxes.append(box)
        return box

    def pixels(self) -> np.ndarray:
        """The page as uint8 RGB [H, W, 3]."""
        return np.asarray(self.image, dtype=np.uint8).copy()

    def _clip(self, box) -> Box:
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        return (max(0, x0), max(0, y0), min(self.width, x1), min(self.height, y1))
