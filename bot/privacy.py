"""Personal data in free text, redacted before anything is stored or logged.

`redact(text)` replaces, in this order (a span taken by one kind is not looked at again by the next):

1. e-mail addresses -> `[e-post]`: local@domain.tld, found from each '@' outwards. A malformed but obvious
   address ("anna..svensson@gmail.com") is still personal data, so no validator throws candidates away.
2. personnummer and samordningsnummer -> `[personnummer]`: 10 or 12 digits, optionally with '-', '+', '–' or a
   space before the last four, checked (date and Luhn digit) by the maintained `personnummer` package, so
   dates ("20240512"), order numbers and numbers with a wrong check digit are left alone. A 12-digit number
   must start with 18, 19 or 20 (the package takes any century). Digits that continue through '.' or ':'
   ("1606016457.098418") are a decimal or a time, not a personnummer. A bare 10-digit number that is also a
   valid personnummer is one: "0701234567" would be labelled `[personnummer]` if its check digit fitted
   (a child born 2007); it is redacted either way.
3. phone numbers -> `[telefon]`: the maintained `phonenumbers` library (libphonenumber), region SE,
   leniency VALID. POSSIBLE also takes dates ("2024-05-12"), order numbers ("123456789"), amounts
   ("1 500 000") and personnummer-like runs; STRICT_GROUPING misses groupings people do write
   ("0701-234567", "070 12 34 567"), EXACT_GROUPING also "070-1234567" and "070 1234567". VALID catches
   every way of writing a Swedish or a +-prefixed foreign number we tried, and none of the dates, years,
   amounts, ages or case numbers but the few the filters below take back. Around the library:
   - a word touching the number ("ring0701234567") does not hide it (the matcher refuses numbers touching a
     letter); hexadecimal letters do: UUIDs, hashes and Rasa's message ids are never touched;
   - the matcher gives up on a run of digit groups where another number touches the phone number
     ("Storgatan 12 070-123 45 67", "070 123 45 67 073 123 45 67", "070-123 45 67 5 gånger"); such runs
     are tried from each group that starts with 0, + or 00, longest first, and the library decides validity;
   - what VALID takes that is not a phone number is left alone: opening hours ("08.30-16.30", "0900-1200",
     "08-12 13-16"), dates "08.04.2020", amounts in groups of three ("36 020 667 270"), decimals, digits
     continuing through '.' or ':' (timestamps "02:38:04.032075", IP addresses).
   An 11-digit number starting with 46 that is a valid Swedish number ("46701234567") is taken as a number
   written without its '+'.
4. Swedish street addresses -> `[adress]`: no maintained Swedish address parser exists, so a pattern:
   a street word ending in a street suffix ("Storgatan", "Åsgatan", "Östra Ågatan", or the suffix as its
   own word after a name: "Ryds allé", "Gamla vägen") followed by a house number ("12", "12B", "12 B",
   "12-14"), optionally "lgh 1102" and a postal code and town ("582 22 Linköping"). A postal code followed
   by a capitalised town is an address on its own. Decisions on the ambiguous cases:
   - no house number, no address: "vi bor vid Storgatan", "på Ryds allé", district names are kept;
   - the bare suffix word is the ordinary noun: "ute på gatan hela natten", "ute på gatan 3 dagar" and
     "han var på gatan 3" are kept ("gatan", "vägen", "torget" alone are not a street name; "Gamla vägen 3"
     is, because a capitalised name word comes first);
   - a number followed by a unit is a quantity, not a house number: "Storgatan 3 år", "motorvägen 40 mil",
     "hållplatsen 20 minuter" are kept;
   - a house number has 1-3 digits ("Storgatan 2024" is a year);
   - suffixes that are also common nouns in compounds (torget, platsen, plan, backen, leden, stigen,
     gången, ringen, slingan, kajen, ...) only count in a capitalised word: "Stureplan 4" is an address,
     "vårdplan 2" and "parkeringsplatsen 3" are not; "gatan", "vägen", "gränd", "allé" and the other
     unambiguous suffixes count in any case ("storgatan 12");
   - a capitalised word that starts a sentence rather than a name ("Hej", "Jag", "Vi", ...) is not taken
     as part of the street name.

The allow-list: public numbers and mailboxes from knowledge/lines.yml, municipality.yml and areas.yml (and
the short numbers 112, 90101, 116 111, 1177, 114 14 even if those files cannot be read) are not personal
data and are kept, so a stored bot reply still says "ring 112" or "Kvinnofridslinjen 020-50 50 50".

Contract: the placeholders are never altered and `redact(redact(x)) == redact(x)` (the passes are repeated
until nothing changes). `None` is returned as it is (so is ""); any other non-str raises TypeError.

Speed: a message with no digit and no '@' returns after one regex search, without calling phonenumbers;
phonenumbers is called only where 7 digits stand close together. Measured with timeit on this machine
(Python 3.10, best of 5): a 195-character message with neither digit nor '@' ~2 µs; a 170-character message
with an amount, a date and a time ~30 µs; a 184-character message with a phone number, a personnummer, an
e-mail and an address ~320 µs; 10 000 characters holding 30 of each ~16 ms.

`install_log_redaction()` makes every log record in the process pass through `redact` before any handler
sees it. Nära never asks for a personnummer; this is how one typed by mistake is kept out of storage.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import phonenumbers
from personnummer import personnummer

PLACEHOLDER = "[personnummer]"
EMAIL_PLACEHOLDER = "[e-post]"
PHONE_PLACEHOLDER = "[telefon]"
ADDRESS_PLACEHOLDER = "[adress]"
PLACEHOLDERS = (EMAIL_PLACEHOLDER, PLACEHOLDER, PHONE_PLACEHOLDER, ADDRESS_PLACEHOLDER)

# ---------------------------------------------------------------------------------------------------------------
# Personnummer
# ---------------------------------------------------------------------------------------------------------------

# 10 or 12 digits, optionally with '-', '+', '–' or a space before the last four: YYMMDD-NNNN, YYYYMMDDNNNN...
# Not part of a longer number: no digit or '-' around it, no decimal point or colon between it and a digit.
_CANDIDATE = re.compile(r"(?<![\d-])(?<!\d[.:])(\d{6}|\d{8})[-+ –]?(\d{4})(?![\d-])(?![.:]\d)")
# Hexadecimal identifiers (UUIDs, hashes, Rasa's message ids) are not personal data, whatever digits they hold.
_HEX_ID = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,})(?![0-9A-Za-z])"
)


def _without_hex_ids(text: str) -> str:
    """`text` with hexadecimal identifiers blanked ('x' for each character, so every span stays the same)."""
    return _HEX_ID.sub(lambda m: "x" * len(m.group(0)), text) if len(text) >= 16 else text


def _valid(candidate: str) -> bool:
    # The package knows '-' and '+' only: a space or an en dash is the same as '-'.
    candidate = candidate.replace(" ", "-").replace("–", "-")
    if len(_digits(candidate)) == 12 and candidate[:2] not in ("18", "19", "20"):
        return False  # the package accepts any century: "126204755505" is not someone born in 1262
    try:
        return personnummer.valid(candidate)  # also accepts samordningsnummer (day + 60)
    except (personnummer.PersonnummerException, ValueError, TypeError):
        return False


def find_personnummer(text: str) -> list[tuple[int, int]]:
    """The spans of valid personnummer or samordningsnummer in `text`."""
    return [m.span() for m in _CANDIDATE.finditer(_without_hex_ids(text or "")) if _valid(m.group(0))]


def has_personnummer(text: str) -> bool:
    return bool(find_personnummer(text))


def redact_personnummer(text: str) -> str:
    for start, end in reversed(find_personnummer(text)):
        text = text[:start] + PLACEHOLDER + text[end:]
    return text


# ---------------------------------------------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------------------------------------------

# local@domain.tld, found from each '@' outwards: the local part is the run of address characters before it
# (not reaching into the address before: "x@y.se+x@y.se" is two), the domain two or more labels after it.
# A regex scanning for the local part would be quadratic on a long word; this is linear.
_LOCAL_SPECIALS = frozenset("!#$%&'*+/=?^`{|}~-._")
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)+")


def _emails(text: str) -> Iterator[tuple[int, int]]:
    """The spans of the e-mail addresses in `text`, in order."""
    floor = 0
    at = text.find("@")
    while at != -1:
        start = at
        while start > floor and (text[start - 1].isalnum() or text[start - 1] in _LOCAL_SPECIALS):
            start -= 1
        while start < at and text[start] == ".":
            start += 1
        domain = _DOMAIN.match(text, at + 1)
        if start < at and domain:
            yield start, domain.end()
            floor = domain.end()
            at = text.find("@", floor)
        else:
            floor = at + 1
            at = text.find("@", at + 1)


# ---------------------------------------------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------------------------------------------

_LENIENCY = phonenumbers.Leniency.VALID
# libphonenumber refuses a number touching a letter ("ring0701234567"); the matcher gets a copy of the text
# with such letters blanked (one character for one, so the spans stay the same). Not hexadecimal letters: in
# "7657bbc0222f4470" the digits belong to an identifier.
_LETTERS_TOUCHING_DIGIT = re.compile(r"(?<=\d)[^\W\d_]+|[^\W\d_]+(?=\d)")
_HEX_LETTERS = frozenset("abcdefABCDEF")
# Opening hours "08.30-16.30", "0900-1200", "08-12 13-16", "08 30 - 16 30": VALID reads them as numbers.
_TIME = r"(?:[01]?\d|2[0-4])(?:[.: ]?[0-5]\d)?"
_TIME_RANGE = re.compile(rf"\(?{_TIME}\s*[-–]\s*{_TIME}\)?(?:[\s,]+\(?{_TIME}\s*[-–]\s*{_TIME}\)?)*")
# Dates: "08.04.2020", "08-04-2020", "2020.04.08" (VALID reads "08.04.2020" as a Stockholm number).
_DATE = re.compile(r"(?:[0-3]?\d([./-])[01]?\d\1(?:\d{2}|\d{4})|\d{4}([./-])[01]?\d\2[0-3]?\d)")
# An amount in groups of three ("1 500 000", "46 733 493 300") and a decimal number not starting with 0.
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:[^\S\r\n]\d{3})+")
_DECIMAL = re.compile(r"(?:[1-9]\d*|0)[.,]\d+")
_NOT_DIGIT = re.compile(r"\D")
# Swedish short numbers that are never personal data, whatever the knowledge files say.
_ALWAYS_KEPT_NUMBERS = frozenset({"112", "90101", "116111", "1177", "11414"})


def _digits(text: str) -> str:
    return _NOT_DIGIT.sub("", text)


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _blank_words(match: re.Match[str]) -> str:
    letters = match.group(0)
    return letters if _HEX_LETTERS.issuperset(letters) else " " * len(letters)


def _glued(text: str, start: int, end: int) -> bool:
    """True when the digits at start:end continue a number through '.' or ':' (decimals, times, IP addresses)."""
    before = text[max(start - 2, 0) : start]
    after = text[end : end + 2]
    return (len(before) == 2 and before[1] in ".:" and before[0].isdigit()) or (
        len(after) == 2 and after[0] in ".:" and after[1].isdigit()
    )


def _not_a_number(text: str, start: int, end: int, written: str) -> bool:
    """Opening hours, a date, an amount ("46 733 493 300"), a decimal ("46837875.77"), part of a longer number."""
    return bool(
        _TIME_RANGE.fullmatch(written)
        or _DATE.fullmatch(written)
        or _THOUSANDS.fullmatch(written)
        or _DECIMAL.fullmatch(written)
    ) or _glued(text, start, end)


def _phone_matches(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, as written, E.164) of every valid phone number in `text`, in order."""
    view = _LETTERS_TOUCHING_DIGIT.sub(_blank_words, _without_hex_ids(text))
    found = []
    for match in phonenumbers.PhoneNumberMatcher(view, "SE", leniency=_LENIENCY):
        start, written = match.start, match.raw_string
        if written.startswith("(") and written.count("(") > written.count(")"):
            start, written = start + 1, written[1:]  # "(0701234567)": the bracket is not the number's
        if not _not_a_number(view, start, match.end, written):
            found.append((start, match.end, written, _e164(match.number)))
    if found:
        # The runs are looked at only where the matcher found nothing.
        pieces, position = [], 0
        for start, end, *_ in found:
            pieces.append(view[position:start])
            pieces.append(" " * (end - start))
            position = end
        pieces.append(view[position:])
        view = "".join(pieces)
    found.extend(_numbers_in_runs(view))
    return sorted(found)


# A run of digit groups joined by one space or a hyphen: where the matcher gives up when another number
# touches the phone number ("Storgatan 12 070-123 45 67", "070 123 45 67 073 123 45 67").
_DIGIT_RUN = re.compile(r"(?<![\w+(])(?:\+?\d+|\(\d+\))(?:(?:[^\S\r\n]|[^\S\r\n]?[-–][^\S\r\n]?)\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
# How Swedish numbers are written: an area code of 2-4 digits, then one hyphen or a space, then groups
# separated by spaces ("070-123 45 67", "08 123 456 78", "0701-234567"); not opening hours ("08-12 13-16").
_NATIONAL_SHAPE = re.compile(
    r"(?:0\d{1,3}(?:[^\S\r\n]?[-–][^\S\r\n]?|[^\S\r\n])|\(0\d{1,3}\)[^\S\r\n])\d+(?:[^\S\r\n]\d+)*|\+?0\d{6,9}"
)
# Parses allowed per text for the runs: a pathological text (thousands of "0 0 0") stays within ~20 ms.
_RUN_BUDGET = 1000


def _numbers_in_runs(masked: str) -> Iterator[tuple[int, int, str, str]]:
    """Valid numbers starting at a group boundary of a digit run, longest first, left to right.

    Only national numbers (0 and 6-9 more digits) and international ones ('+' or 00, 8-15 digits): an
    amount, a year or a case number does not start with 0, and the library decides what is valid.
    """
    budget = _RUN_BUDGET
    for run in _DIGIT_RUN.finditer(masked):
        groups = [g.span() for g in _DIGIT_GROUP.finditer(masked, run.start(), run.end())]
        if len(groups) == 1 and not run.group(0).startswith("+0"):
            continue  # one group: the matcher has said all there is to say
        if _THOUSANDS.fullmatch(run.group(0)):
            continue  # "36 020 667 270" is an amount
        i = 0
        while i < len(groups):
            start = run.start() if i == 0 else groups[i][0]  # with the '+' or '(' before the first group
            taken = None
            for j in _candidate_ends(masked, groups, i, start):
                budget -= 1
                if budget < 0:
                    return
                written = masked[start : groups[j][1]]
                number = None if _not_a_number(masked, start, groups[j][1], written) else _valid_number(written)
                if number is not None:
                    taken = j
                    yield start, groups[j][1], written, _e164(number)
                    break
            i = i + 1 if taken is None else taken + 1


def _candidate_ends(masked: str, groups: list[tuple[int, int]], i: int, start: int) -> list[int]:
    """The last groups j (longest first) for which groups i..j could be one phone number."""
    if masked[start] == "+" or masked.startswith("00", start):
        low, high = 8, 15
    elif masked[start] == "0" or masked.startswith("(0", start):
        low, high = 7, 10
    else:
        return []
    ends, digits = [], 0
    for j in range(i, len(groups)):
        digits += groups[j][1] - groups[j][0]
        if digits > high:
            break
        if digits >= low:
            ends.append(j)
    return ends[::-1]


def _valid_number(written: str) -> phonenumbers.PhoneNumber | None:
    international = written.startswith(("+", "00")) and not written.startswith("+0")
    if not (international or _NATIONAL_SHAPE.fullmatch(written)):
        return None
    try:
        number = phonenumbers.parse(written[1:] if written.startswith("+0") else written, "SE")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


# ---------------------------------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------------------------------

_UPPER = "A-ZÅÄÖÆØÜÉÈ"
_SPACE = r"[^\S\r\n]"  # a space that does not end the line
# Suffixes that make a street name in any case ("storgatan 12"), longest first so that "gatan" wins over "gata".
_STRONG_SUFFIXES = (
    "esplanaden",
    "promenaden",
    "gränden",
    "gatan",
    "gata",
    "vägen",
    "väg",
    "gränd",
    "allén",
    "allé",
)
# Suffixes that are also common nouns in compounds ("vårdplan", "hållplatsen", "pulkabacken"): only in a
# capitalised word ("Stureplan", "Järntorget").
_WEAK_SUFFIXES = (
    "stranden",
    "platsen",
    "slingan",
    "stigen",
    "gången",
    "torget",
    "backen",
    "ringen",
    "liden",
    "leden",
    "kajen",
    "planen",
    "allen",
    "strand",
    "plats",
    "backe",
    "stig",
    "torg",
    "plan",
    "alle",
    "kaj",
    "led",
)
_SUFFIX = "|".join(sorted(_STRONG_SUFFIXES + _WEAK_SUFFIXES, key=len, reverse=True))
_HOUSE_NUMBER = rf"[1-9]\d{{0,2}}(?:{_SPACE}?[-–]{_SPACE}?[1-9]\d{{0,2}})?(?:[a-zA-Z](?!\w)|{_SPACE}[A-H](?!\w))?"
_POSTAL_CODE = r"[1-9]\d{2}(?:[^\S\r\n])?\d{2}(?!\d)"
_TOWN = rf"(?-i:[{_UPPER}])[\w-]*"
_STREET_ADDRESS = re.compile(
    rf"""
    (?<![^\W\d_])(?<![:.'’-])     # not inside a word; after a digit is fine ("12Storgatan 12" is two)
    (?P<names>(?:(?-i:[{_UPPER}])[\w'’:.-]*{_SPACE}+){{0,3}})   # name words before: "Östra", "Ryds", "S:t"
    (?P<word>(?:[^\W\d_][\w'’-]*?)?(?P<suffix>{_SUFFIX}))       # the word that ends in a street suffix
    {_SPACE}+(?P<number>{_HOUSE_NUMBER})(?!\d)(?![.:,]\d)
    (?P<flat>,?{_SPACE}*(?:lgh|lägenhet|lägenhetsnummer)\.?{_SPACE}*(?:nr\.?{_SPACE}*)?\d{{4}}(?!\d))?
    (?P<postal>,?{_SPACE}*{_POSTAL_CODE}(?:{_SPACE}+{_TOWN})?)?
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Every street address has a word ending in a suffix, a space and a digit: a cheap look before the full pattern
# (an alternation of 30 suffixes tried at every character is what costs).
_WORD_SPACE_DIGIT = re.compile(rf"(?<=[^\W\d_]){_SPACE}+[1-9]")
_ALL_SUFFIXES = _STRONG_SUFFIXES + _WEAK_SUFFIXES


def _may_hold_a_street(text: str) -> bool:
    return any(
        text[max(m.start() - 10, 0) : m.start()].lower().endswith(_ALL_SUFFIXES)
        for m in _WORD_SPACE_DIGIT.finditer(text)
    )


_POSTAL_ADDRESS = re.compile(rf"(?<!\w)(?<!\d{_SPACE}){_POSTAL_CODE}{_SPACE}+(?P<town>{_TOWN})")
# Capitalised words that start a sentence rather than a street name ("Hej Storgatan 12" keeps "Hej").
_NOT_NAMES_TEXT = """
    hej hejsan tja hallå jag vi du ni han hon hen de dom det den denna detta min mitt mina din ditt dina vår
    vårt våra er ert era hans hennes deras och men eller så sen sedan då nu här där när om att i på vid till
    från efter före mot med utan under över bakom nära hos ute inne en ett hela alla varje bor bodde flyttade
    flytta adress adressen gatuadress hemadress postadress ring mejla skriv kom gå ta tack ja nej
    snälla mamma pappa idag igår imorgon
"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
# A number followed by one of these is a quantity, not a house number ("gatan 3 dagar", "Storgatan 3 år").
_UNITS_TEXT = """
    dag dagar dygn dygnet natt nätter vecka veckor veckan månad månader mån år års åren gång gånger ggr
    timme timmar tim h min minut minuter minuters sekunder km mil m meter kg kr kronor kronors sek
    st stycken styck procent personer pers barn ungdomar vuxna våningar trappor tr gr grader
"""
_UNITS = frozenset(_UNITS_TEXT.split())
_NEXT_WORD = re.compile(rf"{_SPACE}*([^\W\d_]+|%)")
_STRONG = frozenset(_STRONG_SUFFIXES)


def _street_start(match: re.Match[str], text: str) -> int | None:
    """Where the street address in `match` starts, or None when it is not one."""
    word, suffix = match.group("word"), match.group("suffix").lower()
    after = _NEXT_WORD.match(text, match.end("number"))
    if after and after.group(1).lower() in _UNITS:
        return None
    # Name words before the street word, without the sentence words ("Hej", "Jag") and anything before them.
    start = match.end("names")
    for name in reversed(list(re.finditer(r"\S+", match.group("names")))):
        bare = name.group(0)
        if bare.lower().rstrip(":,.") in _NOT_NAMES or (bare.endswith(".") and len(bare) > 4):
            break
        start = match.start("names") + name.start()
    has_names = start < match.end("names")
    bare_suffix = word.lower() == suffix
    if bare_suffix and not has_names:
        return None  # "gatan", "vägen", "torget" alone are the ordinary nouns
    capitalised = word[0].isupper() or has_names
    if suffix not in _STRONG and not capitalised:
        return None  # "vårdplan 2", "hållplatsen 3"
    return start


# ---------------------------------------------------------------------------------------------------------------
# The allow-list
# ---------------------------------------------------------------------------------------------------------------

_KNOWLEDGE_FILES = ("lines.yml", "municipality.yml", "areas.yml")


@dataclass(frozen=True)
class Allowlist:
    """Public numbers (E.164, or the digits of a short number) and e-mail addresses (lower case) to keep."""

    numbers: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()

    @classmethod
    def of(cls, values: Iterable[str]) -> Allowlist:
        """From numbers and addresses as written anywhere: "020-50 50 50", "+46 13 20 60 00", "112", "a@b.se"."""
        numbers: set[str] = set()
        emails: set[str] = set()
        for value in values:
            emails.update(value[start:end].lower() for start, end in _emails(value))
            numbers.update(e164 for *_, e164 in _phone_matches(value))
            whole = value.strip()
            if re.fullmatch(r"\+?[\d\s()-]+", whole) and len(_digits(whole)) >= 3:
                numbers.add(_digits(whole))  # a short number as a whole value: "116 111"
                with contextlib.suppress(phonenumbers.NumberParseException):
                    numbers.add(_e164(phonenumbers.parse(whole, "SE")))
        return cls(frozenset(numbers), frozenset(emails))

    def keeps_number(self, written: str, e164: str) -> bool:
        return e164 in self.numbers or _digits(written) in self.numbers or _digits(written) in _ALWAYS_KEPT_NUMBERS

    def keeps_email(self, address: str) -> bool:
        return address.lower() in self.emails


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield str(value)  # `number: 112` without quotes


def allowlist_from_knowledge(root: Path | None = None) -> Allowlist:
    """Every number and e-mail address written in lines.yml, municipality.yml and areas.yml.

    A file that cannot be read adds nothing (the short numbers in _ALWAYS_KEPT_NUMBERS are kept anyway):
    this runs inside logging, where raising is not an option.
    """
    # Imported here: only the first redaction pays for the knowledge files.
    import yaml

    from knowledge.loader import knowledge_dir

    root = root or knowledge_dir()
    values: list[str] = []
    for name in _KNOWLEDGE_FILES:
        try:
            with (root / name).open(encoding="utf-8") as handle:
                values.extend(_strings(yaml.safe_load(handle)))
        except (OSError, yaml.YAMLError):
            continue
    return Allowlist.of(values)


@functools.lru_cache(maxsize=1)
def default_allowlist() -> Allowlist:
    """The knowledge base's allow-list, read once per process on first use."""
    return allowlist_from_knowledge()


# ---------------------------------------------------------------------------------------------------------------
# redact
# ---------------------------------------------------------------------------------------------------------------

_TRIGGER = re.compile(r"[\d@]")
# A phone number has at least 7 digits (+290 1234 is the shortest in use), with at most 3 characters between
# two of them ("070 - 123", "+46 (0)70"): without such a stretch the matcher is not called ("den 12/5 kl 14.30").
_PHONE_HINT = re.compile(r"\d(?:\D{0,3}\d){6}")


def _replace(text: str, spans: Iterable[tuple[int, int]], placeholder: str) -> str:
    parts: list[str] = []
    position = 0
    for start, end in spans:
        parts.append(text[position:start])
        parts.append(placeholder)
        position = end
    if not parts:
        return text
    parts.append(text[position:])
    return "".join(parts)


def _redact_emails(text: str, keep: Allowlist) -> str:
    if "@" not in text:
        return text
    spans = ((start, end) for start, end in _emails(text) if not keep.keeps_email(text[start:end]))
    return _replace(text, spans, EMAIL_PLACEHOLDER)


def _redact_phones(text: str, keep: Allowlist) -> str:
    if not _PHONE_HINT.search(text):
        return text
    spans = ((s, e) for s, e, written, e164 in _phone_matches(text) if not keep.keeps_number(written, e164))
    return _replace(text, spans, PHONE_PLACEHOLDER)


def _redact_addresses(text: str) -> str:
    if _may_hold_a_street(text):
        spans = []
        for match in _STREET_ADDRESS.finditer(text):
            start = _street_start(match, text)
            if start is not None:
                spans.append((start, match.end()))
        text = _replace(text, spans, ADDRESS_PLACEHOLDER)
    spans = [m.span() for m in _POSTAL_ADDRESS.finditer(text) if m.group("town").lower() not in _NOT_NAMES]
    return _replace(text, spans, ADDRESS_PLACEHOLDER)


@overload
def redact(text: str, *, keep: Allowlist | None = None) -> str: ...
@overload
def redact(text: None, *, keep: Allowlist | None = None) -> None: ...
def redact(text: str | None, *, keep: Allowlist | None = None) -> str | None:
    """`text` with e-mail addresses, personnummer, phone numbers and street addresses replaced.

    `keep` is what is not personal data; by default the public numbers and mailboxes of the knowledge base
    (`default_allowlist()`); `Allowlist()` keeps nothing but the emergency short numbers.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError(f"redact() takes a str or None, not {type(text).__name__}")
    if not _TRIGGER.search(text):
        return text  # every kind needs a digit or an '@'
    if len(text) >= 16 and _HEX_ID.fullmatch(text):
        return text  # an identifier and nothing else (a message id: every user event has one), never personal
    keep = default_allowlist() if keep is None else keep
    # Until nothing changes: a placeholder can change what a detector sees next to it ("Linköping+46 70 ..."
    # is a number once the town is "[adress]"), and the result must be what a second redact() would give.
    # Every change replaces at least one digit or '@' and no placeholder has one, so this ends; in practice
    # after one pass (nothing found) or two.
    while True:
        redacted = _redact_once(text, keep)
        if redacted == text:
            return text
        text = redacted


def _redact_once(text: str, keep: Allowlist) -> str:
    text = _redact_emails(text, keep)
    text = redact_personnummer(text)
    text = _redact_phones(text, keep)
    return _redact_addresses(text)


# ---------------------------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------------------------

_MARK = "_nara_redacting"
_install_lock = threading.Lock()
_inside = threading.local()


def _redact_record(record: logging.LogRecord) -> None:
    if getattr(_inside, "active", False):
        return  # a record logged while redacting (by a library) is not redacted again: no recursion
    _inside.active = True
    try:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the handler's to report, as without us
            return
        redacted = redact(message)
        if record.args or redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            # Exception messages carry user text too; Formatter uses exc_text when it is set.
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    except Exception:  # logging must never fail because of redaction
        pass
    finally:
        _inside.active = False


def install_log_redaction() -> None:
    """Makes every log record of the process redacted before any handler sees it.

    Wraps the current LogRecordFactory; installing again while ours is the current factory does nothing.
    """
    with _install_lock:
        current = logging.getLogRecordFactory()
        if getattr(current, _MARK, False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = current(*args, **kwargs)
            _redact_record(record)
            return record

        setattr(factory, _MARK, True)
        factory.wrapped = current  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)
