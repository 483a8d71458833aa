"""Where the user lives: names their area team with its drop-in hours, or says honestly that we have none."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import entity_value, knowledge, send_article
from actions.messages import message
from knowledge.render import marked
from knowledge.text import fold


class ActionResolveArea(Action):
    def name(self) -> str:
        return "action_resolve_area"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        kb = knowledge()
        district, team_id = entity_value(tracker, "district"), entity_value(tracker, "team")
        if district and team_id in kb.teams:
            team = kb.teams[team_id]
            text = message(
                "team_for_district",
                district=district,
                team_name=team.name,
                team_office=marked(team.office, team.sample),
                team_drop_in=marked(team.drop_in, team.sample),
            )
            dispatcher.utter_message(text=text)
            pending = tracker.get_slot("pending_article")
            if pending in kb.articles:
                return send_article(pending, dispatcher, tracker)
            return []
        place = entity_value(tracker, "place")
        if place:
            outside = fold(place) in {fold(p) for p in kb.outside}
            key = "outside_municipality" if outside else "place_unknown"
            dispatcher.utter_message(text=message(key, place=place, municipality=kb.municipality.name))
            return [SlotSet("district", None), SlotSet("team", None)]
        dispatcher.utter_message(text=message("ask_place"))
        return []
