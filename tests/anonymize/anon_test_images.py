"""Real test images: photographs that installed packages ship, pages rendered with a real font, and
codes drawn to their specifications."""

from __future__ import annotations

import cv2
import matplotlib.cbook
import matplotlib.font_manager
import numpy as np
import skimage.data
from PIL import Image, ImageDraw, ImageFont

# Faces marked by hand on the photographs (x0, y0, x1, y1).
ASTRONAUT_FACE = (184, 64, 270, 174)
HOPPER_FACE = (176, 120, 360, 340)
LINES = ("Invoice number 4711 dated 12 March", "Customer: Erika Mustermann", "Street 12, 70173 Stuttgart",
         "Total amount due: 1,234.56 EUR")

_L = ("0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011")
_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")


def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


def hopper() -> np.ndarray:
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return np.array(Image.open(path).convert("RGB"))


def rendered_page(lines=LINES, size=(480, 240), font_size=18) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """White page with ``lines`` in DejaVu Sans; also each line's ink box (x0, y0, x1, y1): every pixel that
    is not pure white."""
    font = ImageFont.truetype(matplotlib.font_manager.findfont("DejaVu Sans"), font_size)
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    boxes = []
    for i, line in enumerate(lines):
        xy = (30, 30 + i * 50)
        draw.text(xy, line, font=font, fill="black")
        x0, y0, x1, y1 = draw.textbbox(xy, line, font=font)
        ys, xs = np.nonzero((np.array(img)[y0 - 4:y1 + 4, x0 - 4:x1 + 4] < 255).any(-1))
        boxes.append((x0 - 4 + xs.min(), y0 - 4 + ys.min(), x0 - 3 + xs.max(), y0 - 3 + ys.max()))
    return np.array(img), boxes


def qr_code(text: str, module: int = 4) -> np.ndarray:
    """A QR code (with its quiet zone) as a uint8 grey image."""
    code = cv2.QRCodeEncoder.create().encode(text)
    return cv2.resize(code, None, fx=module, fy=module, interpolation=cv2.INTER_NEAREST)


def ean13(digits12: str, module: int = 3, height: int = 90) -> np.ndarray:
    """An EAN-13 barcode (check digit added, quiet zones included) as a uint8 grey image."""
    d = [int(c) for c in digits12]
    check = (10 - (sum(d[0::2]) + 3 * sum(d[1::2])) % 10) % 10
    d.append(check)
    right = ["".join("1" if b == "0" else "0" for b in _L[x]) for x in range(10)]
    bits = "101"
    for parity, x in zip(_PARITY[d[0]], d[1:7], strict=True):
        bits += _L[x] if parity == "L" else right[x][::-1]
    bits += "01010" + "".join(right[x] for x in d[7:]) + "101"
    row = np.array([0 if b == "1" else 255 for b in "0" * 11 + bits + "0" * 11], np.uint8)
    return np.repeat(np.tile(row, (height, 1)), module, axis=1)


def paste(canvas: np.ndarray, grey: np.ndarray, x: int, y: int) -> tuple[int, int, int, int]:
    """Paste a grey image into an RGB canvas; returns where it went (x0, y0, x1, y1)."""
    canvas[y:y + grey.shape[0], x:x + grey.shape[1]] = grey[..., None]
    return x, y, x + grey.shape[1], y + grey.shape[0]


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def dense_page(n_words: int = 1224, cols: int = 34) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A page of ``n_words`` small words under a name line; also the name line's ink box."""
    font = ImageFont.truetype(matplotlib.font_manager.findfont("DejaVu Sans"), 11)
    name_font = ImageFont.truetype(matplotlib.font_manager.findfont("DejaVu Sans"), 22)
    rows = -(-n_words // cols)
    img = Image.new("RGB", (cols * 40 + 20, 70 + rows * 22), "white")
    draw = ImageDraw.Draw(img)
    draw.text((20, 15), "Anna Miller, born 1984", font=name_font, fill="black")
    name = draw.textbbox((20, 15), "Anna Miller, born 1984", font=name_font)
    for i in range(n_words):
        r, c = divmod(i, cols)
        draw.text((12 + c * 40, 66 + r * 22), "xyz"[i % 3] + "ab", font=font, fill="black")
    return np.array(img), name
