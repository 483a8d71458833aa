"""Rasa's check of the action server's answers, with the schema checked once (bot/rasa_speedups.py)."""

from __future__ import annotations

import asyncio

import jsonschema
import pytest
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.engine.graph import GraphComponent
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


# --- the model's graph without dask --------------------------------------------------------------------


class _Component(GraphComponent):
    """A graph component that records its calls: `add` sums what it is given, plus its config's `plus`."""

    calls: list[str] = []

    def __init__(self, name: str, plus: int, fail: bool):
        self.name, self.plus, self.fail = name, plus, fail

    @classmethod
    def create(cls, config, model_storage, resource, execution_context):
        return cls(execution_context.node_name, config.get("plus", 0), config.get("fail", False))

    def add(self, **numbers):
        _Component.calls.append(self.name)
        if self.fail:
            raise RuntimeError("broken node")
        return sum(value for value in numbers.values() if isinstance(value, int)) + self.plus


def _runner(tmp_path, fail: str = ""):
    from rasa.engine.graph import ExecutionContext, GraphSchema, SchemaNode
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    def node(needs, plus, target=False):
        config = {"plus": plus, "fail": False}
        return SchemaNode(
            needs=needs,
            uses=_Component,
            constructor_name="create",
            fn="add",
            config=config,
            eager=True,
            is_target=target,
        )

    nodes = {
        "a": node({"x": "__x__"}, 1),
        "b": node({"a": "a"}, 10),
        "c": node({"a": "a", "b": "b"}, 100, target=True),
        "unused": node({"x": "__x__"}, 1000),
        "d": node({"c": "c", "y": "__y__"}, 5, target=True),
    }
    if fail:
        nodes[fail].config["fail"] = True
    schema = GraphSchema(nodes)
    return DaskGraphRunner(schema, LocalModelStorage(tmp_path), ExecutionContext(schema, "test"))


def _both(tmp_path, inputs, targets, fail: str = ""):
    """(result or exception type, nodes called) with dask's run and with Nära's, on the same graph."""
    out = []
    for run in (rasa_speedups.rasa_run_graph, rasa_speedups.run_graph):
        runner = _runner(tmp_path, fail)
        _Component.calls = []
        try:
            result = run(runner, inputs=inputs, targets=targets)
        except Exception as error:  # noqa: BLE001 - the type is what is compared
            result = (type(error).__name__, type(error.__cause__).__name__)
        out.append((result, sorted(_Component.calls)))
    return out


@pytest.mark.parametrize(
    ("inputs", "targets"),
    [
        ({"__x__": 2, "__y__": 3}, ["c"]),
        ({"__x__": 2, "__y__": 3}, ["d"]),
        ({"__x__": 2, "__y__": 3}, ["c", "d"]),
        ({"__x__": 2, "__y__": 3}, None),  # the schema's targets
        ({"__x__": 2, "__y__": 3, "a": 50}, ["c"]),  # an input named like a node replaces the node
        ({"__x__": 2}, ["d"]),  # an input nobody gave: the node gets the placeholder's name, as with dask
        ({"__x__": 2, "__y__": 3}, ["a"]),
    ],
)
def test_the_graph_runs_as_with_dask(tmp_path, inputs, targets) -> None:
    dask, nara = _both(tmp_path, inputs, targets)
    assert nara == dask
    assert "unused" not in nara[1]


def test_expected_results_of_the_toy_graph(tmp_path) -> None:
    runner = _runner(tmp_path)
    # a = 2 + 1, b = 3 + 10, c = 3 + 13 + 100, d = 116 + 3 + 5
    assert rasa_speedups.run_graph(runner, {"__x__": 2, "__y__": 3}, ["c", "d"]) == {"c": 116, "d": 124}
    assert rasa_speedups.run_graph(runner, {"__x__": 4, "__y__": 0}, ["d"]) == {"d": 125}  # the plan is reused


@pytest.mark.parametrize("fail", ["a", "c"])
def test_a_failing_node_fails_as_with_dask(tmp_path, fail) -> None:
    dask, nara = _both(tmp_path, {"__x__": 2, "__y__": 3}, ["d"], fail=fail)
    assert nara == dask
    assert nara[0][0] == "GraphComponentException"


def test_an_input_value_that_names_a_node_is_refused_as_with_dask(tmp_path) -> None:
    dask, nara = _both(tmp_path, {"__x__": "b", "__y__": 3}, ["c"])
    assert nara == dask == (("GraphRunError", "NoneType"), [])


def test_the_runner_rasa_loads_uses_the_plan() -> None:
    from rasa.engine.runner.dask import DaskGraphRunner

    rasa_speedups.install()
    assert DaskGraphRunner.run is rasa_speedups.run_graph


# --- the domain's emptiness, asked once -----------------------------------------------------------------


def test_is_empty_answers_as_rasa_and_asks_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.shared.core.domain import Domain

    rasa_speedups.install()
    full = Domain.from_dict({"intents": ["greet"], "responses": {"utter_greet": [{"text": "Hej"}]}})
    empty = Domain.empty()
    assert full.is_empty() is Domain.is_empty.__wrapped__(full) is False
    assert empty.is_empty() is Domain.is_empty.__wrapped__(empty) is True
    serialised = []
    monkeypatch.setattr(Domain, "as_dict", lambda self: serialised.append(1) or {})
    for _ in range(5):
        assert full.is_empty() is False
    assert serialised == []


# --- the action server over kept connections --------------------------------------------------------------


@pytest.fixture()
async def action_server():
    """A stand-in action server on loopback: it answers with the action's name and the request's headers, and
    records the peer (address, port) of every request, so that a reused connection shows as one peer."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    peers: list[tuple] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        body = await request.json()
        return web.json_response(
            {"events": [], "responses": [{"text": body["next_action"]}], "headers": dict(request.headers)}
        )

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, peers
    await server.close()


async def test_action_calls_reuse_one_connection_and_keep_rasas_headers(action_server) -> None:
    server, peers = action_server
    rasa_speedups.install()
    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}/webhook", headers={"X-Nara": "1"}, token="t0k")
    answers = [await endpoint.request(json={"next_action": f"action_{i}"}, method="post") for i in range(5)]
    await rasa_speedups.close_sessions()
    assert [a["responses"][0]["text"] for a in answers] == [f"action_{i}" for i in range(5)]
    assert answers[0]["headers"]["X-Nara"] == "1"
    assert answers[0]["headers"]["Content-Type"] == "application/json"
    assert len(peers) == 5 and len(set(peers)) == 1  # one TCP connection for all five


async def test_closing_the_kept_sessions_closes_them_and_a_new_one_follows(action_server) -> None:
    server, peers = action_server
    rasa_speedups.install()
    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}/webhook")
    async with endpoint.session() as first:
        pass
    assert not first.closed  # Rasa's `async with` leaves the kept session open
    await endpoint.request(json={"next_action": "a"})
    await rasa_speedups.close_sessions()
    assert first.closed
    async with endpoint.session() as second:
        assert second is not first and not second.closed
    assert (await endpoint.request(json={"next_action": "b"}))["responses"][0]["text"] == "b"
    await rasa_speedups.close_sessions()
    assert len(set(peers)) == 2


async def test_an_idle_connection_is_given_up_before_the_server_would_close_it(action_server, monkeypatch) -> None:
    server, peers = action_server
    rasa_speedups.install()
    monkeypatch.setattr(rasa_speedups, "KEEPALIVE_S", 0.2)
    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}/webhook")
    await endpoint.request(json={"next_action": "a"})
    await asyncio.sleep(1.0)
    await endpoint.request(json={"next_action": "b"})
    await rasa_speedups.close_sessions()
    assert len(set(peers)) == 2
    assert rasa_speedups.KEEPALIVE_S < 5  # Sanic's keep-alive, which the action server (rasa_sdk) uses


# --- the garbage collector ------------------------------------------------------------------------------


async def test_what_is_loaded_at_start_is_hidden_from_the_collector() -> None:
    import gc

    kept = [{"model": i} for i in range(1000)]  # noqa: F841 - alive across the freeze, like a loaded model
    gc.unfreeze()
    try:
        await rasa_speedups.freeze_loaded_objects()
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0


def test_the_channels_freeze_after_start_and_close_sessions_before_stop() -> None:
    from bot.channels import NaraRestInput, NaraSocketIOInput

    async def handler(message):
        return None

    for channel in (NaraRestInput(), NaraSocketIOInput()):
        listeners = {(f.event, f.listener) for f in channel.blueprint(handler)._future_listeners}
        assert ("after_server_start", rasa_speedups.freeze_loaded_objects) in listeners
        assert ("before_server_stop", rasa_speedups.close_sessions) in listeners


@pytest.mark.parametrize(
    "value",
    [
        {"next_action": "action_answer_article", "tracker": {"events": [{"event": "user", "text": "Hej då, vän ✓"}]}},
        {"confidence": 0.8123456789012345, "n": 3, "none": None, "flag": True, "list": [1.5e-300, -0.0, 12]},
        {1: "int key", "nested": {2: [3]}},  # json.dumps writes "1": orjson too, with OPT_NON_STR_KEYS
        {"big": 2**70},  # beyond orjson: json.dumps writes it
    ],
)
def test_request_bodies_read_back_as_json_dumps_writes_them(value) -> None:
    import json

    assert json.loads(rasa_speedups.json_dumps(value)) == json.loads(json.dumps(value))


def test_numpy_values_in_a_body_are_written_as_numbers() -> None:
    import json

    import numpy as np

    body = rasa_speedups.json_dumps({"confidence": np.float64(0.25), "ranking": np.array([1, 2])})
    assert json.loads(body) == {"confidence": 0.25, "ranking": [1, 2]}


async def test_the_kept_session_sends_its_bodies_with_orjson(action_server, monkeypatch) -> None:
    server, _ = action_server
    rasa_speedups.install()
    written = []
    real = rasa_speedups.json_dumps
    monkeypatch.setattr(rasa_speedups, "json_dumps", lambda value: written.append(value) or real(value))
    await rasa_speedups.close_sessions()  # a session made from here on serialises with the patched function
    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}/webhook")
    answer = await endpoint.request(json={"next_action": "action_åäö"})
    await rasa_speedups.close_sessions()
    assert answer["responses"][0]["text"] == "action_åäö"
    assert written == [{"next_action": "action_åäö"}]


class _Plain:
    def __init__(self, value):
        self.value = value
        self.items = [value]


class _WithCopy(_Plain):
    def __copy__(self):
        return _WithCopy("copied")


class _WithSlots:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class _Dict(dict):
    pass


def _assert_copied_as_copy_copies(value) -> None:
    import copy

    got, expected = rasa_speedups.shallow_copy(value), copy.copy(value)
    assert type(got) is type(expected)
    if isinstance(value, type):
        assert got is expected is value  # a class is its own copy
        return
    if hasattr(expected, "__dict__"):
        assert got is not value and got.__dict__.keys() == expected.__dict__.keys()
        if rasa_speedups._is_plain(type(value)):
            assert all(got.__dict__[k] is expected.__dict__[k] for k in expected.__dict__)  # the same values
        else:
            assert got.__dict__ == expected.__dict__  # its own copy hook, called once for each
    elif hasattr(type(expected), "__slots__"):
        assert got is not value and got.value == expected.value
    else:
        assert got == expected


def test_shallow_copies_are_copy_copys() -> None:
    from rasa.shared.core.domain import Domain

    from bot.paths import ROOT

    domain = Domain.load(str(ROOT / "domain.yml"))
    slot_types = set()
    for slot in domain.slots:
        slot.value = {"a": [1]} if slot.type_name == "any" else slot.value
        assert rasa_speedups._is_plain(type(slot))
        _assert_copied_as_copy_copies(slot)
        slot_types.add(type(slot).__name__)
    assert {"TextSlot", "BooleanSlot", "CategoricalSlot", "AnySlot"} <= slot_types
    _assert_copied_as_copy_copies(_Plain(3))
    for special in (_WithCopy(1), _WithSlots(2), _Dict(a=1), [1, 2], {"a": 1}, "text", 5, _Plain):
        if not isinstance(special, (list, dict, str, int, type)) or isinstance(special, _Dict):
            assert not rasa_speedups._is_plain(type(special))
        _assert_copied_as_copy_copies(special)
    assert rasa_speedups.shallow_copy(_WithCopy(1)).value == "copied"  # its own __copy__, as copy.copy


def test_trackers_copy_their_slots_with_it_once_installed() -> None:
    import copy

    import rasa.shared.core.trackers as trackers
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet

    from bot.paths import ROOT

    rasa_speedups.install()
    assert trackers.copy.copy is rasa_speedups.shallow_copy and trackers.copy.deepcopy is copy.deepcopy
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = trackers.DialogueStateTracker.from_events("s", [SlotSet("topic", "skola")], domain.slots)
    again = tracker.copy()
    assert again.current_state() == tracker.current_state() and again.slots["topic"].value == "skola"
    assert all(again.slots[name] is not slot for name, slot in tracker.slots.items())


def test_the_processor_deep_copies_only_what_it_passes_to_debug_logs() -> None:
    # What makes skipping those copies safe: in Rasa's processor every use of the copy module is an argument
    # of a `structlogger.debug(...)` call (checked on its source, so a Rasa upgrade that changes it fails here).
    import ast
    import inspect

    import rasa.core.processor

    tree = ast.parse(inspect.getsource(rasa.core.processor))
    debug_calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "debug"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "structlogger"
    ]
    inside = {id(n) for call in debug_calls for n in ast.walk(call)}
    uses = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "copy"
    ]
    assert len(uses) >= 6 and all(id(use) in inside for use in uses)


def test_debug_log_copies_are_made_only_when_debug_logs_are_kept() -> None:
    import logging

    import rasa.core.processor
    import structlog
    from rasa.utils.log_utils import configure_structlog

    rasa_speedups.install()
    value = {"events": [{"event": "user", "text": "hej"}]}
    before = structlog.get_config()
    try:
        configure_structlog(logging.INFO)  # as `rasa run` does
        assert rasa_speedups.debug_logs_dropped()
        assert rasa.core.processor.copy.deepcopy(value) is value
        configure_structlog(logging.DEBUG)
        assert not rasa_speedups.debug_logs_dropped()
        copied = rasa.core.processor.copy.deepcopy(value)
        assert copied == value and copied is not value and copied["events"][0] is not value["events"][0]
    finally:
        structlog.configure(**before)
    assert rasa.core.processor.copy.copy is __import__("copy").copy  # the rest of the module as it is


def _state(tracker) -> dict:
    """Everything a tracker holds: its attributes, each slot's, the events in order (the same objects)."""
    state = {key: value for key, value in vars(tracker).items() if key not in ("slots", "events")}
    state["slots"] = {name: (type(slot), vars(slot)) for name, slot in tracker.slots.items()}
    state["events"] = [id(event) for event in tracker.events]
    for key in ("latest_message", "latest_bot_utterance"):  # the same event, or a new empty one (its own time)
        event = getattr(tracker, key)
        state[key] = event if event in tracker.events else {**event.as_dict(), "timestamp": None}
    return state


def _conversations() -> dict[str, list]:
    from rasa.shared.core import events as e

    user = e.UserUttered("hej", {"name": "greet", "confidence": 1.0}, [{"entity": "place", "value": "Berga"}])
    start = [e.ActionExecuted("action_session_start"), e.SessionStarted(), e.ActionExecuted("action_listen")]
    form = [
        user,
        e.ActionExecuted("handover_form"),
        e.ActiveLoop("handover_form"),
        e.SlotSet("requested_slot", "district"),
        e.BotUttered("Var bor du?", {"buttons": []}),
        e.ActionExecuted("action_listen"),
        e.UserUttered("Berga", {"name": "inform_place", "confidence": 0.9}),
        e.ActionExecutionRejected("handover_form"),
        e.LoopInterrupted(True),
        e.SlotSet("district", "Berga"),
    ]
    return {
        "new": [],
        "a session's start": start,
        "a handover form, interrupted": start + form,
        "after a follow-up action": start + [user, e.FollowupAction("action_crisis")],
        "a follow-up action, then slots": start + [user, e.FollowupAction("action_crisis"), e.SlotSet("topic", "x")],
        "a restart": start + [user, e.Restarted()],
        "paused and resumed": start + [user, e.ConversationPaused(), e.ConversationResumed(), e.AllSlotsReset()],
        "a loop that ended": start + form + [e.ActiveLoop(None), e.SlotSet("requested_slot", None)],
        "reverted (replayed)": start + [user, e.ActionExecuted("action_clarify"), e.UserUtteranceReverted()],
        "events before a later session": start + form + start,
    }


@pytest.mark.parametrize("name", list(_conversations()))
@pytest.mark.parametrize("acted_on_followup", [False, True])
def test_a_tracker_copy_is_what_replaying_its_events_gives(name: str, acted_on_followup: bool) -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.paths import ROOT

    rasa_speedups.install()
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = DialogueStateTracker.from_events("s", _conversations()[name], domain.slots)
    tracker.model_id, tracker.assistant_id = "m", "nara"
    if acted_on_followup:
        tracker.clear_followup_action()  # as Rasa's processor does, without an event
    copied = tracker.copy()
    assert DialogueStateTracker.copy is rasa_speedups.copy_tracker
    assert _state(copied) == _state(rasa_speedups.rasa_copy_tracker(tracker))
    assert copied.events is not tracker.events and (
        not tracker.active_loop or copied.active_loop is not tracker.active_loop
    )
    assert all(copied.slots[key] is not slot for key, slot in tracker.slots.items())
    copied.update(SlotSet("topic", "ny"))  # the copy is a tracker of its own
    assert tracker.get_slot("topic") != "ny" and len(tracker.events) == len(copied.events) - 1


def test_a_tracker_of_a_subclass_is_replayed() -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.generator import TrackerWithCachedStates

    from bot.paths import ROOT

    rasa_speedups.install()
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = TrackerWithCachedStates.from_events(
        "s", _conversations()["a session's start"], domain.slots, domain=domain
    )
    assert type(tracker.copy()) is TrackerWithCachedStates
