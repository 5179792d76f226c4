"""MRZ lines: the generator's TD1 and TD3 zones validate, a corrupted character fails its check digit, and
OCR's usual slips (spaces, shortened filler runs, 0 for O) are read as documented."""

from anonjax.data.synthetic.mrz import td1, td3
from anonjax.privacy.ocr import OcrLine
from anonjax.privacy.outcome import Measured, Missing
from anonjax.privacy.readable_mrz import mrz_recovery, mrz_reference, mrz_still_read, read_mrz, td1_data, td3_data

CARD = td1("L898902C3", "UTO", "Eriksson", "Anna Maria", "740812", "F", "120415", "UTO")
PASSPORT = td3("L898902C3", "UTO", "Eriksson", "Anna Maria", "740812", "F", "120415", "UTO")


def corrupt(line: str, at: int, char: str) -> str:
    assert line[at] != char
    return line[:at] + char + line[at + 1:]


def test_generated_zones_validate():
    assert [len(line) for line in CARD] == [30, 30, 30] and [len(line) for line in PASSPORT] == [44, 44]
    assert read_mrz(CARD) == [CARD[0].rstrip("<"), CARD[1], CARD[2].rstrip("<")]
    assert read_mrz(PASSPORT) == [PASSPORT[0].rstrip("<"), PASSPORT[1]]


def test_one_corrupted_character_fails_the_check_digit():
    assert td3_data(PASSPORT[1]) == PASSPORT[1]
    for at, char in ((2, "X"), (14, "9"), (22, "0"), (9, "1")):  # number, birth, expiry, its check digit
        assert td3_data(corrupt(PASSPORT[1], at, char)) is None
    assert td1_data(CARD[1], [CARD[0]]) == CARD[1]
    assert td1_data(corrupt(CARD[1], 3, "3"), [CARD[0]]) is None  # birth date
    # The composite digit covers line 1 too: a line 2 read beside another line 1 does not validate.
    assert td1_data(CARD[1], [corrupt(CARD[0], 20, "X")]) is None
    assert read_mrz([corrupt(CARD[0], 6, "Q")]) == []  # line 1's own check digit
    assert read_mrz([corrupt(CARD[1], 10, "9"), CARD[0]]) == [CARD[0].rstrip("<")]


def test_ocr_slips_that_are_read():
    spaced = "P<UTO ERIKSSON<<ANNA<MARIA<<<"  # a space inside, the filler run cut short
    zero_for_o = PASSPORT[1].replace("UTO", "UT0")  # nationality is alphabetic
    assert read_mrz([spaced, zero_for_o]) == [PASSPORT[0].rstrip("<"), PASSPORT[1]]
    assert read_mrz(["P<UTOERIKSSON«ANNA<MARIA"]) == [PASSPORT[0].rstrip("<")]  # « is two fillers
    assert read_mrz(["Dear Mr. Eriksson,", "L898902C3", "<<<<"]) == []  # text that is no MRZ line


def test_recovery_counts_reference_lines_still_read():
    reference = mrz_reference(PASSPORT, [])
    assert mrz_still_read(reference, PASSPORT) == mrz_still_read(reference, reversed(PASSPORT))
    assert mrz_still_read(reference, [PASSPORT[1]]).hits == 1
    assert mrz_still_read(reference, [corrupt(PASSPORT[1], 2, "X")]).hits == 0
    # A name line carries no check digit: only its exact text counts.
    assert mrz_still_read(reference, [PASSPORT[0].replace("ANNA", "ANNE")]).hits == 0
    lines = [OcrLine(text, (0, 0, 1, 1), 1.0) for text in CARD]
    outcome = mrz_recovery(mrz_reference(None, lines), lines[:2])
    assert isinstance(outcome, Measured) and (outcome.ratios["mrz"].hits, outcome.ratios["mrz"].total) == (2, 3)
    assert isinstance(mrz_recovery(mrz_reference(None, Missing("OCR failed")), lines), Missing)
