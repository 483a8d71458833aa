"""A base for Nära's NLU components that learn nothing: made from their config, no training step."""

from __future__ import annotations

import abc
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData


class StatelessComponent(GraphComponent, abc.ABC):
    """Built from config alone; training data passes through untouched."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.component_config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> StatelessComponent:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
