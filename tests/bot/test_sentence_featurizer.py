"""Nära's sentence-only count vectors give Rasa's sentence features, and nothing else for the text."""

from __future__ import annotations

import random

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_components.sentence_featurizer import SentenceCountVectorsFeaturizer

EXAMPLES = [
    ("min son vill inte gå till skolan", "school_absence"),
    ("skolfrånvaro hos min dotter", "school_absence"),
    ("jag känner mig ensam på kvällarna", "loneliness"),
    ("ensamheten är svår", "loneliness"),
    ("min tonåring skriker och smäller i dörrar", "parenting"),
]
NEW = ["min dotter är ensam i skolan", "hemmasittare", "skriker skriker skriker", "xyzzy", "Ensam, SKOLAN!"]
CONFIGS = [
    {},
    {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
    {"use_lemma": False, "min_df": 2},
    {"min_ngram": 1, "max_ngram": 2, "lowercase": False},
]


def _tokenized(texts_and_intents) -> list[Message]:
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    messages = [Message(data={TEXT: t, **({INTENT: i} if i else {})}) for t, i in texts_and_intents]
    tokenizer.process(messages)
    return messages


def _trained(cls, config, tmp_path, name):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    featurizer = cls.create({**cls.get_default_config(), **config}, storage, Resource(name), context)
    featurizer.train(TrainingData(_tokenized(EXAMPLES)))
    return cls.load({**cls.get_default_config(), **config}, storage, Resource(name), context)


def _intent_features(message: Message) -> list:
    return [(f.type, f.features.toarray().tolist()) for f in message.features if f.attribute == INTENT]


def _features(message: Message, kind: str):
    return [f for f in message.features if f.attribute == TEXT and f.type == kind]


@pytest.mark.parametrize("config", CONFIGS)
def test_the_sentence_features_are_rasas_and_there_are_no_sequence_features(tmp_path, config) -> None:
    rasas = _trained(CountVectorsFeaturizer, config, tmp_path, "rasa")
    ours = _trained(SentenceCountVectorsFeaturizer, config, tmp_path, "ours")
    for text in NEW + [t for t, _ in EXAMPLES]:
        (theirs_message,), (our_message,) = _tokenized([(text, None)]), _tokenized([(text, None)])
        rasas.process([theirs_message])
        ours.process([our_message])
        (theirs,) = _features(theirs_message, FEATURE_TYPE_SENTENCE)
        (mine,) = _features(our_message, FEATURE_TYPE_SENTENCE)
        assert mine.features.shape == theirs.features.shape
        assert (mine.features.tocsr() != theirs.features.tocsr()).nnz == 0, text
        # The same matrix as stored, not only the same values: COO, columns in order, Rasa's dtypes.
        assert mine.features.format == theirs.features.format == "coo"
        assert mine.features.col.tolist() == theirs.features.col.tolist(), text
        assert mine.features.data.tolist() == theirs.features.data.tolist(), text
        assert (mine.features.data.dtype, mine.features.col.dtype) == (
            theirs.features.data.dtype,
            theirs.features.col.dtype,
        )
        assert _features(theirs_message, FEATURE_TYPE_SEQUENCE)
        assert _features(our_message, FEATURE_TYPE_SEQUENCE) == []


def test_training_data_gets_the_same_sentence_features_and_intents_keep_rasas(tmp_path) -> None:
    rasas = _trained(CountVectorsFeaturizer, {}, tmp_path, "rasa")
    ours = _trained(SentenceCountVectorsFeaturizer, {}, tmp_path, "ours")
    theirs_data, our_data = TrainingData(_tokenized(EXAMPLES)), TrainingData(_tokenized(EXAMPLES))
    rasas.process_training_data(theirs_data)
    ours.process_training_data(our_data)
    for theirs, mine in zip(theirs_data.training_examples, our_data.training_examples, strict=True):
        (a,) = _features(theirs, FEATURE_TYPE_SENTENCE)
        (b,) = _features(mine, FEATURE_TYPE_SENTENCE)
        assert (a.features.tocsr() != b.features.tocsr()).nnz == 0
        assert _intent_features(mine) == _intent_features(theirs) != []


@pytest.mark.parametrize("config", CONFIGS[:2] + [{"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3}])
def test_odd_texts_and_repeated_words_count_as_rasa_counts_them(tmp_path, config) -> None:
    # Words again and again (the per-word columns are remembered), case, tabs, no-break spaces, dotted
    # capital I (lowercasing lengthens it), accents, emoji, digits.
    rasas = _trained(CountVectorsFeaturizer, config, tmp_path, "rasa")
    ours = _trained(SentenceCountVectorsFeaturizer, config, tmp_path, "ours")
    rng = random.Random(3)
    alphabet = "abcdeåäöSKOLANİı ¨\t\u00a0\n-.,!0129🙂"
    texts = ["skolan skolan SKOLAN Skolan", "ensam\tensam\u00a0ensam", "İstanbul ıi", "å ä ö é ü ß"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(150)]
    for text in texts * 2:
        (theirs_message,), (our_message,) = _tokenized([(text, None)]), _tokenized([(text, None)])
        rasas.process([theirs_message])
        ours.process([our_message])
        theirs, mine = _features(theirs_message, FEATURE_TYPE_SENTENCE), _features(our_message, FEATURE_TYPE_SENTENCE)
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs, strict=True):
            assert (a.features.col.tolist(), a.features.data.tolist()) == (
                b.features.col.tolist(),
                b.features.data.tolist(),
            ), text


@pytest.mark.parametrize(
    "config",
    CONFIGS
    + [{"analyzer": "char_wb", "strip_accents": "unicode"}, {"analyzer": "char", "min_ngram": 2, "max_ngram": 3}],
)
def test_counting_any_string_gives_what_scikit_learns_transform_gives(tmp_path, config) -> None:
    # Below the tokenizer: whitespace of every kind inside the text, accents stripped (where NFKD makes
    # spaces the counting goes through scikit-learn), the same text twice.
    ours = _trained(SentenceCountVectorsFeaturizer, config, tmp_path, "ours")
    vectorizer = ours.vectorizers[TEXT]
    rng = random.Random(5)
    alphabet = "abcdeåäöSKOLANİı ¨\t\u00a0\u2003\x1c\n-.,!0129🙂"
    for text in ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(200)] * 2:
        expected = vectorizer.transform([text])
        expected.sort_indices()
        got = ours._count(vectorizer, text)
        assert (got.col.tolist(), got.data.tolist()) == (expected.indices.tolist(), expected.data.tolist()), text
