"""Word splitting and the text measures on hand-made OCR lines: multisets, same place, inside the boxes."""

import numpy as np
import pytest

from anonjax.privacy.ocr import OcrLine
from anonjax.privacy.outcome import Measured, Missing, Ratio
from anonjax.privacy.readable_text import readable_text, text_readability, words


def line(text, box):
    return OcrLine(text, tuple(float(v) for v in box), 0.9)


def test_words_split_at_whitespace_strip_edges_and_keep_three_characters():
    assert words("Dear Mr. Wagner, born 25.12.1952 in co py") == ["dear", "wagner", "born", "25.12.1952"]
    assert words("TOTAL 1,719.33 — (Anna) e-mail: a@b.de") == ["total", "1,719.33", "anna", "e-mail", "a@b.de"]
    assert words("ÄRZTIN Straße") == ["ärztin", "strasse"]  # casefolded: ß compares as ss
    assert words("   ") == [] and words("...!!") == []


def test_identity_reads_every_word_and_every_line():
    page = [line("Anna Miller 660 Church Avenue", (10, 10, 200, 22)), line("Salem 56809", (10, 30, 80, 42))]
    counts = readable_text(page, page, np.zeros((0, 4), np.int32), 100, 300)
    assert (counts["words"].hits, counts["words"].total) == (7, 7)  # anna miller 660 church avenue salem 56809
    assert counts["similarity"] == Ratio(2.0, 2)
    assert counts["words_in_boxes"].total == 0 and counts["words_in_boxes"].fraction is None


def test_words_count_as_multisets_at_the_same_place_only():
    original = [line("total total amount", (0, 0, 100, 10)), line("amount", (0, 50, 40, 60))]
    anonymized = [
        line("total amount", (0, 0, 60, 10)),  # a fragment of the first line: inside its box
        line("amount", (200, 200, 240, 210)),  # elsewhere: not the second line surviving
    ]
    counts = readable_text(original, anonymized, np.zeros((0, 4)), 300, 300)
    assert (counts["words"].hits, counts["words"].total) == (2, 4)  # "total" once of twice, "amount" once
    # similarity of line 1 to "total amount": "totaltotalamount" vs "totalamount" is 5 deletions of 16
    assert counts["similarity"].hits == pytest.approx(1 - 5 / 16)
    assert counts["similarity"].total == 2


def test_lines_in_boxes_are_those_mostly_covered():
    original = [line("Anna Miller", (0, 0, 100, 10)), line("Invoice Number", (0, 20, 100, 30)),
                line("Salem City", (0, 40, 100, 50))]
    boxes = np.array([[0, 0, 100, 10], [0, 20, 60, 30], [0, 40, 40, 50]])  # 100 %, 60 %, 40 % covered
    anonymized = [line("Salem City", (0, 40, 100, 50))]
    counts = readable_text(original, anonymized, boxes, 60, 120)
    assert (counts["words_in_boxes"].hits, counts["words_in_boxes"].total) == (0, 4)
    assert (counts["words"].hits, counts["words"].total) == (2, 6)
    assert counts["similarity_in_boxes"] == Ratio(0.0, 2)


def test_missing_ocr_makes_the_text_measure_missing():
    read = [line("Anna", (0, 0, 10, 10))]
    outcome = text_readability(Missing("OCR failed: RuntimeError: boom"), read, np.zeros((0, 4)), (20, 20, 3))
    assert outcome == Missing("OCR failed: RuntimeError: boom")
    assert isinstance(text_readability(read, [], np.zeros((0, 4)), (20, 20, 3)), Measured)
