"""How much text an anonymized image still gives to OCR: words still read, and how close each line stays.

Both images are read by the same OCR (``Ocr``). Definitions:

- Words: a string is split at whitespace; each piece is casefolded and stripped of leading and trailing
  characters that are neither letters nor digits; pieces of at least ``MIN_WORD`` (3) characters are its
  words. So "Mr." is dropped, "Wagner," becomes "wagner", and "25.12.1952" and "1,719.33" stay whole.
- Where: an original line is compared with the anonymized lines at the same place, those whose box overlaps
  its box by at least half of the smaller box (``overlap_of_smaller >= 0.5``). Anonymization moves nothing,
  so a word read elsewhere on the page is another occurrence, not this one surviving; a fragment of a
  partly anonymized line (a box inside the original box) still counts.
- ``words``: original words still read, as multisets per line: a word that occurs twice in the original
  line counts twice only if the anonymized lines there hold it twice. Over all original lines.
- ``similarity``: per original line, 1 - normalized Levenshtein distance to its best-matching anonymized line
  there (0 when there is none), comparing casefolded text with whitespace removed (OCR splits and joins
  words unpredictably, "co py"); ``hits`` is the sum over original lines, ``total`` their number. Unrelated
  strings do not score 0 (two different lines of one synthetic page score 0.16 on average), so whatever
  OCR reads at a line's place, even garbage, lifts it: ``words`` is the strict measure, ``similarity``
  shows partial leaks (a name read with one wrong letter).
- ``*_in_boxes``: the same over the original lines that lie in the anonymized boxes, meaning at least
  ``IN_BOXES`` (half) of the line box's area is covered by the union of the anonymized boxes. Area rather
  than the box centre, so a line that a box covers only at its middle does not count as in it.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Sequence

import numpy as np

from anonjax.privacy.box_overlap import covered_fraction, overlap_of_smaller
from anonjax.privacy.edit_distance import similarity
from anonjax.privacy.ocr import OcrLine
from anonjax.privacy.outcome import Measured, Missing, Outcome, Ratio, first_missing

MIN_WORD = 3
SAME_PLACE = 0.5
IN_BOXES = 0.5
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_SPACE = re.compile(r"\s+")


def words(text: str, min_length: int = MIN_WORD) -> list[str]:
    """The words of ``text`` (see the module docstring), in order, with repeats."""
    pieces = (_EDGES.sub("", piece) for piece in text.casefold().split())
    return [piece for piece in pieces if len(piece) >= min_length]


def comparable(text: str) -> str:
    """``text`` as the character similarity compares it: casefolded, without whitespace."""
    return _SPACE.sub("", text.casefold())


def same_place(boxes: Sequence[Sequence[float]], read: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """For each box, the lines of ``read`` that overlap it by at least half of the smaller box."""
    if not len(read):
        return [[] for _ in boxes]
    overlap = overlap_of_smaller(boxes, [line.box for line in read])
    return [[read[j] for j in np.flatnonzero(row >= SAME_PLACE)] for row in overlap]


def words_still_read(text: str, there: Sequence[OcrLine]) -> Ratio:
    """Words of ``text`` that the lines ``there`` still hold (multiset intersection)."""
    wanted = collections.Counter(words(text))
    held = collections.Counter(w for line in there for w in words(line.text))
    return Ratio(sum(min(n, held[w]) for w, n in wanted.items()), sum(wanted.values()))


def best_similarity(text: str, there: Sequence[OcrLine]) -> float:
    """The highest character similarity of ``text`` to a line of ``there``; 0 when there is none."""
    return max((similarity(comparable(text), comparable(line.text)) for line in there), default=0.0)


def readable_text(original: Sequence[OcrLine], anonymized: Sequence[OcrLine], boxes: np.ndarray,
                  height: int, width: int) -> dict[str, Ratio]:
    """``words``, ``similarity``, ``words_in_boxes`` and ``similarity_in_boxes`` of the OCR lines of an
    original and of its anonymized image of ``height`` x ``width`` whose anonymized boxes are ``boxes``."""
    lines = [line for line in original if comparable(line.text)]
    inside = covered_fraction([line.box for line in lines], boxes, height, width) >= IN_BOXES
    counts = {name: Ratio(0, 0) for name in ("words", "similarity", "words_in_boxes", "similarity_in_boxes")}
    for line, there, in_boxes in zip(lines, same_place([line.box for line in lines], anonymized), inside,
                                     strict=True):
        found, close = words_still_read(line.text, there), Ratio(best_similarity(line.text, there), 1)
        counts["words"] += found
        counts["similarity"] += close
        if in_boxes:
            counts["words_in_boxes"] += found
            counts["similarity_in_boxes"] += close
    return counts


def text_readability(original: Sequence[OcrLine] | Missing, anonymized: Sequence[OcrLine] | Missing,
                     boxes: np.ndarray, shape: tuple[int, ...]) -> Outcome:
    """``readable_text`` as an outcome: missing when either image could not be read."""
    missing = first_missing(original, anonymized)
    if missing is not None:
        return missing
    return Measured(readable_text(original, anonymized, boxes, shape[0], shape[1]))
