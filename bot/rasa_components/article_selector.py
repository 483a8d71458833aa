"""Which curated article answers a message: TF-IDF and logistic regression over the pipeline's features.

Trained on the examples generated from knowledge/ (each carries `metadata: {article: <id>}`). It writes
`article_ranking` — [{"article": id, "confidence": p}, ...] — to the parse data; actions/selection.py
decides from it whether to answer or to ask. It replaces Rasa's ResponseSelector, which needs retrieval
intents: with an answering custom action those leave `rasa data validate` warnings that cannot be
fixed in 3.6, and on held-out examples it chose the right article less often (reports/).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, vstack

logger = logging.getLogger(__name__)
ARTICLE_RANKING = "article_ranking"


def article_of(message: Message) -> str | None:
    """The article a training example belongs to, from its intent metadata."""
    metadata = message.get("metadata") or {}
    return ((metadata.get("intent") or {}).get("article")) if isinstance(metadata, dict) else None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ArticleSelector(GraphComponent):
    """Ranks the knowledge base's articles for a message."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 10.0, "max_iter": 2000, "ranking_length": 5, "random_state": 2026}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource, clf=None):
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.clf = clf

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ArticleSelector:
        return cls(config, model_storage, resource)

    @staticmethod
    def _features(messages: list[Message]) -> csr_matrix:
        rows = []
        for message in messages:
            sentence = message.get_sparse_features(TEXT)[1]
            rows.append(csr_matrix(sentence.features) if sentence is not None else None)
        width = max((r.shape[1] for r in rows if r is not None), default=0)
        return vstack([r if r is not None else csr_matrix((1, width)) for r in rows]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        examples = [m for m in training_data.intent_examples if article_of(m) and m.get(TEXT)]
        if not examples:
            logger.debug("No examples with an article: ArticleSelector stays untrained.")
            return self._resource
        self.clf = make_pipeline(
            TfidfTransformer(sublinear_tf=True),
            LogisticRegression(
                C=self.config["C"],
                max_iter=self.config["max_iter"],
                class_weight="balanced",
                random_state=self.config["random_state"],
            ),
        )
        self.clf.fit(self._features(examples), [article_of(m) for m in examples])
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.clf is None:
            return messages
        probabilities = self.clf.predict_proba(self._features(messages))
        classes = list(self.clf.classes_)
        for message, row in zip(messages, probabilities, strict=True):
            ranked = sorted(zip(classes, row, strict=True), key=lambda pair: -pair[1])[: self.config["ranking_length"]]
            ranking = [{"article": str(a), "confidence": round(float(p), 4)} for a, p in ranked]
            message.set(ARTICLE_RANKING, ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as model_dir:
            sio.dump(self.clf, model_dir / "article_selector.skops")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ArticleSelector:
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as model_dir:
                path = model_dir / "article_selector.skops"
                untrusted = sio.get_untrusted_types(file=path)
                # Our own file; still, only scikit-learn, NumPy and SciPy types may be loaded from it.
                if any(not t.startswith(("sklearn.", "numpy.", "scipy.")) for t in untrusted):
                    raise ValueError(f"unexpected types in {path}: {untrusted}")
                return cls(config, model_storage, resource, sio.load(path, trusted=untrusted))
        except ValueError:
            logger.warning("ArticleSelector has no trained model; it will rank nothing.")
            return cls(config, model_storage, resource)
