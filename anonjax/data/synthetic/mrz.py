"""Machine-readable zones of identity documents (ICAO Doc 9303): TD1 cards and TD3 passports."""

from __future__ import annotations

_WEIGHTS = (7, 3, 1)


def check_digit(field: str) -> str:
    """ICAO 9303 check digit: digits count as themselves, A-Z as 10-35, '<' as 0; weights 7, 3, 1."""
    total = 0
    for i, ch in enumerate(field):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - ord("A") + 10
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"character {ch!r} is not allowed in a machine-readable zone")
        total += value * _WEIGHTS[i % 3]
    return str(total % 10)


def _field(text: str, length: int) -> str:
    cleaned = "".join(ch if ch.isalnum() else "<" for ch in text.upper())
    return cleaned[:length].ljust(length, "<")


def _name(surname: str, given: str, length: int) -> str:
    return _field(f"{surname}<<{given.replace(' ', '<')}", length)


def td1(doc_number: str, state: str, surname: str, given: str, birth: str, sex: str, expiry: str,
        nationality: str) -> list[str]:
    """Three 30-character lines of an identity card; dates are YYMMDD, sex "M", "F" or "<"."""
    number = _field(doc_number, 9)
    line1 = "I<" + _field(state, 3) + number + check_digit(number) + "<" * 15
    upper = line1[5:30]
    middle = (birth + check_digit(birth) + sex + expiry + check_digit(expiry) + _field(nationality, 3)
              + "<" * 11)
    line2 = middle + check_digit(upper + middle[0:7] + middle[8:15] + middle[18:29])
    return [line1, line2, _name(surname, given, 30)]


def td3(doc_number: str, state: str, surname: str, given: str, birth: str, sex: str, expiry: str,
        nationality: str) -> list[str]:
    """Two 44-character lines of a passport data page; dates are YYMMDD, sex "M", "F" or "<"."""
    line1 = "P<" + _field(state, 3) + _name(surname, given, 39)
    number = _field(doc_number, 9)
    personal = "<" * 14
    line2 = (number + check_digit(number) + _field(nationality, 3) + birth + check_digit(birth) + sex
             + expiry + check_digit(expiry) + personal + check_digit(personal))
    return [line1, line2 + check_digit(line2[0:10] + line2[13:20] + line2[21:43])]
