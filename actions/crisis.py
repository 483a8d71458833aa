"""The crisis reply: first, on its own, with the right numbers for the kind and the hour; then Nära stays.

It never closes the conversation and never follows with an unrelated article. In office hours it offers
an immediate call-back from the area team (an urgent handover, first in the staff queue); outside them
it says what is open now. Before a person gives details about a child at risk, it says what the duty to
report means and that anyone can make an orosanmälan.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer_article import ActionAnswerArticle
from actions.common import contact_button, knowledge, user_team
from actions.handover import FORM, reset_form
from actions.messages import message
from knowledge.hours import Moment, moment
from knowledge.model import Knowledge, Line
from knowledge.render import marked

CRISIS_KEY = "crisis"
REPORT_ARTICLE = "orosanmalan"
# The first words of the reply, per kind: plain, calm, taking the person seriously.
LEADS = {
    "suicide_self_harm": "crisis_lead_suicide",
    "acute_violence": "crisis_lead_violence",
    "child_harm": "crisis_lead_child",
    "honour_oppression": "crisis_lead_honour",
}
# The lines that fit each kind, from knowledge/lines.yml (never a number written here).
LINES_FOR = {
    "suicide_self_harm": ("sjalvmordslinjen",),
    "acute_violence": ("kvinnofridslinjen",),
    "child_harm": (),
    "honour_oppression": ("kvinnofridslinjen",),
}


def line(kb: Knowledge, line_id: str) -> Line:
    return next(x for x in kb.lines if x.id == line_id)


def describe(line_: Line) -> str:
    """'Mind Självmordslinjen: ring 90101 eller chatta på mind.se (dygnet runt). Självmordstankar, …'"""
    how = message("crisis_line_call", number=line_.number)
    if line_.chat:
        how += " " + message("crisis_line_chat", chat=line_.chat)
    return message("crisis_line", name=line_.name, how=how, hours=line_.hours, purpose=line_.for_)


def crisis_reply(crisis: dict[str, Any], now: Moment, kb: Knowledge, team_name: str | None) -> tuple[str, list[dict]]:
    """The text and buttons of the crisis reply: kind, writer and the hour decide what it says."""
    kinds = list(crisis.get("kinds") or [crisis["kind"]])
    child_writer = bool(crisis.get("child_writer"))
    parts = [message(LEADS[crisis["kind"]]), message("crisis_112")]
    line_ids: list[str] = ["bris"] if child_writer else []
    for kind in kinds:
        line_ids += [i for i in LINES_FOR[kind] if i not in line_ids]
    parts += ["- " + describe(line(kb, i)) for i in line_ids]
    socialjour = kb.municipality.placeholders["socialjour"]
    if not now.open_now:
        parts.append(message("crisis_socialjour", socialjour=marked(socialjour.text, socialjour.sample)))
    buttons: list[dict[str, str]] = []
    if "child_harm" in kinds:
        contact = kb.municipality.placeholders["social_services_contact"]
        parts.append(message("duty_to_report", contact=marked(contact.text, contact.sample)))
        buttons.append(
            {"title": message("crisis_report_button"), "payload": f'/crisis{{"article": "{REPORT_ARTICLE}"}}'}
        )
    elif child_writer:
        parts.append(message("duty_to_report_child"))  # the same duty, said to the child it concerns
    who = team_name or message("crisis_team_unknown")
    if now.reply_today:
        parts.append(message("crisis_stay_open", who=who))
        buttons.insert(0, {"title": message("crisis_call_me_button"), "payload": "/request_contact"})
    else:
        opens = kb.municipality.office_hours.opens.strftime("%H.%M")
        parts.append(message("crisis_stay_closed", who=who[0].upper() + who[1:], when=now.reply_promise(), opens=opens))
        buttons.append({"title": message("crisis_contact_later_button"), "payload": "/request_contact"})
    return "\n\n".join(parts), buttons


class ActionCrisis(Action):
    def name(self) -> str:
        return "action_crisis"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        crisis = tracker.latest_message.get(CRISIS_KEY)
        events: list[EventType] = []
        if tracker.active_loop.get("name") == FORM:  # a crisis interrupts the handover form
            events += [ActiveLoop(None), *reset_form()]
        if not crisis:
            # The crisis intent without a detected crisis: a question about acute help or about reporting
            # worry for a child, answered from its article.
            return events + await ActionAnswerArticle().run(dispatcher, tracker, domain)
        kb = knowledge()
        team = user_team(tracker, kb)
        now = moment(kb.municipality)
        text, buttons = crisis_reply(crisis, now, kb, team.name if team else None)
        dispatcher.utter_message(text=text, buttons=buttons, json_message={"crisis": crisis["kind"]})
        return events + [
            SlotSet("in_crisis", crisis["kind"]),
            SlotSet("topic", "crisis"),
            SlotSet("handover_urgent", True),
        ]


def stay_with_person(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """After a crisis reply, a message Nära does not understand gets presence and the way to a person,
    not a list of unrelated articles."""
    kb = knowledge()
    now = moment(kb.municipality)
    parts = [message("crisis_still_here"), message("crisis_112")]
    kind = tracker.get_slot("in_crisis")
    parts += ["- " + describe(line(kb, i)) for i in LINES_FOR.get(kind, ())]
    if not now.open_now:
        socialjour = kb.municipality.placeholders["socialjour"]
        parts.append(message("crisis_socialjour", socialjour=marked(socialjour.text, socialjour.sample)))
    dispatcher.utter_message(text="\n\n".join(parts), buttons=[contact_button()], json_message={"crisis": kind})
    return []
