"""One turn of a conversation at a time, whatever happens: Rasa's lock lifetime against the action timeout.

Rasa holds a conversation's lock (in Redis when several servers share the conversations) while it handles one
message. The lock expires after `TICKET_LOCK_LIFETIME` seconds (Rasa's default 60) so that a crashed server does
not block the conversation for ever; but Rasa waits up to 300 s for an action (a constant in
`rasa.core.actions.action`). A slow action server would let the lock expire in the middle of a turn, and the
next message of the same conversation would be handled at the same time: two turns on one tracker, events lost
or out of order.

Nära bounds every call to the action server instead (`NARA_ACTION_TIMEOUT_SECONDS`, default 5; Nära's actions
answer in milliseconds and send e-mail in the background), and refuses to start when a turn's worst case
(the timeout times Rasa's `MAX_NUMBER_OF_PREDICTIONS` actions) is not shorter than the lock's lifetime.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

DEFAULT_ACTION_TIMEOUT_SECONDS = 5


def action_timeout() -> float:
    return float(os.environ.get("NARA_ACTION_TIMEOUT_SECONDS") or DEFAULT_ACTION_TIMEOUT_SECONDS)


def worst_turn_seconds(timeout: float, max_predictions: int) -> float:
    """How long one turn can hold the lock: every action of the turn times out."""
    return timeout * max_predictions


def apply_turn_limits() -> None:
    """Sets Rasa's action timeout to Nära's, and checks it against the lock lifetime (ValueError if unsafe)."""
    import rasa.core.actions.action as rasa_action
    from rasa.core.lock_store import LOCK_LIFETIME
    from rasa.core.processor import MAX_NUMBER_OF_PREDICTIONS

    timeout = action_timeout()
    worst = worst_turn_seconds(timeout, MAX_NUMBER_OF_PREDICTIONS)
    if worst >= LOCK_LIFETIME:
        raise ValueError(
            f"A turn may take {worst:g} s ({MAX_NUMBER_OF_PREDICTIONS} actions × "
            f"NARA_ACTION_TIMEOUT_SECONDS={timeout:g}) but the conversation lock lasts {LOCK_LIFETIME} s "
            "(TICKET_LOCK_LIFETIME): two turns of one conversation could run at once. "
            "Raise TICKET_LOCK_LIFETIME or lower the action timeout."
        )
    rasa_action.DEFAULT_REQUEST_TIMEOUT = timeout  # read at call time by RemoteAction.run
