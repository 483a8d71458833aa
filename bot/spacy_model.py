"""Builds the blank Swedish spaCy pipeline with the lookup lemmatizer (nothing is fetched from a hub)."""

from __future__ import annotations

import json
from pathlib import Path

import spacy
import spacy_lookups_data


def _stamp() -> str:
    return f"spacy {spacy.__version__}, spacy-lookups-data {spacy_lookups_data.__version__}"


def build(out: Path) -> bool:
    """Writes the pipeline to `out` unless the same versions built it already; True when it built."""
    meta_file = out / "meta.json"
    if meta_file.exists() and json.loads(meta_file.read_text()).get("description") == _stamp():
        return False
    nlp = spacy.blank("sv")
    # The Swedish default is the rule lemmatizer, which needs POS tags a blank pipeline lacks.
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the sv lemma lookup table from spacy-lookups-data
    nlp.meta["name"] = "sv_nara"
    nlp.meta["version"] = "1.0.0"
    nlp.meta["description"] = _stamp()
    out.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out)
    return True
