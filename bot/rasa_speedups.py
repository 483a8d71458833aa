"""Hot spots of Rasa 3.6, each replaced by an equivalent that does the same work once instead of on
every call (found with py-spy under `make bench`; bench/README.md has the numbers).

- **Checking the action server's answers.** Rasa calls `jsonschema.validate(result, schema)` for every
  answer, which first checks the schema itself against JSON Schema's meta-schema and builds a new
  validator: 15% of the Rasa server's time under load, for a schema that is a constant of Rasa's code.
  Here the schema is checked once and the answers with jsonschema-rs (4 µs an answer instead of 1.7 ms
  with a Python validator built once). An answer that fails goes to Rasa's own method, so the error and
  its message stay Rasa's.
- **Reading events.** `Event.resolve_by_type` walks every subclass of `Event` to find the class of each
  stored event: for a tracker of 40 events, 40 walks of ~40 classes on every retrieve (6% of the time
  under load). Here the classes are kept by type name, looked up again only for a name not seen yet.

- **Running the model's graph.** Rasa runs the NLU pipeline and the policies of every message through
  dask: a new dask graph, dask's ordering of it and its scheduler's bookkeeping for ~12 nodes, twice or more
  per message (~14% of the server's time under load, about as much as the components themselves). Here
  the same nodes run in dependency order from a plan made once per set of targets; results, errors and
  the handling of inputs are dask's (tests/bot/test_rasa_speedups.py runs both on one graph).
- **Asking whether the domain is empty.** Rasa's processor does it for every message, by serialising the
  whole domain and an empty one and comparing them. A loaded domain does not change: here it is asked once.
- **Calling the action server.** Rasa opens a new HTTP session, and with it a new TCP connection, for every
  action it runs, and writes the conversation it sends with Python's json module (~5% of the server's time
  under load). Here one session per event loop and endpoint configuration is kept, so connections are
  reused, and it writes JSON with orjson (what orjson cannot write goes to json.dumps, as before). An idle
  connection is closed after `KEEPALIVE_S`, before the action server (Sanic: 5 s) closes it, so a request
  never goes out on a connection the server is closing. The channels close the sessions when the server
  stops (bot/channels.py).

- **Copying slots.** Every new tracker (Rasa makes one for each action it runs, to copy the conversation, and
  more for forms and policies) copies each of the domain's slots with `copy.copy`, whose general machinery
  (`__reduce_ex__`, a reconstruction) took ~50 µs a tracker for Nära's 15 slots. Here an object of a plain
  class (no `__copy__`, `__reduce__`, `__slots__` or `__getstate__`/`__setstate__` of its own) is copied as
  `copy.copy` copies it, a new object with the same `__dict__` items: ~12 µs. Anything else goes to
  `copy.copy`.

- **Copies made only for debug logs.** Rasa's processor deep-copies a turn's events, the parse and the
  prediction's events for every action, only to pass them to `structlogger.debug`, which drops them unless
  the log level is DEBUG (`rasa run` logs at INFO): ~1% of the server's CPU a message (in-process A/B).
  Here its `copy.deepcopy` gives the value itself while structlog's debug method is its no-op, and
  deep-copies as before otherwise.

- **Copying a tracker.** `DialogueStateTracker.copy()` makes a new tracker and replays every event of the
  conversation into it; Rasa's processor does it before every action it runs (to throw away the policy's
  events if the action is rejected): ~5% of the server's CPU under load (py-spy, bench/README.md sixth
  round). A tracker's state is, by Rasa's own rule, what its events make it; here the copy takes that state
  as it is (the events in a new deque, each slot copied, the loop and the latest action copied, the
  events themselves shared as the replay shares them), with what the replay leaves unset unset (the
  model and assistant ids, the sender source). The one piece of state Rasa changes without an event (the
  processor clears the follow-up action it acts on) is taken from the events, as the replay takes it. Only
  for a `DialogueStateTracker` itself with the domain's slots and events of the kinds whose effect on the
  follow-up action is known: anything else (training's trackers, a reverted turn) is replayed as before.

`install()` is called by Nära's tracker store (bot/tracker_store.py), so it applies in every Rasa server
that keeps conversations in Nära's database. tests/bot/test_rasa_speedups.py checks each against Rasa's own.
"""

from __future__ import annotations

import asyncio
import copy
import copyreg
import functools
import gc
import json
import operator
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import orjson

_install_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema_rs
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_for(schema).check_schema(schema)  # once, as Rasa's check did on every call
    return jsonschema_rs.validator_for(schema)


def is_valid_action_result(result: dict[str, Any]) -> bool:
    return _validator().is_valid(result)


def _event_classes() -> dict[str, type]:
    """Every Event class by its type name; the first in Rasa's own search order wins, as in Rasa."""
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    classes: dict[str, type] = {}
    for cls in all_subclasses(Event):
        classes.setdefault(cls.type_name, cls)
    return classes


_known_events: dict[str, type] = {}


def resolve_event_type(type_name: str, default: type | None = None) -> type | None:
    """Rasa's `Event.resolve_by_type`, from a table of the classes instead of a walk over all of them."""
    cls = _known_events.get(type_name)
    if cls is None:
        _known_events.update(_event_classes())  # a name not seen yet, or an Event class defined since
        cls = _known_events.get(type_name)
    if cls is not None:
        return cls
    if type_name == "topic":
        return None  # as Rasa: backwards compatibility with old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


# --- shallow copies of plain objects ------------------------------------------------------------------------

_plain_types: dict[type, bool] = {}


def _is_plain(cls: type) -> bool:
    """Whether `copy.copy` copies instances of `cls` by a new object (`cls.__new__(cls)`, object's own) with the
    same `__dict__` items: no copy hook, reduction or pickling state of its own, no slots (Python 3.10's
    copy: `__reduce_ex__(4)` gives `copyreg.__newobj__`, `(cls,)` and the instance's `__dict__`)."""
    plain = _plain_types.get(cls)
    if plain is None:
        plain = _plain_types[cls] = (
            cls.__reduce_ex__ is object.__reduce_ex__
            and cls.__reduce__ is object.__reduce__
            and cls.__new__ is object.__new__
            and not any(
                hasattr(cls, name)
                for name in ("__copy__", "__getstate__", "__setstate__", "__getnewargs_ex__", "__getnewargs__")
            )
            and not copyreg._slotnames(cls)  # slots with a value (ABC's empty ones have none)
            and cls not in copy._copy_dispatch  # type: ignore[attr-defined]
            and copyreg.dispatch_table.get(cls) is None
        )
    return plain


def shallow_copy(value: Any) -> Any:
    """`copy.copy(value)`, without its general machinery for an instance of a plain class."""
    cls = type(value)
    if not _is_plain(cls) or not hasattr(value, "__dict__"):
        return copy.copy(value)
    clone = object.__new__(cls)
    clone.__dict__.update(value.__dict__)
    return clone


def rasa_copy_tracker(tracker: Any) -> Any:
    """Rasa's own `DialogueStateTracker.copy`, also after `install()` (to compare with)."""
    return tracker.travel_back_in_time(float("inf"))


_UNKNOWN = object()


@functools.cache
def _followup_rules() -> tuple[dict[type, Any], frozenset[type], str]:
    """What each kind of event does to the tracker's follow-up action: the kinds that set it (to what, from the
    event), the kinds that leave it alone, and a new tracker's."""
    from rasa.shared.core import events as e
    from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME

    sets = {
        e.UserUttered: lambda _: None,
        e.ActionExecuted: lambda _: None,
        e.SessionStarted: lambda _: ACTION_LISTEN_NAME,  # it resets the tracker
        e.Restarted: lambda _: ACTION_SESSION_START_NAME,
        e.FollowupAction: operator.attrgetter("action_name"),
    }
    leaves = frozenset(
        {
            e.SlotSet,
            e.BotUttered,
            e.ActiveLoop,
            e.LoopInterrupted,
            e.ActionExecutionRejected,
            e.DefinePrevUserUtteredFeaturization,
            e.EntitiesAdded,
            e.AllSlotsReset,
            e.ConversationPaused,
            e.ConversationResumed,
            e.ReminderScheduled,
            e.ReminderCancelled,
            e.AgentUttered,
        }
    )
    return sets, leaves, ACTION_LISTEN_NAME


def _replayed_followup_action(events: Any) -> Any:
    """The follow-up action a replay of the events gives (the processor clears the tracker's own when it acts on
    it, without an event), or `_UNKNOWN` when an event of another kind decides it."""
    sets, leaves, new_trackers = _followup_rules()
    for event in reversed(events):
        kind = type(event)
        if kind in sets:
            return sets[kind](event)
        if kind not in leaves:
            return _UNKNOWN
    return new_trackers


def copy_tracker(tracker: Any) -> Any:
    """`tracker.copy()`: what replaying its events into a new tracker gives, without the replay."""
    from rasa.shared.constants import DEFAULT_SENDER_ID
    from rasa.shared.core.trackers import DialogueStateTracker

    if type(tracker) is not DialogueStateTracker or type(tracker.slots) is not dict:
        return rasa_copy_tracker(tracker)
    followup_action = _replayed_followup_action(tracker.events)
    if followup_action is _UNKNOWN:
        return rasa_copy_tracker(tracker)
    clone = object.__new__(DialogueStateTracker)
    clone._max_event_history = tracker._max_event_history
    clone.events = clone._create_events(list(tracker.events))
    clone.sender_id = tracker.sender_id or DEFAULT_SENDER_ID
    clone.slots = {name: shallow_copy(slot) for name, slot in tracker.slots.items()}
    clone.sender_source = None
    clone.is_rule_tracker = tracker.is_rule_tracker
    clone._paused = tracker._paused
    clone.followup_action = followup_action
    clone.latest_action = None if tracker.latest_action is None else dict(tracker.latest_action)
    clone.latest_message = tracker.latest_message
    clone.latest_bot_utterance = tracker.latest_bot_utterance
    clone.active_loop = None if tracker.active_loop is None else shallow_copy(tracker.active_loop)
    clone.model_id = None
    clone.assistant_id = None
    return clone


class _TrackerCopyModule:
    """What `rasa.shared.core.trackers` finds as `copy`: the copy module, with `copy` as `shallow_copy`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    copy = staticmethod(shallow_copy)


# --- copies made only for debug logs -----------------------------------------------------------------------


def debug_logs_dropped() -> bool:
    """Whether structlog drops debug events: its configured logger's `debug` is structlog's no-op (a logger
    filtering at INFO or above, as Rasa configures it). Anything else (DEBUG, not configured) counts as kept."""
    import structlog

    debug = getattr(structlog.get_config().get("wrapper_class"), "debug", None)
    return getattr(debug, "__name__", None) == "_nop" and getattr(debug, "__module__", "").startswith("structlog")


def copy_for_debug_log(value: Any, memo: Any = None) -> Any:
    """`copy.deepcopy`, for a value only passed to `structlogger.debug`: not copied when that drops it."""
    return value if debug_logs_dropped() else copy.deepcopy(value, memo)


class _ProcessorCopyModule:
    """What `rasa.core.processor` finds as `copy` (it deep-copies only what it passes to debug logs)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    deepcopy = staticmethod(copy_for_debug_log)


# --- the model's graph, without dask ------------------------------------------------------------------


class _Plan:
    """The nodes a set of targets needs, each after the nodes it needs (a depth-first post-order)."""

    def __init__(self, runner: Any, targets: tuple[str, ...], replaced: frozenset[str]):
        schema = runner._graph_schema.minimal_graph_schema(list(targets))
        self.keys = frozenset(schema.nodes)  # what Rasa's clash check compares input values with
        self.steps: list[tuple[str, Any, tuple[str, ...]]] = []
        done: set[str] = set()

        def visit(name: str) -> None:
            # A name that is not a node (an input, or a placeholder nobody filled) is looked up at run time,
            # and an input named like a node replaces it, as in dask's graph.
            if name in done or name not in schema.nodes or name in replaced:
                return
            done.add(name)
            needs = tuple(schema.nodes[name].needs.values())
            for need in needs:
                visit(need)
            self.steps.append((name, runner._instantiated_nodes[name], needs))

        for target in targets:
            visit(target)


def rasa_run_graph(runner: Any, inputs: dict[str, Any] | None = None, targets: Sequence[str] | None = None) -> dict:
    """Rasa's own `DaskGraphRunner.run`, also after `install()` (to compare with)."""
    from rasa.engine.runner.dask import DaskGraphRunner

    return DaskGraphRunner.__dict__.get("_nara_rasa_run", DaskGraphRunner.run)(runner, inputs, targets)


def run_graph(runner: Any, inputs: dict[str, Any] | None = None, targets: Sequence[str] | None = None) -> dict:
    """`DaskGraphRunner.run` without dask: the same nodes called with the same arguments, the same result."""
    from rasa.engine.exceptions import GraphRunError

    run_targets = tuple(targets if targets else runner._graph_schema.target_names)
    inputs = inputs or {}
    plans = runner.__dict__.setdefault("_nara_plans", {})
    key = (run_targets, frozenset(inputs) & frozenset(runner._instantiated_nodes))
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = _Plan(runner, *key)
    results: dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, str) and (value in plan.keys or value in results):
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema."
            )
        results[name] = (name, value)  # how dask hands an input to a node: like a node's output
    try:
        for name, node, needs in plan.steps:
            # dask passes a key it cannot resolve as the key itself; the node then warns about it
            results[name] = node(*[results.get(need, need) for need in needs])
        return dict(results[target] for target in run_targets)
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error


# --- the action server, over kept connections ------------------------------------------------------------

KEEPALIVE_S = 2.0
_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {configuration: session}


class _Borrowed:
    """`async with` gives the kept session and leaves it open (Rasa closes the one it creates)."""

    def __init__(self, session: Any):
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        return None


def json_bytes(value: Any) -> bytes:
    """JSON as UTF-8: orjson (non-string keys and numpy values as json.dumps would write them), and json.dumps
    for anything orjson refuses (an integer beyond 64 bits, a type it does not know)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value).encode()


def json_dumps(value: Any) -> str:
    """`json_bytes` as text, for a request body (aiohttp's json_serialize must give a str)."""
    return json_bytes(value).decode()


def kept_session(endpoint: Any) -> _Borrowed:
    """Rasa's `EndpointConfig.session()`: the same headers, authentication and timeout, one session per
    event loop and configuration, its connections kept for `KEEPALIVE_S`."""
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    per_loop = _sessions.setdefault(asyncio.get_running_loop(), {})
    key = (repr(sorted(endpoint.headers.items())), repr(sorted(endpoint.basic_auth.items())))
    session = per_loop.get(key)
    if session is None or session.closed:
        auth = (
            aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
            if endpoint.basic_auth
            else None
        )
        session = per_loop[key] = aiohttp.ClientSession(
            headers=endpoint.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S),
            json_serialize=json_dumps,
        )
    return _Borrowed(session)


async def close_sessions(*_: Any) -> None:
    """Closes the kept sessions of the running event loop (a Sanic listener: `before_server_stop`)."""
    for session in _sessions.pop(asyncio.get_running_loop(), {}).values():
        await session.close()


# --- the garbage collector and what lives as long as the server -------------------------------------------


async def freeze_loaded_objects(*_: Any) -> None:
    """Moves every object alive once the server has started (the model, spaCy, the language models: ~590,000
    objects that live as long as the server) out of the garbage collector's sight. Without it each full
    collection walked them all: 350-440 ms during which no conversation got an answer, about every 40 s at
    N=10; with it a full collection takes ~3 ms (bench/README.md). A Sanic listener (`after_server_start`,
    once the model is loaded). The price: a model replaced later through Rasa's HTTP API is freed only as far
    as reference counting reaches; reference cycles among the frozen objects stay until the server restarts."""
    if gc.get_freeze_count():
        return  # done: both channels register this listener, and one collection at start-up is enough
    gc.collect()
    gc.freeze()


def install() -> None:
    """Idempotent: the first call replaces Rasa's methods, later calls do nothing."""
    from rasa.core.actions.action import RemoteAction
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    with _install_lock:
        rasa_validate = RemoteAction._validate_action_result
        if getattr(rasa_validate, "nara_cached", False):
            return

        @functools.wraps(rasa_validate)
        def validate(self: RemoteAction, result: dict[str, Any]) -> bool:
            if is_valid_action_result(result):
                return True
            return rasa_validate(self, result)  # raises Rasa's ValidationError with Rasa's message

        validate.nara_cached = True  # type: ignore[attr-defined]
        RemoteAction._validate_action_result = validate
        Event.resolve_by_type = staticmethod(resolve_event_type)
        DaskGraphRunner._nara_rasa_run = DaskGraphRunner.run
        DaskGraphRunner.run = run_graph
        rasa_is_empty = Domain.is_empty

        @functools.wraps(rasa_is_empty)
        def is_empty(self: Domain) -> bool:
            empty = self.__dict__.get("_nara_is_empty")
            if empty is None:
                empty = self.__dict__["_nara_is_empty"] = rasa_is_empty(self)
            return empty

        Domain.is_empty = is_empty
        EndpointConfig.session = kept_session
        import rasa.shared.core.trackers

        rasa.shared.core.trackers.copy = _TrackerCopyModule()  # the module's only use: copying slots
        rasa.shared.core.trackers.DialogueStateTracker.copy = copy_tracker
        import rasa.core.processor

        rasa.core.processor.copy = _ProcessorCopyModule()
