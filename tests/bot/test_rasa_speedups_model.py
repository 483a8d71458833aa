"""The trained model gives the same parse and the same next action with Nära's graph runner as with Rasa's
dask runner (bot/rasa_speedups.py), on messages of every kind the bench and the residents send."""

from __future__ import annotations

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.runner.dask import DaskGraphRunner

from bot import rasa_speedups
from bot.training import model_path

pytestmark = pytest.mark.model

MESSAGES = [
    "min tonåring skriker på mig hela tiden",
    "Min son vill inte gå till skolan",
    "jag känner mig så ensam",
    "vi bråkar jämt och jag vet inte om vi ska skiljas",
    "jag är orolig att min son hamnar i ett gäng",
    "jag bor i Berga",
    "jag bor på ryd",
    "jag vill inte leva längre",
    "hej",
    "",
    "🙂🙂🙂",
    "What can you help me with?",
    "mitt personnummer är 19811218-9876",
    '/parenting{"article": "foraldraskap-tonaring"}',
    "/request_contact",
    "asdfghjkl qwerty",
]


@pytest.fixture(scope="module")
def agent() -> Agent:
    path = model_path()
    if not path.exists():
        pytest.fail(f"no trained model at {path}: run scripts/train first")
    return Agent.load(str(path))


def _parse_and_predict(agent: Agent, text: str) -> tuple[dict, dict]:
    import asyncio

    async def go():
        processor = agent.processor
        parse = await processor.parse_message(UserMessage(text, sender_id="speedups"))
        tracker = await processor.get_tracker("speedups-" + str(abs(hash(text))))
        from rasa.shared.core.events import UserUttered

        tracker.update(UserUttered(text, parse_data=parse))
        prediction = processor._predict_next_with_tracker(tracker)
        return parse, {"action": prediction.max_confidence_index, "policy": prediction.policy_name}

    return asyncio.run(go())


@pytest.mark.parametrize("text", MESSAGES)
def test_parse_and_next_action_are_the_same_as_with_dask(agent: Agent, monkeypatch, text: str) -> None:
    rasa_speedups.install()
    ours = _parse_and_predict(agent, text)
    monkeypatch.setattr(DaskGraphRunner, "run", rasa_speedups.rasa_run_graph)
    theirs = _parse_and_predict(agent, text)
    for result in (ours[0], theirs[0]):
        result.pop("message_id", None)
    assert ours == theirs
