"""An identity-document copy: the DOKIQ case of a face photo, personal data, a QR code and MRZ lines.

The page shows either an identity card (front with photo and data, back with a QR code and the
three-line TD1 zone) or a passport data page (photo, data and the two-line TD3 zone), as a
photocopy on a sheet, issued by the fictitious state "UTO" (ICAO's specimen code for Utopia).
"""

from __future__ import annotations

import cv2
import numpy as np

from anonjax.data.synthetic import text as tx
from anonjax.data.synthetic.canvas import Canvas
from anonjax.data.synthetic.faces import portrait
from anonjax.data.synthetic.mrz import td1, td3

STATE = "UTO"


def _yymmdd(rng: np.random.Generator, first: int, last: int) -> tuple[str, str]:
    year, month, day = int(rng.integers(first, last)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    return f"{year % 100:02d}{month:02d}{day:02d}", f"{day:02d}.{month:02d}.{year}"


def _qr(text: str, size: int) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, (size, size), interpolation=cv2.INTER_NEAREST)
    return np.repeat(code[:, :, None], 3, axis=2)


def id_card(c: Canvas, rng: np.random.Generator) -> list[str]:
    """Draw an identity card or passport page on ``c``; returns the MRZ lines drawn."""
    c.rect((0, 0, c.width, c.height), fill=tuple(int(v) for v in rng.integers(236, 250, 3)), outline=None)
    surname, given = tx.person(rng)[1], " ".join(tx.person(rng)[0] for _ in range(int(rng.integers(1, 3))))
    number = "".join(tx.pick(rng, "ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(9))
    birth, birth_text = _yymmdd(rng, 1950, 2005)
    expiry, expiry_text = _yymmdd(rng, 2026, 2036)
    sex = tx.pick(rng, "MF")
    passport = rng.random() < 0.5
    card_w = round(c.width * rng.uniform(0.86, 0.93))
    card_h = round(card_w * (0.70 if passport else 0.63))
    x0 = round((c.width - card_w) * rng.uniform(0.3, 0.7))
    y0 = round(c.height * rng.uniform(0.04, 0.1))
    tint = tuple(int(v) for v in rng.integers(200, 240, 3))
    _front(c, rng, (x0, y0, card_w, card_h), tint, "PASSPORT" if passport else "IDENTITY CARD",
           [("Surname", surname.upper()), ("Given names", given.upper()), ("Date of birth", birth_text),
            ("Sex", sex), ("Document no.", number), ("Date of expiry", expiry_text)])
    fields = (number, STATE, surname, given, birth, sex, expiry, STATE)
    lines = td3(*fields) if passport else td1(*fields)
    if passport:
        mrz_top = y0 + card_h - _mrz_height(c, lines, card_w) - 6
        _mrz(c, lines, x0, mrz_top, card_w)
        back_y = y0 + card_h + round(c.height * 0.06)
        note = "Certified copy. " + tx.paragraph(rng, 2)
        c.paragraph(x0, back_y, card_w, note, max(8, round(c.width / 40)))
    else:
        back_y = y0 + card_h + round(c.height * rng.uniform(0.05, 0.1))
        c.draw.rounded_rectangle((x0, back_y, x0 + card_w, back_y + card_h), radius=10, fill=tint,
                                 outline=(90, 90, 90))
        qr = round(card_h * 0.42)
        c.paste(_qr(f"{STATE}{number}{birth}", qr), (x0 + card_w - qr - 10, back_y + 10), code=True)
        c.paragraph(x0 + 12, back_y + 12, card_w - qr - 34, f"Address: {', '.join(tx.address(rng))}",
                    max(8, round(c.width / 40)))
        _mrz(c, lines, x0, back_y + card_h - _mrz_height(c, lines, card_w) - 8, card_w)
    return lines


def _front(c: Canvas, rng: np.random.Generator, frame: tuple[int, int, int, int], tint, heading: str,
           fields: list[tuple[str, str]]) -> None:
    x0, y0, w, h = frame
    c.draw.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=10, fill=tint, outline=(90, 90, 90))
    small = max(7, round(c.width / 50))
    value = max(8, round(c.width / 36))
    c.text((x0 + 12, y0 + 8), f"UTOPIA  {heading}", max(9, round(c.width / 30)), bold=True, fill=(30, 40, 90))
    photo_w = round(w * 0.28)
    photo_h = round(photo_w * 45 / 35)
    pixels, face = portrait(rng, photo_w, photo_h)
    c.paste(pixels, (x0 + 12, y0 + round(h * 0.16)), face_box=face)
    fx = x0 + photo_w + 26
    fy = y0 + round(h * 0.16)
    step = min(round(h * 0.7 / len(fields)), small + value + 6)
    for label, text in fields:
        c.text((fx, fy), label, small, fill=(80, 80, 100))
        c.text((fx, fy + small + 1), text, value, bold=True)
        fy += step


def _mrz_size(c: Canvas, lines: list[str], card_w: int) -> int:
    """The largest monospace size (at most 17 px at 384 px page width) whose lines fill 92% of the card."""
    size = max(8, round(17 * c.width / 384))
    while size > 8 and c.text_width(lines[0], size, family="mono") > 0.92 * card_w:
        size -= 1
    return size


def _mrz_height(c: Canvas, lines: list[str], card_w: int) -> int:
    return len(lines) * round(_mrz_size(c, lines, card_w) * 1.3)


def _mrz(c: Canvas, lines: list[str], x0: int, y: int, card_w: int) -> None:
    size = _mrz_size(c, lines, card_w)
    for line in lines:
        c.text((x0 + card_w / 2, y), line, size, family="mono", anchor="ma")
        y += round(size * 1.3)
