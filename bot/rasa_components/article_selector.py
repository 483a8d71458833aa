"""Which curated article answers a message, trained on the examples generated from knowledge/.

Each generated example block carries `metadata: {article: <id>}`. The result goes to the parse data
as `article_ranking` — [{"article": id, "confidence": p}, ...] — and actions/selection.py decides from
it whether to answer or to ask. It takes the place of Rasa's ResponseSelector (see README: "Why not
Rasa's ResponseSelector").
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_components.tfidf_logreg import TfidfLogisticRegression

ARTICLE_RANKING = "article_ranking"


def article_of(message: Message) -> str | None:
    """The article a training example belongs to, from its intent metadata."""
    metadata = message.get("metadata") or {}
    return (metadata.get("intent") or {}).get("article") if isinstance(metadata, dict) else None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ArticleSelector(TfidfLogisticRegression):
    """Ranks the knowledge base's articles for a message."""

    @staticmethod
    def label_of(message: Message) -> str | None:
        return article_of(message)

    def write(self, message: Message, ranking: list[tuple[str, float]]) -> None:
        value = [{"article": a, "confidence": round(p, 4)} for a, p in ranking]
        message.set(ARTICLE_RANKING, value, add_to_output=True)
