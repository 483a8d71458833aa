"""Is a message in Swedish? Decides when Nära says "jag förstår bara svenska än så länge"."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml
from lingua import Language, LanguageDetectorBuilder
from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.sv.stop_words import STOP_WORDS as SV_STOP_WORDS

from knowledge.text import fold, words

URGENT_WORDS_FILE = Path(__file__).resolve().parent / "data" / "urgent_words.yml"
# Nordic neighbours are read as Swedish: a short Swedish message without å/ä/ö often looks Danish or
# Norwegian to a detector, and a Dane or Norwegian is understood anyway.
_SWEDISH_LIKE = {Language.SWEDISH, Language.DANISH, Language.BOKMAL, Language.NYNORSK}
_CANDIDATES = [
    *_SWEDISH_LIKE,
    Language.ENGLISH,
    Language.ARABIC,
    Language.SOMALI,
    Language.PERSIAN,
    Language.FINNISH,
    Language.GERMAN,
    Language.SPANISH,
    Language.POLISH,
    Language.TURKISH,
    Language.BOSNIAN,
    Language.CROATIAN,
    Language.SERBIAN,
    Language.FRENCH,
    Language.UKRAINIAN,
    Language.RUSSIAN,
]
# Latin-script text is only called foreign when the detector is this sure and the message has some words:
# one or two words ("hej", "ensam") are too short to judge.
MIN_WORDS = 3
MIN_CONFIDENCE = 0.6
_EN_ONLY = {w for w in EN_STOP_WORDS if w not in SV_STOP_WORDS and len(w) > 1}
_SV_FOLDED = {fold(w) for w in SV_STOP_WORDS}


@dataclass(frozen=True)
class LanguageGuess:
    swedish: bool
    language: str  # lower-case English name ("english", "arabic", ...), "swedish" when Swedish-like
    urgent: bool = False


@functools.lru_cache(maxsize=1)
def _detector():
    # All models loaded at once (~1.7 s, ~480 MB): lazily, the first message that needed the detector waited
    # ~2 s for them, and the first Arabic or Russian one again.
    return LanguageDetectorBuilder.from_languages(*_CANDIDATES).with_preloaded_language_models().build()


def warm_up() -> None:
    """Loads the detector now, at start-up, not on a resident's first message that needs it."""
    _detector()


@functools.lru_cache(maxsize=1)
def _urgent_words() -> tuple[str, ...]:
    raw = yaml.safe_load(URGENT_WORDS_FILE.read_text(encoding="utf-8"))
    return tuple(w.lower() for group in raw.values() for w in group)


def _urgent(text: str) -> bool:
    lowered = text.lower()
    return any(w in lowered for w in _urgent_words())


def _letters(text: str) -> list[str]:
    return [c for c in text if c.isalpha()]


def _non_latin_share(letters: list[str]) -> float:
    non_latin = sum(1 for c in letters if "LATIN" not in unicodedata.name(c, "LATIN"))
    return non_latin / len(letters) if letters else 0.0


def guess(text: str) -> LanguageGuess:
    """Swedish unless the message is clearly in another language or script."""
    if _non_latin_share(_letters(text)) > 0.5:
        detected = _detector().detect_language_of(text)
        return LanguageGuess(False, detected.name.lower() if detected else "unknown", _urgent(text))
    tokens = words(text)
    if len(tokens) < MIN_WORDS:
        return LanguageGuess(True, "swedish")
    english_words = sum(1 for t in tokens if t in _EN_ONLY)
    swedish_words = sum(1 for t in tokens if t in _SV_FOLDED)
    if swedish_words > english_words:  # most messages end here, without running the detector
        return LanguageGuess(True, "swedish")
    top = _detector().compute_language_confidence_values(text)[0]
    if top.language in _SWEDISH_LIKE:
        return LanguageGuess(True, "swedish")
    if english_words >= 2 or top.value >= MIN_CONFIDENCE:
        return LanguageGuess(False, top.language.name.lower(), _urgent(text))
    return LanguageGuess(True, "swedish")
