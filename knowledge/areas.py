"""Where a resident lives: recognising a place in free text and finding the nearest area team."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from knowledge.model import District, Knowledge, Team
from knowledge.text import fold, words

EARTH_RADIUS_KM = 6371.0088
# Fuzzy matching only for words this long: short ones ("berg", "ryd") must match exactly, or everyday
# words would be taken for places.
FUZZY_MIN_LENGTH = 5
FUZZY_MIN_SCORE = 86
_NOT_KEPT = re.compile(r"[\d@]")
LOOKUPS_MAX = 20_000  # word groups whose lookup is remembered, per key list; then it starts again
# "jag bor i X", "vi bor ute på X", "bor vid X": the word after is a place the resident names.
_LIVES_IN = re.compile(
    r"\b(?:bor|bo|boende|hemma|flyttat|flyttade)\b(?:\s+\w+){0,2}?\s+(?:i|pa|vid|ute i|ute pa)\s+(\w[\w-]*)"
)
_NOT_PLACES = {
    "en",
    "ett",
    "min",
    "mitt",
    "var",
    "lagenhet",
    "hus",
    "huset",
    "villa",
    "radhus",
    "stan",
    "kommunen",
    "omradet",
    "samma",
    "sverige",
    "linkoping",
    "norra",
    "sodra",
    "ostra",
    "vastra",
    "med",
}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def team_for(district: District, knowledge: Knowledge) -> Team:
    """The district's own team, else the team whose office is nearest the district's centroid."""
    if district.team:
        return knowledge.teams[district.team]
    return min(
        knowledge.teams.values(),
        key=lambda team: haversine_km(district.lat, district.lon, team.lat, team.lon),
    )


@dataclass(frozen=True)
class Place:
    """A place found in a message: a district of the municipality, or a place outside it or unknown."""

    kind: str  # "district" | "outside" | "unknown"
    name: str  # canonical district name, or the place as the resident wrote it
    district: District | None = None
    team: Team | None = None
    words: tuple[str, ...] = ()  # the folded words of the message that named the place


class PlaceResolver:
    """Finds the place a message names; built once from the areas data, then cheap per message."""

    def __init__(self, knowledge: Knowledge):
        self._knowledge = knowledge
        self._districts: dict[str, District] = {}
        for district in knowledge.districts:
            for name in (district.name, *district.aliases):
                self._districts[fold(name)] = district
        self._outside = {fold(name): name for name in knowledge.outside}
        self._district_keys = list(self._districts)
        self._outside_keys = list(self._outside)
        self._found: dict[int, dict[str, str | None]] = {}  # id of a key list -> word group -> key or None
        self._max_ngram = max(len(k.split()) for k in [*self._district_keys, *self._outside_keys])
        # The words of "jag bor i {place}"-style phrasings: a message of only these and a place says
        # where the resident lives and nothing else.
        self._filler = {w for template in knowledge.place_phrasing for w in words(template.replace("{place}", " "))}

    def _grams(self, tokens: list[str]) -> list[tuple[str, int]]:
        """Word n-grams, longest first, so "berga centrum" wins over "berga"."""
        grams = []
        for n in range(min(self._max_ngram, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                grams.append((" ".join(tokens[i : i + n]), n))
        return grams

    def _lookup(self, gram: str, keys: list[str]) -> str | None:
        """The key `gram` names, or None. Remembered per word group (most messages repeat everyday words, and
        each one was compared with every key by the fuzzy match): the same answer, ~23 lookups a message."""
        found = self._found.setdefault(id(keys), {})
        if gram in found:
            return found[gram]
        key = self._find(gram, keys)
        if not _NOT_KEPT.search(gram):  # never a personnummer, phone number or e-mail address in the table
            if len(found) >= LOOKUPS_MAX:
                found.clear()
            found[gram] = key
        return key

    @staticmethod
    def _find(gram: str, keys: list[str]) -> str | None:
        for candidate in (gram, gram[:-1] if gram.endswith("s") else None):  # genitive: "ryds", "bergas"
            if candidate and candidate in keys:
                return candidate
        if len(gram) >= FUZZY_MIN_LENGTH:
            best = process.extractOne(gram, keys, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN_SCORE)
            if best:
                return best[0]
        return None

    def resolve(self, text: str) -> Place | None:
        """The place `text` names, or None when it names none."""
        tokens = words(text)
        if not tokens:
            return None
        grams = self._grams(tokens)
        for keys, kind in ((self._district_keys, "district"), (self._outside_keys, "outside")):
            for gram, _ in grams:
                key = self._lookup(gram, keys)
                if key is None:
                    continue
                if kind == "district":
                    district = self._districts[key]
                    team = team_for(district, self._knowledge)
                    return Place("district", district.name, district, team, tuple(gram.split()))
                return Place("outside", self._outside[key], words=tuple(gram.split()))
        match = _LIVES_IN.search(" ".join(tokens))
        if match and match.group(1) not in _NOT_PLACES:
            return Place("unknown", _as_written(text, match.group(1)), words=(match.group(1),))
        return None

    def says_only_where(self, text: str, place: Place) -> bool:
        """True when `text` is the place and at most the words people use to say they live there."""
        return set(words(text)) - set(place.words) <= self._filler


def _as_written(text: str, folded_word: str) -> str:
    """The resident's own spelling of a word we found in the folded text."""
    for word in re.findall(r"[\w-]+", text):
        if fold(word) == folded_word:
            return word[:1].upper() + word[1:]
    return folded_word.capitalize()
