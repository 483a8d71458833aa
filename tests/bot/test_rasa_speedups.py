"""Rasa's check of the action server's answers, with the schema checked once (bot/rasa_speedups.py)."""

from __future__ import annotations

import jsonschema
import pytest
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_speedups

VALID = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "topic", "value": "skola", "timestamp": None}],
        "responses": [{"text": "Hej"}],
    },
    {"events": [{"event": "action", "name": "action_listen"}], "responses": []},
    {
        "events": [
            {"event": "slot", "name": "handover", "value": {"code": "K7M-2QX", "team": "berga"}, "timestamp": None},
            {"event": "followup", "name": "action_listen", "timestamp": None},
        ],
        "responses": [
            {"text": "Vill du att vi kontaktar dig?", "buttons": [{"title": "Ja", "payload": "/affirm"}]},
            {"custom": {"article": "foraldraskap-tonaring", "reviewed": "2026-11-01"}},
        ],
    },
    {},
]
INVALID = [
    {"events": "not a list"},
    {"events": [{"no_event_key": 1}]},
    {"events": [{"event": "slot"}]},  # a slot event without its name
    {"responses": "Hej"},
    {"events": [{"event": "slot", "name": 12}]},
    [],
]


@pytest.fixture()
def action() -> RemoteAction:
    rasa_speedups.install()
    return RemoteAction("action_answer_topic", EndpointConfig("http://127.0.0.1:1/webhook"))


def _stock_valid(result: dict) -> bool:
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError:
        return False
    return True


@pytest.mark.parametrize("result", VALID + INVALID)
def test_the_cached_validator_agrees_with_rasas_check(result: dict) -> None:
    assert rasa_speedups.is_valid_action_result(result) is _stock_valid(result)


@pytest.mark.parametrize("result", VALID)
def test_valid_answers_pass(action: RemoteAction, result: dict) -> None:
    assert action._validate_action_result(result) is True


@pytest.mark.parametrize("result", INVALID)
def test_invalid_answers_get_rasas_error_and_message(action: RemoteAction, result: dict) -> None:
    with pytest.raises(jsonschema.ValidationError) as error:
        action._validate_action_result(result)
    assert "Failed to validate Action server response" in error.value.message


def test_the_schema_is_checked_once_not_per_answer(monkeypatch: pytest.MonkeyPatch, action: RemoteAction) -> None:
    cls = validator_for(RemoteAction.action_response_format_spec())
    calls = []
    real_check = cls.check_schema
    monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, schema: calls.append(1) or real_check(schema)))
    rasa_speedups._validator.cache_clear()
    for _ in range(50):
        assert action._validate_action_result(VALID[1]) is True
    assert len(calls) == 1


def test_installing_twice_wraps_once() -> None:
    rasa_speedups.install()
    first = RemoteAction._validate_action_result
    rasa_speedups.install()
    assert RemoteAction._validate_action_result is first
    assert getattr(first, "nara_cached", False)
    assert not getattr(first.__wrapped__, "nara_cached", False)


def _rasa_resolve_by_type(type_name: str, default=None):
    """Rasa 3.6's own `Event.resolve_by_type`, as it is written in rasa/shared/core/events.py."""
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    for cls in all_subclasses(Event):
        if cls.type_name == type_name:
            return cls
    if type_name == "topic":
        return None
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def test_event_types_resolve_to_the_class_rasa_finds() -> None:
    from rasa.shared.core.events import Event, SlotSet
    from rasa.shared.utils.common import all_subclasses

    rasa_speedups.install()
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert {"user", "bot", "action", "slot", "session_started", "active_loop"} <= names
    for name in names:
        assert Event.resolve_by_type(name) is _rasa_resolve_by_type(name), name
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")


def test_an_event_class_defined_later_is_found_and_events_round_trip() -> None:
    from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered

    rasa_speedups.install()
    Event.resolve_by_type("user")  # the table exists before the new class does

    class NaraTestEvent(SlotSet):
        type_name = "nara_test_event"

    assert Event.resolve_by_type("nara_test_event") is NaraTestEvent
    events = [ActionExecuted("action_listen"), UserUttered("hej"), SlotSet("topic", "skola"), SessionStarted()]
    assert [Event.from_parameters(e.as_dict()) for e in events] == events
