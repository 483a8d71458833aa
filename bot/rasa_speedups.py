"""Two hot spots of Rasa 3.6, each replaced by an equivalent that does the same work once instead of on
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

`install()` is called by Nära's tracker store (bot/tracker_store.py), so it applies in every Rasa server
that keeps conversations in Nära's database. tests/bot/test_rasa_speedups.py checks both against Rasa's own.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

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


def install() -> None:
    """Idempotent: the first call replaces Rasa's two methods, later calls do nothing."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event

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
