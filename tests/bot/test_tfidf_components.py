"""The TF-IDF/logistic-regression components trained on tiny data: rankings, metadata labels, empty input."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import coo_matrix

from bot.rasa_components.article_selector import ARTICLE_RANKING, ArticleSelector
from bot.rasa_components.intent_classifier import TfidfIntentClassifier

VOCAB = ["skola", "ensam", "barn", "vän"]


def featurised(text: str, intent: str | None = None, article: str | None = None) -> Message:
    message = Message(data={TEXT: text})
    if intent:
        message.set(INTENT, intent)
    if article:
        message.set("metadata", {"intent": {"article": article}})
    counts = np.array([[text.split().count(w) for w in VOCAB]], dtype=float)
    if text:
        message.add_features(Features(coo_matrix(counts), FEATURE_TYPE_SENTENCE, TEXT, "test"))
    return message


TRAINING = TrainingData(
    [
        featurised(t, i, a)
        for t, i, a in [
            ("skola skola barn", "school_absence", "skolfranvaro-forsta-steg"),
            ("skola barn", "school_absence", "skolfranvaro-forsta-steg"),
            ("ensam vän", "loneliness", "ensamhet-vuxen"),
            ("ensam ensam", "loneliness", "ensamhet-vuxen"),
        ]
    ]
)


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def trained(cls, storage, name):
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    component = cls.create(cls.get_default_config(), storage, Resource(name), context)
    component.train(TRAINING)
    return cls.load(cls.get_default_config(), storage, Resource(name), context)


def test_the_intent_classifier_ranks_intents_and_survives_a_reload(storage):
    classifier = trained(TfidfIntentClassifier, storage, "intents")
    [message] = classifier.process([featurised("skola skola")])
    assert message.get(INTENT)["name"] == "school_absence"
    assert [r["name"] for r in message.get(INTENT_RANKING_KEY)] == ["school_absence", "loneliness"]


def test_the_article_selector_learns_from_metadata(storage):
    selector = trained(ArticleSelector, storage, "articles")
    [message] = selector.process([featurised("ensam")])
    assert message.get(ARTICLE_RANKING)[0]["article"] == "ensamhet-vuxen"
    assert sum(r["confidence"] for r in message.get(ARTICLE_RANKING)) == pytest.approx(1, abs=1e-3)


def test_a_message_without_features_gets_no_ranking_and_falls_back(storage):
    """An empty message gets Rasa's empty intent (no name, confidence 0): FallbackClassifier, next in
    config.yml, turns it into nlu_fallback (and InputScreen then says what was wrong)."""
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

    classifier = trained(TfidfIntentClassifier, storage, "intents")
    empty, other = classifier.process([featurised(""), featurised("skola")])
    assert empty.get(INTENT) == {"name": None, "confidence": 0.0} and empty.get(INTENT_RANKING_KEY) == []
    assert other.get(INTENT)["name"] == "school_absence"
    fallback = FallbackClassifier({**FallbackClassifier.get_default_config(), "threshold": 0.4})
    [empty] = fallback.process([empty])
    assert empty.get(INTENT)["name"] == "nlu_fallback"
    selector = trained(ArticleSelector, storage, "articles")
    [empty] = selector.process([featurised("")])
    assert empty.get(ARTICLE_RANKING) is None


# TRAINING and a third label: with three or more, logistic regression is multinomial (the direct path).
THREE_TOPICS = TrainingData(
    TRAINING.training_examples
    + [
        featurised("barn barn vän", "parenting", "foraldraskap-tonaring"),
        featurised("barn vän vän", "parenting", "foraldraskap-tonaring"),
    ]
)


def test_the_direct_probabilities_are_scikit_learns(storage):
    """With three or more labels the component computes the probabilities from the fitted parameters
    itself; they must be scikit-learn's own, for any counts (zeros, repeats, words it never saw together)."""
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    config = TfidfIntentClassifier.get_default_config()
    TfidfIntentClassifier.create(config, storage, Resource("three"), context).train(THREE_TOPICS)
    classifier = TfidfIntentClassifier.load(config, storage, Resource("three"), context)
    assert classifier._direct is not None  # the direct path is the one in use
    rng = np.random.default_rng(2026)
    counts = rng.integers(0, 4, size=(200, len(VOCAB))).astype(float)
    counts[:3] = 0.0  # rows without any known word
    from scipy.sparse import csr_matrix

    features = csr_matrix(counts)
    np.testing.assert_allclose(classifier.predict_proba(features), classifier.clf.predict_proba(features), atol=1e-12)
    [message] = classifier.process([featurised("barn vän")])
    assert message.get(INTENT)["name"] == "parenting"


def test_the_sentence_features_are_stacked_once_while_no_featurizer_adds_any():
    from bot.rasa_components.tfidf_logreg import TfidfLogisticRegression

    message = featurised("skola barn")
    first = TfidfLogisticRegression._sentence_features(message)
    assert TfidfLogisticRegression._sentence_features(message) is first
    message.add_features(Features(coo_matrix(np.array([[1.0]])), FEATURE_TYPE_SENTENCE, TEXT, "another"))
    again = TfidfLogisticRegression._sentence_features(message)
    assert again is not first and again.shape == (1, len(VOCAB) + 1)


def test_the_sentence_features_are_rasas_own_stack():
    """The same matrix as Rasa's `get_sparse_features`: every sparse sentence feature of the text, in the
    order the featurizers added them; sequence features and other attributes left out."""
    from rasa.shared.nlu.constants import FEATURE_TYPE_SEQUENCE, INTENT

    from bot.rasa_components.tfidf_logreg import TfidfLogisticRegression

    message = featurised("skola barn barn")
    rng = np.random.default_rng(7)
    for origin, width in (("lexical", 3), ("chars", 6)):
        message.add_features(
            Features(coo_matrix(rng.integers(0, 3, (1, width)).astype(float)), FEATURE_TYPE_SENTENCE, TEXT, origin)
        )
        message.add_features(
            Features(coo_matrix(rng.integers(0, 3, (3, width)).astype(float)), FEATURE_TYPE_SEQUENCE, TEXT, origin)
        )
    message.add_features(Features(coo_matrix(np.ones((1, 2))), FEATURE_TYPE_SENTENCE, INTENT, "intent"))
    ours = TfidfLogisticRegression._sentence_features(message)
    rasas = message.get_sparse_features(TEXT)[1].features.tocsr()
    assert ours.shape == rasas.shape == (1, len(VOCAB) + 3 + 6)
    assert (ours != rasas).nnz == 0


@pytest.mark.parametrize("seed", range(12))
def test_one_row_stacking_is_scipys_hstack(seed):
    from scipy.sparse import hstack
    from scipy.sparse import random as sparse_random

    from bot.rasa_components.tfidf_logreg import _one_row

    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(rng.integers(1, 4)):
        width = int(rng.integers(1, 3000))
        block = sparse_random(1, width, density=float(rng.choice([0.0, 0.001, 0.05])), random_state=seed, format="coo")
        if seed % 3 == 0:
            block = coo_matrix(block.toarray().astype(np.int64))
        if seed % 4 == 1 and block.nnz:  # unsorted, with a duplicate entry: summed, as hstack does
            block = coo_matrix(
                (np.r_[block.data[::-1], 1.0], (np.zeros(block.nnz + 1, int), np.r_[block.col[::-1], block.col[0]])),
                shape=block.shape,
            )
        blocks.append(block)
    ours, scipys = _one_row(blocks), hstack(blocks, format="csr")
    assert ours.shape == scipys.shape and ours.dtype == scipys.dtype
    assert ours.has_canonical_format
    assert (ours != scipys).nnz == 0


def test_blocks_of_several_rows_go_to_hstack():
    from bot.rasa_components.tfidf_logreg import _one_row

    blocks = [coo_matrix(np.eye(2)), coo_matrix(np.ones((2, 3)))]
    assert (_one_row(blocks) != coo_matrix(np.hstack([np.eye(2), np.ones((2, 3))])).tocsr()).nnz == 0
