"""Rasa checks every answer of the action server with `jsonschema.validate(result, schema)`, which first
checks the schema itself against JSON Schema's meta-schema and builds a new validator, on every action:
under load that was 15% of the Rasa server's time holding the GIL (py-spy, bench/README.md), for a schema
that is a constant of Rasa's code.

`install()` makes Rasa's `RemoteAction._validate_action_result` use one validator, built and checked once,
from jsonschema-rs. An answer that fails goes to Rasa's own method, so the error and its message stay Rasa's.
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
    # jsonschema-rs, the same checks in Rust: 4 µs an answer instead of 1.7 ms with a Python validator
    # built once (measured on a Nära answer); tests/bot/test_action_results.py checks that they agree.
    return jsonschema_rs.validator_for(schema)


def is_valid_action_result(result: dict[str, Any]) -> bool:
    return _validator().is_valid(result)


def install() -> None:
    """Idempotent: the first call wraps Rasa's method, later calls do nothing."""
    from rasa.core.actions.action import RemoteAction

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
