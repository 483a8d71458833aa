""" "Kan jag prata med någon?": how to reach the user's area social workers (the handover builds on this)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CONTACT_ARTICLE, send_article


class ActionOfferContact(Action):
    def name(self) -> str:
        return "action_offer_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return send_article(CONTACT_ARTICLE, dispatcher, tracker)
