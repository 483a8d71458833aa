"""Training data generated from the knowledge base: complete, split without leaks, loadable by Rasa."""

from __future__ import annotations

from knowledge.export import (
    PLACE_INTENT,
    article_examples,
    augment,
    export_training_data,
    place_examples,
    split,
)
from knowledge.text import fold


def test_every_article_example_becomes_a_retrieval_example(kb):
    examples = article_examples(kb)
    for article in kb.articles.values():
        texts = {e.text for e in examples if e.label == f"{article.topic}/{article.id}"}
        assert texts == set(article.examples)


def test_place_examples_use_every_phrasing_and_stay_few(kb):
    examples = place_examples(kb)
    for template in kb.place_phrasing:
        prefix = template.split("{place}")[0]
        assert any(e.text.startswith(prefix) for e in examples), template
    # Balanced against the topics: no flood of place names (PlaceExtractor recognises the places).
    assert len(examples) <= 2 * len(kb.place_phrasing)


def test_the_split_is_disjoint_stable_and_holds_out_every_label(kb):
    examples = article_examples(kb) + place_examples(kb)
    train, held_out = split(examples)
    assert {(e.label, e.text) for e in train}.isdisjoint({(e.label, e.text) for e in held_out})
    assert {e.label for e in held_out} == {e.label for e in examples}
    # The held-out part does not depend on the order the examples come in.
    assert set(split(list(reversed(examples)))[1]) == set(held_out)


def test_augmentation_adds_folded_variants_only_of_what_it_is_given(kb):
    train, held_out = split(article_examples(kb))
    augmented = augment(train)
    assert any(e.text != fold(e.text) for e in train)
    assert {fold(e.text) for e in train} <= {e.text for e in augmented}
    held = {e.text for e in held_out}
    assert not ({e.text for e in augmented} - {e.text for e in train}) & held


def test_the_written_file_is_rasa_training_data_labelled_with_articles(kb, tmp_path):
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.rasa_components.article_selector import article_of

    data = load_data(str(export_training_data(kb, tmp_path)))
    assert data.intents == {a.topic for a in kb.articles.values()} | {PLACE_INTENT}
    assert not data.retrieval_intents
    for message in data.intent_examples:
        article = article_of(message)
        if message.get("intent") == PLACE_INTENT:
            assert article is None
        else:
            assert kb.articles[article].topic == message.get("intent")
    assert {article_of(m) for m in data.intent_examples} - {None} == set(kb.articles)
