"""Text normalisation shared by place matching and training-data generation."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w\s-]+")


def fold(text: str) -> str:
    """Lower case without diacritics ("Skäggetorp" -> "skaggetorp"), the way many residents type."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Folded words with punctuation removed."""
    return _NON_WORD.sub(" ", fold(text)).split()
