"""Layouts of the synthetic document classes, each a function drawing one page on a Canvas.

Pages imitate the look of RVL-CDIP classes: where the text sits, how large it is, which rules,
tables and pictures surround it. Sizes are in pixels for a page about 384 x 512 and scale with it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from anonjax.data.synthetic import text as tx
from anonjax.data.synthetic.canvas import Canvas

INK = (20, 20, 20)


def _s(c: Canvas, size: float) -> int:
    """A font size given for a 384-pixel-wide page, scaled to this page."""
    return max(7, round(size * c.width / 384))


def _margin(c: Canvas, rng: np.random.Generator) -> int:
    return round(rng.uniform(22, 34) * c.width / 384)


def letter(c: Canvas, rng: np.random.Generator) -> None:
    """Letterhead, addresses, date, salutation, paragraphs, closing and signature."""
    m = _margin(c, rng)
    y = m
    c.text((c.width / 2, y), tx.company(rng), _s(c, 17), family="serif", bold=True, anchor="ma")
    y += _s(c, 22)
    c.text((c.width / 2, y), " | ".join(tx.address(rng)), _s(c, 9), anchor="ma")
    y += _s(c, 14)
    c.rule(m, y, c.width - m)
    y += _s(c, 16)
    c.text((c.width - m, y), tx.date(rng), _s(c, 10), anchor="ra")
    for line in [tx.full_name(rng), *tx.address(rng)]:
        c.text((m, y), line, _s(c, 10))
        y += _s(c, 13)
    y += _s(c, 12)
    c.text((m, y), f"Dear {tx.pick(rng, ['Mr.', 'Ms.', 'Dr.'])} {tx.person(rng)[1]},", _s(c, 10))
    y += _s(c, 20)
    bottom = c.height - m - _s(c, 60)
    for _ in range(int(rng.integers(2, 5))):
        y = c.paragraph(m, y, c.width - 2 * m, tx.paragraph(rng, int(rng.integers(2, 5))), _s(c, 10),
                        max_y=bottom) + _s(c, 8)
    y = min(y, bottom) + _s(c, 4)
    c.text((m, y), "Sincerely,", _s(c, 10))
    c.text((m, y + _s(c, 36)), tx.full_name(rng), _s(c, 10), bold=True)


def memo(c: Canvas, rng: np.random.Generator) -> None:
    """MEMORANDUM title, TO/FROM/DATE/SUBJECT block, a thick rule and paragraphs."""
    m = _margin(c, rng)
    y = m + _s(c, 6)
    c.text((m, y), tx.pick(rng, ["MEMORANDUM", "INTEROFFICE MEMO", "MEMO"]), _s(c, 20), bold=True)
    y += _s(c, 36)
    for label, value in (("TO:", tx.full_name(rng)), ("FROM:", tx.full_name(rng)), ("DATE:", tx.date(rng)),
                         ("SUBJECT:", tx.title(rng, int(rng.integers(2, 5))))):
        c.text((m, y), label, _s(c, 10), bold=True)
        c.text((m + _s(c, 70), y), value, _s(c, 10))
        y += _s(c, 17)
    c.rule(m, y + _s(c, 2), c.width - m, width=3)
    y += _s(c, 18)
    while y < c.height - m - _s(c, 40):
        y = c.paragraph(m, y, c.width - 2 * m, tx.paragraph(rng, int(rng.integers(2, 4))), _s(c, 10),
                        max_y=c.height - m) + _s(c, 10)
    c.text((m, c.height - m - _s(c, 10)), f"cc: {tx.full_name(rng)}", _s(c, 9))


def email(c: Canvas, rng: np.random.Generator) -> None:
    """A printed e-mail: monospace header fields, a dashed rule and a short message."""
    m = _margin(c, rng)
    y = m
    sender, receiver = tx.person(rng), tx.person(rng)
    fields = (("From:", f"{sender[0]} {sender[1]} <{sender[0].lower()}.{sender[1].lower()}@mail.com>"),
              ("Sent:", tx.date(rng)), ("To:", f"{receiver[0].lower()}@office.org"),
              ("Subject:", "RE: " + tx.title(rng, int(rng.integers(2, 5)))))
    for label, value in fields:
        c.text((m, y), label, _s(c, 9), family="mono", bold=True)
        c.text((m + _s(c, 62), y), value, _s(c, 9), family="mono")
        y += _s(c, 14)
    y += _s(c, 6)
    c.text((m, y), "-" * 48, _s(c, 9), family="mono", fill=(90, 90, 90))
    y += _s(c, 20)
    c.text((m, y), f"Hi {receiver[0]},", _s(c, 10), family="mono")
    y += _s(c, 22)
    for _ in range(int(rng.integers(1, 4))):
        y = c.paragraph(m, y, c.width - 2 * m, tx.paragraph(rng, int(rng.integers(1, 4))), _s(c, 9),
                        family="mono", max_y=c.height * 0.8) + _s(c, 10)
    c.text((m, y + _s(c, 8)), sender[0], _s(c, 10), family="mono")


def form(c: Canvas, rng: np.random.Generator) -> None:
    """A title, labelled boxes to fill, some filled in, and rows of check boxes."""
    m = _margin(c, rng)
    y = m
    c.text((c.width / 2, y), tx.title(rng, 2).upper() + " FORM", _s(c, 15), bold=True, anchor="ma")
    y += _s(c, 24)
    c.text((c.width / 2, y), f"Form {int(rng.integers(100, 999))}-{tx.pick(rng, 'ABCDE')}", _s(c, 9),
           anchor="ma")
    y += _s(c, 22)
    labels = ["Name", "Address", "City", "Phone", "Date", "Account number", "Department", "Signature"]
    field_h = _s(c, 30)
    half = (c.width - 2 * m) / 2
    for i, label in enumerate(labels[: int(rng.integers(6, 9))]):
        x = m + (i % 2) * half
        if i % 2 == 0 and i:
            y += field_h + _s(c, 6)
        c.rect((x, y, x + half - _s(c, 6), y + field_h))
        c.text((x + 3, y + 2), label, _s(c, 8), fill=(70, 70, 70))
        if rng.random() < 0.7:
            value = {"Name": tx.full_name(rng), "Phone": tx.phone(rng), "Date": tx.date(rng),
                     "Address": tx.address(rng)[0], "City": tx.address(rng)[1]}.get(label, tx.title(rng, 2))
            c.text((x + 6, y + _s(c, 14)), value, _s(c, 10), family="mono")
    y += field_h + _s(c, 20)
    box = _s(c, 9)
    while y < c.height - m - _s(c, 20):
        c.rect((m, y, m + box, y + box))
        if rng.random() < 0.4:
            c.draw.line([(m + 1, y + 1), (m + box - 1, y + box - 1)], fill=INK, width=2)
        c.text((m + box + _s(c, 8), y - 1), tx.sentence(rng, 4, 8), _s(c, 9))
        y += _s(c, 19)


def invoice(c: Canvas, rng: np.random.Generator) -> None:
    """INVOICE header, number and date, bill-to block, an item table with a total."""
    m = _margin(c, rng)
    y = m
    c.text((m, y), tx.company(rng), _s(c, 13), bold=True)
    c.text((c.width - m, y), "INVOICE", _s(c, 18), bold=True, anchor="ra")
    y += _s(c, 30)
    for line in tx.address(rng):
        c.text((m, y), line, _s(c, 9))
        y += _s(c, 12)
    y += _s(c, 10)
    c.text((c.width - m, y - _s(c, 34)), f"No. {int(rng.integers(10000, 99999))}", _s(c, 10), anchor="ra")
    c.text((c.width - m, y - _s(c, 20)), tx.date(rng), _s(c, 10), anchor="ra")
    c.text((m, y), "Bill to:", _s(c, 10), bold=True)
    y += _s(c, 14)
    for line in [tx.full_name(rng), *tx.address(rng)]:
        c.text((m, y), line, _s(c, 10))
        y += _s(c, 13)
    y += _s(c, 14)
    cols = [m, m + (c.width - 2 * m) * 0.52, m + (c.width - 2 * m) * 0.68, c.width - m]
    c.rect((m, y, c.width - m, y + _s(c, 16)), fill=(220, 220, 220), outline=None)
    for x, head in zip(cols, ["Description", "Qty", "Price", "Amount"], strict=True):
        c.text((x + 3 if x != cols[-1] else x - 3, y + 2), head, _s(c, 9), bold=True,
               anchor="la" if x != cols[-1] else "ra")
    y += _s(c, 20)
    total = 0.0
    for _ in range(int(rng.integers(4, 10))):
        qty, price = int(rng.integers(1, 20)), float(rng.uniform(2, 300))
        total += qty * price
        c.text((cols[0] + 3, y), tx.title(rng, int(rng.integers(1, 4))), _s(c, 9))
        c.text((cols[1] + 3, y), str(qty), _s(c, 9))
        c.text((cols[2] + 3, y), f"{price:,.2f}", _s(c, 9))
        c.text((cols[3] - 3, y), f"{qty * price:,.2f}", _s(c, 9), anchor="ra")
        y += _s(c, 16)
        c.rule(m, y - _s(c, 3), c.width - m, fill=(180, 180, 180))
    y += _s(c, 8)
    c.text((cols[2] + 3, y), "TOTAL", _s(c, 10), bold=True)
    c.text((cols[3] - 3, y), f"{total:,.2f}", _s(c, 10), bold=True, anchor="ra")
    terms = "Payment due within 30 days. " + tx.sentence(rng)
    c.paragraph(m, c.height - m - _s(c, 30), c.width - 2 * m, terms, _s(c, 8))


def budget(c: Canvas, rng: np.random.Generator) -> None:
    """A budget sheet: title, year columns and rows of right-aligned figures."""
    m = _margin(c, rng)
    y = m
    c.text((c.width / 2, y), f"{int(rng.integers(1988, 2024))} BUDGET", _s(c, 16), bold=True, anchor="ma")
    y += _s(c, 22)
    c.text((c.width / 2, y), tx.title(rng, 3), _s(c, 10), anchor="ma")
    y += _s(c, 26)
    cols = [c.width - m - i * _s(c, 70) for i in range(3)][::-1]
    for x, head in zip(cols, ["Actual", "Budget", "Variance"], strict=True):
        c.text((x, y), head, _s(c, 9), bold=True, anchor="ra")
    y += _s(c, 14)
    c.rule(m, y, c.width - m, width=2)
    y += _s(c, 6)
    while y < c.height - m - _s(c, 30):
        c.text((m, y), tx.title(rng, int(rng.integers(1, 3))), _s(c, 9))
        for x in cols:
            c.text((x, y), tx.amount(rng, 90000), _s(c, 9), family="mono", anchor="ra")
        y += _s(c, 15)
    c.rule(m, y, c.width - m, width=2)
    c.text((m, y + _s(c, 6)), "Total", _s(c, 10), bold=True)
    c.text((cols[-1], y + _s(c, 6)), tx.amount(rng, 900000), _s(c, 10), family="mono", bold=True, anchor="ra")


def scientific_publication(c: Canvas, rng: np.random.Generator) -> None:
    """Centered title and authors, an abstract, two columns of small text with a figure."""
    m = _margin(c, rng)
    y = m
    y = c.paragraph(m + _s(c, 20), y, c.width - 2 * m - _s(c, 40), tx.title(rng, int(rng.integers(5, 10))),
                    _s(c, 14), family="serif", bold=True)
    c.text((c.width / 2, y + _s(c, 4)), ", ".join(tx.full_name(rng) for _ in range(3)), _s(c, 9),
           family="serif", italic=True, anchor="ma")
    y += _s(c, 24)
    c.text((m, y), "Abstract", _s(c, 10), family="serif", bold=True)
    y = c.paragraph(m, y + _s(c, 14), c.width - 2 * m, tx.paragraph(rng, 3), _s(c, 9), family="serif",
                    italic=True) + _s(c, 10)
    gap = _s(c, 14)
    col_w = (c.width - 2 * m - gap) / 2
    figure_col = int(rng.integers(2))
    for col in range(2):
        x, cy = m + col * (col_w + gap), y
        if col == figure_col:
            fig_h = _s(c, 90)
            c.rect((x, cy, x + col_w, cy + fig_h))
            xs = np.linspace(x + 6, x + col_w - 6, 30)
            ys = cy + fig_h * (0.8 - 0.6 * (1 - np.exp(-np.linspace(0, 3, 30)))) + rng.normal(0, 2, 30)
            c.draw.line(list(zip(xs, ys, strict=True)), fill=INK, width=1)
            cy += fig_h + _s(c, 4)
            c.text((x, cy), f"Figure {int(rng.integers(1, 5))}. {tx.title(rng, 3)}", _s(c, 8), family="serif")
            cy += _s(c, 16)
        if cy < c.height - m:
            heading = f"{int(rng.integers(1, 5))}. {tx.title(rng, 2)}"
            c.text((x, cy), heading, _s(c, 10), family="serif", bold=True)
            cy += _s(c, 15)
        while cy < c.height - m - _s(c, 12):
            cy = c.paragraph(x, cy, col_w, tx.paragraph(rng, 3), _s(c, 8), family="serif",
                             max_y=c.height - m) + _s(c, 5)


def news_article(c: Canvas, rng: np.random.Generator) -> None:
    """A masthead, a large headline, a photo block and three narrow columns."""
    m = _margin(c, rng) - 8
    y = m
    masthead = f"The {tx.pick(rng, tx.CITIES).capitalize()} {tx.pick(rng, ['Times', 'Herald', 'Post'])}"
    c.text((c.width / 2, y), masthead, _s(c, 22), family="serif", bold=True, anchor="ma")
    y += _s(c, 30)
    c.rule(m, y, c.width - m, width=2)
    c.text((m, y + 3), tx.date(rng), _s(c, 8), family="serif")
    y += _s(c, 18)
    c.rule(m, y, c.width - m)
    y = c.paragraph(m, y + _s(c, 8), c.width - 2 * m, tx.title(rng, int(rng.integers(4, 8))), _s(c, 17),
                    family="serif", bold=True) + _s(c, 4)
    photo_h = int(_s(c, 100) * rng.uniform(0.7, 1.2))
    shade = np.linspace(rng.uniform(60, 120), rng.uniform(150, 220), c.width - 2 * m)
    photo = np.clip(shade[None, :, None] + rng.normal(0, 18, (photo_h, c.width - 2 * m, 1)), 0, 255)
    c.paste(np.repeat(photo, 3, axis=2).astype(np.uint8), (m, round(y)))
    y += photo_h + _s(c, 4)
    c.text((m, y), tx.sentence(rng, 5, 9), _s(c, 7), family="serif", italic=True)
    y += _s(c, 14)
    gap = _s(c, 8)
    col_w = (c.width - 2 * m - 2 * gap) / 3
    for col in range(3):
        cy = y
        while cy < c.height - m - _s(c, 10):
            x = m + col * (col_w + gap)
            cy = c.paragraph(x, cy, col_w, tx.paragraph(rng, 2), _s(c, 8), family="serif",
                             max_y=c.height - m) + _s(c, 3)


def presentation(c: Canvas, rng: np.random.Generator) -> None:
    """A printed slide: coloured title band, large bullet points, a footer."""
    band = tuple(int(v) for v in rng.integers(30, 160, 3))
    top = int(c.height * rng.uniform(0.12, 0.2))
    c.rect((0, 0, c.width, top), fill=band, outline=None)
    m = _margin(c, rng)
    c.text((m, top / 2), tx.title(rng, int(rng.integers(2, 5))), _s(c, 20), bold=True, fill=(250, 250, 250),
           anchor="lm")
    y = top + _s(c, 28)
    for _ in range(int(rng.integers(3, 7))):
        c.draw.ellipse((m, y + _s(c, 5), m + _s(c, 7), y + _s(c, 12)), fill=band)
        y = c.paragraph(m + _s(c, 16), y, c.width - 2 * m - _s(c, 16), tx.sentence(rng, 3, 9), _s(c, 15),
                        max_y=c.height - _s(c, 50)) + _s(c, 12)
    c.rule(m, c.height - _s(c, 34), c.width - m, fill=band, width=2)
    c.text((m, c.height - _s(c, 26)), tx.company(rng), _s(c, 9))
    c.text((c.width - m, c.height - _s(c, 26)), str(int(rng.integers(2, 40))), _s(c, 9), anchor="ra")


def resume(c: Canvas, rng: np.random.Generator) -> None:
    """Name in large type, contact line, sections with rules and bulleted entries."""
    m = _margin(c, rng)
    y = m
    first, last = tx.person(rng)
    c.text((m, y), f"{first} {last}".upper(), _s(c, 20), bold=True)
    y += _s(c, 28)
    c.text((m, y), f"{tx.phone(rng)}  |  {first.lower()}.{last.lower()}@mail.com", _s(c, 9))
    y += _s(c, 13)
    c.text((m, y), ", ".join(tx.address(rng)), _s(c, 9))
    y += _s(c, 22)
    for section in ("EXPERIENCE", "EDUCATION", "SKILLS"):
        if y > c.height - m - _s(c, 40):
            break
        c.text((m, y), section, _s(c, 11), bold=True)
        y += _s(c, 15)
        c.rule(m, y, c.width - m)
        y += _s(c, 6)
        for _ in range(int(rng.integers(2, 4))):
            if y > c.height - m - _s(c, 30):
                break
            c.text((m, y), f"{tx.company(rng)}, {tx.pick(rng, tx.CITIES).capitalize()}", _s(c, 10), bold=True)
            c.text((c.width - m, y), str(int(rng.integers(1990, 2024))), _s(c, 9), anchor="ra")
            y += _s(c, 14)
            y = c.paragraph(m + _s(c, 12), y, c.width - 2 * m - _s(c, 12), "- " + tx.sentence(rng, 5, 12),
                            _s(c, 9), max_y=c.height - m) + _s(c, 6)
        y += _s(c, 8)


LAYOUTS: dict[str, Callable[[Canvas, np.random.Generator], None]] = {
    "letter": letter,
    "form": form,
    "email": email,
    "scientific_publication": scientific_publication,
    "news_article": news_article,
    "budget": budget,
    "invoice": invoice,
    "presentation": presentation,
    "resume": resume,
    "memo": memo,
}
