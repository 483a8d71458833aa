"""Personal identity numbers in free text: found with the maintained `personnummer` package (date and
Luhn check digit), so that dates, order numbers and phone numbers are left alone.

Nära never asks for a personnummer; this is how one typed by mistake is kept out of a handover.
"""

from __future__ import annotations

import re

from personnummer import personnummer

PLACEHOLDER = "[personnummer]"
# 10 or 12 digits, optionally with '-', '+' or a space before the last four: YYMMDD-NNNN, YYYYMMDDNNNN...
_CANDIDATE = re.compile(r"(?<![\d-])(\d{6}|\d{8})[-+ ]?(\d{4})(?![\d-])")


def _valid(candidate: str) -> bool:
    try:
        return personnummer.valid(candidate)  # also accepts samordningsnummer (day + 60)
    except (personnummer.PersonnummerException, ValueError, TypeError):
        return False


def find_personnummer(text: str) -> list[tuple[int, int]]:
    """The spans of valid personnummer or samordningsnummer in `text`."""
    return [m.span() for m in _CANDIDATE.finditer(text or "") if _valid(m.group(0))]


def has_personnummer(text: str) -> bool:
    return bool(find_personnummer(text))


def redact_personnummer(text: str) -> str:
    for start, end in reversed(find_personnummer(text)):
        text = text[:start] + PLACEHOLDER + text[end:]
    return text
