"""Rasa's CountVectorsFeaturizer, for the message as a whole only.

Rasa's featurizer gives every text two matrices: one row per token (the *sequence* features, which DIET and
TED read) and one row for the whole text (the *sentence* features). Nära's classifiers (tfidf_logreg.py) read
only the sentence features, so here the text is counted once, as a whole; the sequence features of a text
are not made. The sentence features are Rasa's own, with the same vocabulary and the same numbers
(tests/bot/test_sentence_featurizer.py). Attributes without sentence features in Rasa (intent names, action
names) are featurized as Rasa does.

Per message this halves the featurizers' counting, which was ~10% of the Rasa server's time under load
(bench/README.md); training is shorter too.
"""

from __future__ import annotations

import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer


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
            sentence = vectorizer.transform([" ".join(tokens)])  # as Rasa makes its sentence features
            sentence.sort_indices()
            sentences.append(sentence.tocoo())
        return [None] * len(all_tokens), sentences
