"""The blank Swedish spaCy pipeline: built locally, lemmatises with the lookup table."""

from __future__ import annotations

import spacy

from bot.spacy_model import build


def test_the_pipeline_builds_once_and_lemmatises_swedish(tmp_path):
    out = tmp_path / "sv"
    assert build(out) is True
    assert build(out) is False  # the same versions built it already
    nlp = spacy.load(out)
    lemmas = [t.lemma_ for t in nlp("barnen bråkar och skolan ringer")]
    assert lemmas == ["barn", "bråka", "och", "skola", "ringa"]
