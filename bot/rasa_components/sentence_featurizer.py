"""Rasa's CountVectorsFeaturizer, for the message as a whole only.

Rasa's featurizer gives every text two matrices: one row per token (the *sequence* features, which DIET and
TED read) and one row for the whole text (the *sentence* features). Nära's classifiers (tfidf_logreg.py) read
only the sentence features, so here the text is counted once, as a whole; the sequence features of a text
are not made. The sentence features are Rasa's own, with the same vocabulary and the same numbers
(tests/bot/test_sentence_featurizer.py). Attributes without sentence features in Rasa (intent names, action
names) are featurized as Rasa does.

Per message this halves the featurizers' counting, which was ~10% of the Rasa server's time under load
(bench/README.md); training is shorter too.

A single message is counted without scikit-learn's `transform` around the counting: its analyzer (lowercasing,
tokens or character n-grams, exactly as `transform` makes them) is built once, the vocabulary's counts are
made here and the row is built directly in the format Rasa keeps (COO, columns in order, the vectorizer's
dtype). `transform` rebuilt the analyzer, checked the vocabulary and made a CSR matrix to convert, for every
message: ~0.3 ms for the two featurizers, ~7% of the server's time under load.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from sklearn.feature_extraction.text import CountVectorizer

from bot.rasa_components.sparse_rows import coo_row


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class SentenceCountVectorsFeaturizer(CountVectorsFeaturizer):
    def _create_features(
        self, attribute: str, all_tokens: list[list[str]]
    ) -> tuple[list[scipy.sparse.spmatrix | None], list[scipy.sparse.spmatrix | None]]:
        if attribute not in DENSE_FEATURIZABLE_ATTRIBUTES or not self.vectorizers.get(attribute):
            return super()._create_features(attribute, all_tokens)
        vectorizer = self.vectorizers[attribute]
        sentences: list[scipy.sparse.spmatrix | None] = []
        for tokens in all_tokens:
            if not tokens:
                sentences.append(None)
                continue
            sentences.append(self._count(vectorizer, " ".join(tokens)))  # the text as Rasa counts it
        return [None] * len(all_tokens), sentences

    def _count(self, vectorizer: CountVectorizer, text: str) -> scipy.sparse.coo_matrix:
        """`vectorizer.transform([text])` with sorted indices, as COO (tests/bot/test_sentence_featurizer.py)."""
        analyzers = self.__dict__.setdefault("_analyzers", {})
        cached = analyzers.get(id(vectorizer))
        if cached is None or cached[0] is not vectorizer:  # kept with its vectorizer: never another one's
            cached = analyzers[id(vectorizer)] = (vectorizer, vectorizer.build_analyzer())
        vocabulary = vectorizer.vocabulary_
        counts: dict[int, int] = {}
        for feature in cached[1](text):
            index = vocabulary.get(feature)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        columns = np.array(sorted(counts), dtype=np.int32)
        data = np.ones(len(columns), dtype=vectorizer.dtype)
        if not vectorizer.binary:
            data[:] = [counts[column] for column in columns.tolist()]
        return coo_row(data, columns, len(vocabulary))
