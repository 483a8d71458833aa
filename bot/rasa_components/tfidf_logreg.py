"""TF-IDF and logistic regression over the pipeline's sparse sentence features: the shared machinery of
Nära's two classifiers, TfidfIntentClassifier (which intent) and ArticleSelector (which article).

Small, fast and well calibrated enough to tell a sure answer from a guess on a few dozen examples per
label; the subclasses only say what the label is and where the result goes.
"""

from __future__ import annotations

import abc
import logging
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack, vstack

from bot.rasa_components.sparse_rows import csr_row

logger = logging.getLogger(__name__)
_SENTENCE_CACHE = "_nara_sentence_features"  # (number of features on the message, their sentence matrix)


def _one_row(blocks: list[Any]) -> csr_matrix:
    """`hstack(blocks, format="csr")` for blocks of one row each (a message's sentence features), without
    scipy's general block machinery (~3% of the Rasa server's time under load); other shapes go to hstack."""
    if any(block.shape[0] != 1 for block in blocks):
        return hstack(blocks, format="csr")
    rows = [block.tocoo() for block in blocks]
    offsets = np.cumsum([0] + [block.shape[1] for block in rows])
    columns = np.concatenate([row.col.astype(np.int64) + offset for row, offset in zip(rows, offsets, strict=False)])
    data = np.concatenate([row.data for row in rows])
    return csr_row(data, columns, int(offsets[-1]))  # canonical, as hstack's: sorted columns, each once


class TfidfLogisticRegression(GraphComponent, abc.ABC):
    """Trains on (features, label) pairs; ranks labels with their probabilities."""

    MODEL_FILE = "model.skops"

    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 10.0, "max_iter": 2000, "ranking_length": 10, "random_state": 2026}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource, clf=None):
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.clf = clf
        self._direct = self._direct_parameters() if clf is not None else None

    @staticmethod
    @abc.abstractmethod
    def label_of(message: Message) -> str | None:
        """The label a training example teaches, or None to leave it out."""

    @abc.abstractmethod
    def write(self, message: Message, ranking: list[tuple[str, float]]) -> None:
        """Puts the ranking (best first) on the message."""

    def write_nothing(self, message: Message) -> None:
        """What a message without features (an empty one) gets: nothing, unless a subclass says otherwise."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TfidfLogisticRegression:
        return cls(config, model_storage, resource)

    @staticmethod
    def _sentence_features(message: Message) -> csr_matrix | None:
        # Rasa stacks the featurizers' matrices anew on every call; both of Nära's classifiers need the same
        # stack, so it is kept on the message while no featurizer adds to it.
        cached = getattr(message, _SENTENCE_CACHE, None)
        if cached is not None and cached[0] == len(message.features):
            return cached[1]
        # What Rasa's `message.get_sparse_features(TEXT)[1]` gives, in one stack: Rasa also stacks the
        # (larger) sequence features, and pairwise (tests/bot/test_tfidf_components.py compares the two).
        blocks = [
            f.features
            for f in message.features
            if f.attribute == TEXT and f.is_sparse() and f.type == FEATURE_TYPE_SENTENCE
        ]
        features = _one_row(blocks) if blocks else None
        setattr(message, _SENTENCE_CACHE, (len(message.features), features))
        return features

    def predict_proba(self, features: csr_matrix) -> np.ndarray:
        """The pipeline's probabilities, computed directly from its fitted parameters when it is the usual
        TF-IDF + multinomial logistic regression: scikit-learn's checks cost ~1.9 ms a message, the sums
        themselves microseconds (the same numbers: tests/bot/test_tfidf_components.py)."""
        if self._direct is None:
            return self.clf.predict_proba(features)
        idf, sublinear, coef_t, intercept = self._direct
        x = features.tocsr()
        scores = np.empty((x.shape[0], coef_t.shape[1]))
        for row in range(x.shape[0]):  # row by row on the non-zero counts: no sparse-matrix machinery
            start, end = x.indptr[row], x.indptr[row + 1]
            columns = x.indices[start:end]
            values = x.data[start:end].astype(np.float64)
            if sublinear:
                values = np.log(values) + 1.0
            values *= idf[columns]
            norm = np.sqrt(values @ values)
            if norm > 0.0:
                values /= norm
            scores[row] = values @ coef_t[columns] + intercept
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return scores / scores.sum(axis=1, keepdims=True)

    def _direct_parameters(self) -> tuple[np.ndarray, bool, np.ndarray, np.ndarray] | None:
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.linear_model import LogisticRegression

        steps = [step for _, step in getattr(self.clf, "steps", [])]
        if (
            len(steps) != 2
            or not isinstance(steps[0], TfidfTransformer)
            or not isinstance(steps[1], LogisticRegression)
        ):
            return None
        tfidf, lr = steps
        multinomial = lr.multi_class == "multinomial" or (
            lr.multi_class == "auto" and lr.classes_.size > 2 and lr.solver != "liblinear"
        )
        if not multinomial or tfidf.norm != "l2" or not tfidf.use_idf:
            return None
        # The weights transposed and contiguous once: `x @ coef_.T` would copy them on every message.
        coef_t = np.ascontiguousarray(lr.coef_.T, dtype=np.float64)
        return np.asarray(tfidf.idf_, dtype=np.float64), bool(tfidf.sublinear_tf), coef_t, lr.intercept_

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        examples = [
            m
            for m in training_data.intent_examples
            if m.get(TEXT) and self.label_of(m) and self._sentence_features(m) is not None
        ]
        if not examples:
            logger.debug(f"No labelled examples: {type(self).__name__} stays untrained.")
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
        features = vstack([self._sentence_features(m) for m in examples]).tocsr()
        self.clf.fit(features, [self.label_of(m) for m in examples])
        self._direct = self._direct_parameters()
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        # A message without features (an empty one) gets no ranking: InputScreen answers it.
        rows = []
        for message in messages:
            features = self._sentence_features(message) if self.clf is not None else None
            if features is None:
                self.write_nothing(message)
            else:
                rows.append((message, features))
        if not rows:
            return messages
        features = rows[0][1] if len(rows) == 1 else vstack([f for _, f in rows]).tocsr()
        probabilities = self.predict_proba(features)
        classes = [str(c) for c in self.clf.classes_]
        for (message, _), row in zip(rows, probabilities, strict=True):
            ranked = sorted(zip(classes, (float(p) for p in row), strict=True), key=lambda pair: -pair[1])
            self.write(message, ranked[: self.config["ranking_length"] or None])
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as model_dir:
            sio.dump(self.clf, model_dir / self.MODEL_FILE)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfLogisticRegression:
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as model_dir:
                path = model_dir / cls.MODEL_FILE
                untrusted = sio.get_untrusted_types(file=path)
                # Our own file; still, only scikit-learn, NumPy and SciPy types may be loaded from it.
                if any(not t.startswith(("sklearn.", "numpy.", "scipy.")) for t in untrusted):
                    raise ValueError(f"unexpected types in {path}: {untrusted}")
                return cls(config, model_storage, resource, sio.load(path, trusted=untrusted))
        except ValueError as error:
            logger.warning(f"{cls.__name__} has no trained model ({error}); it will rank nothing.")
            return cls(config, model_storage, resource)
