"""Machine-readable-zone lines (ICAO Doc 9303) that OCR still recovers from an anonymized identity document.

A string read by OCR is tried as each kind of MRZ line, after this normalization: uppercase, whitespace
removed (OCR splits filler runs), a guillemet '«' read as the two fillers '<<' it looks like. No other
character stands for '<' ('K' is a letter of names). Inside the fields ICAO defines as alphabetic (document
code, issuing state, nationality, names) a '0' is read as 'O', and inside numeric fields (dates, check digits)
an 'O' as '0': the one confusion PP-OCRv3 makes on these lines ("UT0").

- TD3 data line (passport line 2): 44 characters; the check digits of the document number, birth date,
  expiry date, personal number ('<' allowed when that field is all fillers) and the composite are valid.
- TD1 data line (card line 2): 30 characters; the check digits of birth and expiry are valid, and the
  composite when a TD1 first line was recovered from the same image (it covers that line too).
- TD1 first line: starts with A, C or I; the document number's check digit is valid.
- Name line (TD1 line 3, TD3 line 1): letters and '<' only, holding the separator '<<', at most 44
  characters. It carries no check digit, so it counts only as the exact text.

OCR shortens long filler runs, so lines that end in fillers (name lines, the TD1 first line) are compared
without their trailing '<'. A line is recovered from the anonymized image when a string read there is valid
as above and, so normalized, equals a line of the original's reference: the ground truth where the page has
it (every ground-truth line must itself be valid), else the valid lines read on the original.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Sequence

from anonjax.data.synthetic.mrz import check_digit
from anonjax.privacy.ocr import OcrLine
from anonjax.privacy.outcome import Measured, Missing, Outcome, Ratio, first_missing

TD1, TD3, NAME_MAX = 30, 44, 44
_CHARS = re.compile(r"[A-Z0-9<]+")
_NAME = re.compile(r"[A-Z][A-Z<]*<<[A-Z<]*")


def normalize(text: str) -> str:
    """``text`` as MRZ characters: uppercase, no whitespace, '«' as '<<'."""
    return "".join(text.upper().split()).replace("«", "<<")


def _fix(line: str, letters: Iterable[int] = (), digits: Iterable[int] = ()) -> str:
    chars = list(line)
    for i in letters:
        chars[i] = "O" if chars[i] == "0" else chars[i]
    for i in digits:
        chars[i] = "0" if chars[i] == "O" else chars[i]
    return "".join(chars)


def _checks(line: str, *fields: tuple[str, int]) -> bool:
    """Whether every (field, position of its check digit) pair holds the field's check digit."""
    try:
        return all(line[at] == check_digit(field) for field, at in fields)
    except ValueError:  # a character outside the MRZ alphabet
        return False


def td3_data(line: str) -> str | None:
    """The TD3 second line ``line`` corrected, or None when it is not a valid one."""
    if len(line) != TD3:
        return None
    line = _fix(line, letters=range(10, 13), digits=[9, *range(13, 20), *range(21, 28), 42, 43])
    personal = line[28:42]
    personal_ok = (line[42] == "<" and personal == "<" * 14) or _checks(line, (personal, 42))
    valid = line[20] in "MF<" and personal_ok and _checks(
        line, (line[0:9], 9), (line[13:19], 19), (line[21:27], 27), (line[0:10] + line[13:20] + line[21:43], 43))
    return line if valid else None


def td1_first(line: str) -> str | None:
    """The TD1 first line ``line`` corrected, without its trailing fillers, or None when it is not valid."""
    line = line.rstrip("<")
    if not 15 <= len(line) <= TD1 or line[0] not in "ACI":
        return None
    line = _fix(line, letters=range(5), digits=[14])
    return line if _checks(line, (line[5:14], 14)) else None


def td1_data(line: str, first_lines: Sequence[str]) -> str | None:
    """The TD1 second line ``line`` corrected, or None when it is not valid; its composite check digit is
    required to fit one of ``first_lines`` (corrected TD1 first lines of the image) when there are any."""
    if len(line) != TD1:
        return None
    line = _fix(line, letters=range(15, 18), digits=[*range(7), *range(8, 15), 29])
    if line[7] not in "MF<" or not _checks(line, (line[0:6], 6), (line[8:14], 14)):
        return None
    body = line[0:7] + line[8:15] + line[18:29]
    if first_lines and not any(_checks(line, (first.ljust(TD1, "<")[5:30] + body, 29)) for first in first_lines):
        return None
    return line


def name_line(line: str) -> str | None:
    """The name line ``line`` corrected, without its trailing fillers, or None when it is not one."""
    line = _fix(line, letters=range(len(line)))
    return line.rstrip("<") if len(line) <= NAME_MAX and _NAME.fullmatch(line) else None


def read_mrz(texts: Iterable[str]) -> list[str]:
    """The valid MRZ lines among ``texts`` (strings read by OCR), normalized as the module docstring says."""
    candidates = [line for line in map(normalize, texts) if _CHARS.fullmatch(line)]
    first_lines = [f for f in map(td1_first, candidates) if f is not None]
    found = []
    for line in candidates:
        for kind in (td3_data, lambda s: td1_data(s, first_lines), td1_first, name_line):
            read = kind(line)
            if read is not None:
                found.append(read)
                break
    return found


def mrz_reference(ground_truth: Sequence[str] | None, original: Sequence[OcrLine] | Missing) -> list[str] | Missing:
    """The lines to recover: ``ground_truth`` (normalized; ValueError if a line is not valid) where given,
    else the valid lines read on the original (missing when it could not be read)."""
    if ground_truth is None:
        return original if isinstance(original, Missing) else read_mrz(line.text for line in original)
    reference = read_mrz(ground_truth)
    if len(reference) != len(ground_truth):
        raise ValueError(f"the ground-truth MRZ lines {list(ground_truth)} are not all valid MRZ lines")
    return reference


def mrz_still_read(reference: Sequence[str], anonymized_texts: Iterable[str]) -> Ratio:
    """Reference lines (normalized, with repeats) that a valid line read on the anonymized image equals."""
    wanted, held = collections.Counter(reference), collections.Counter(read_mrz(anonymized_texts))
    return Ratio(sum(min(n, held[line]) for line, n in wanted.items()), sum(wanted.values()))


def mrz_recovery(reference: Sequence[str] | Missing, anonymized: Sequence[OcrLine] | Missing) -> Outcome:
    """``mrz_still_read`` as an outcome (ratio ``mrz``): missing when the reference or the OCR is."""
    missing = first_missing(reference, anonymized)
    if missing is not None:
        return missing
    return Measured({"mrz": mrz_still_read(reference, (line.text for line in anonymized))})
