"""'Radera min konversation': the resident erases their conversation from the chat.

`action_ask_erase` asks first (and stops a handover form in progress: nothing has been sent);
`action_erase_conversation` confirms, and the tracker store (`bot.tracker_store`) then deletes the whole
conversation instead of saving the turn, leaving only anonymous counts. A handover already sent is not
part of the conversation: the reply says how to withdraw it.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.handover import FORM, drop_contact, reset_form
from actions.messages import message


class ActionAskErase(Action):
    def name(self) -> str:
        return "action_ask_erase"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        events: list[EventType] = []
        text = message("erase_ask")
        if tracker.active_loop.get("name") == FORM:
            await drop_contact(tracker)
            events = [ActiveLoop(None), *reset_form()]
            text = message("erase_form_stopped") + "\n\n" + text
        dispatcher.utter_message(
            text=text,
            buttons=[
                {"title": message("erase_yes_button"), "payload": "/affirm"},
                {"title": message("erase_no_button"), "payload": "/deny"},
            ],
        )
        return events


class ActionEraseConversation(Action):
    def name(self) -> str:
        return "action_erase_conversation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        sent = any(
            ((event.get("data") or {}).get("custom") or {}).get("handover")
            for event in tracker.events
            if event.get("event") == "bot"
        )
        text = message("erase_done")
        if sent:
            text += "\n\n" + message("erase_handover_stays")
        dispatcher.utter_message(text=text, json_message={"erased": True})
        return []


class ActionKeepConversation(Action):
    def name(self) -> str:
        return "action_keep_conversation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=message("erase_kept"))
        return []
