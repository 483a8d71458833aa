"""Finds phone numbers in Swedish text, so that no answer can give a number that is not in lines.yml."""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from phonenumbers import shortnumberinfo

# Digit groups joined by single spaces or hyphens ("020-50 50 50", "114 14", "+46 13 20 60 00").
_CANDIDATE = re.compile(r"(?<![\w+])\+?\d(?:[ \-]?\d){2,15}(?!\w)")


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def looks_like_phone_number(candidate: str, region: str = "SE") -> bool:
    """True for anything libphonenumber calls a possible number, or a valid short number (112, 1177)."""
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number) or shortnumberinfo.is_valid_short_number_for_region(number, region)


def phone_numbers_in(text: str) -> list[str]:
    """Every phone-number-like run of digits in `text`, as written there."""
    return [m.group(0) for m in _CANDIDATE.finditer(text) if looks_like_phone_number(m.group(0))]


def unknown_numbers(text: str, allowed: Iterable[str]) -> list[str]:
    """The phone numbers in `text` that are not among `allowed` (compared digit by digit)."""
    allowed_digits = {digits(a) for a in allowed}
    return [n for n in phone_numbers_in(text) if digits(n) not in allowed_digits]
