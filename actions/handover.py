"""The warm handover: a form that gathers what the area social worker needs, with the resident's consent.

What it is about (proposed from the conversation, confirmed or corrected), where they live (known from
the conversation, else asked), how to be contacted (call, SMS, e-mail, or drop-in with a code and no
personal data at all) and when. It shows the summary the social worker will read and sends nothing
without an explicit yes. "Avbryt" at any step stores nothing. It never asks for a personnummer, and one
typed by mistake is not kept.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import knowledge, place_resolver, user_team
from actions.messages import message
from bot.privacy import has_personnummer, redact
from bot.store import drafts
from knowledge.areas import team_for
from knowledge.hours import moment
from knowledge.model import Knowledge, Team
from knowledge.render import marked
from knowledge.text import fold

logger = logging.getLogger(__name__)

FORM = "handover_form"
FORM_SLOTS = ("handover_about", "contact_method", "contact_value", "preferred_time", "handover_consent")
MAX_ABOUT_CHARS = 500
MAX_TIME_CHARS = 100
EXCERPT_MESSAGES = 5
EXCERPT_MESSAGE_CHARS = 300

# Intents that are never an answer to a form question: the form lets their rules take over.
NOT_ANSWERS = ("cancel", "crisis", "erase_conversation")
TOPIC_TITLES = {
    "parenting": "Föräldraskap",
    "school_absence": "Skolfrånvaro",
    "loneliness": "Ensamhet",
    "relationships": "Relationer",
    "crime_worry": "Oro för kriminalitet eller droger",
    "violence": "Våld",
    "crisis": "Kris",
}
METHODS = ("phone", "sms", "email", "dropin")
# Words that choose a contact method, matched on folded words (no å/ä/ö, lower case).
METHOD_WORDS = {
    "sms": ("sms", "sms:a", "smsa", "sms:", "messa", "textmeddelande", "textmeddelanden"),
    "email": ("mejl", "mejla", "mail", "maila", "email", "e-post", "epost", "e-mail", "mejlet", "mejladress"),
    "dropin": ("drop-in", "dropin", "drop", "droppin", "besok", "besoka", "kod", "koden"),
    "phone": ("ring", "ringa", "ringer", "samtal", "telefon", "telefonsamtal", "lur", "uppringd"),
}
# Message keys per contact method (literal keys: tests check that every message is used).
METHOD_BUTTONS = {
    "phone": "handover_method_phone",
    "sms": "handover_method_sms",
    "email": "handover_method_email",
    "dropin": "handover_method_dropin",
}
CONTACT_LINES = {"phone": "handover_contact_phone", "sms": "handover_contact_sms", "email": "handover_contact_email"}
DONE = {"phone": "handover_done_phone", "sms": "handover_done_sms", "email": "handover_done_email"}
CRISIS_KINDS = {
    "suicide_self_harm": "crisis_kind_suicide",
    "acute_violence": "crisis_kind_violence",
    "child_harm": "crisis_kind_child",
    "honour_oppression": "crisis_kind_honour",
}
TIME_CHOICES = ("Förmiddag", "Eftermiddag", "Spelar ingen roll")
CHANGE_WORDS = {
    "about": ("gäller", "galler", "ärende", "arende", "vad det", "om", "beskrivning", "texten"),
    "district": ("bor", "område", "omrade", "plats", "stadsdel"),
    "contact": ("kontakt", "når", "nar mig", "nummer", "numret", "mejl", "mail", "e-post", "sms", "ring", "sätt"),
    "time": ("tid", "när", "passar", "tiden"),
}


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _text(tracker: Tracker) -> str:
    return (tracker.latest_message.get("text") or "").strip()


def _is_button_payload(text: str) -> bool:
    return text.startswith("/")


def proposed_about(tracker: Tracker, kb: Knowledge) -> str | None:
    """What the conversation was about, as a social worker would file it: the topic and the article read."""
    topic = tracker.get_slot("topic")
    article = kb.articles.get(tracker.get_slot("article") or "")
    if article is not None and article.topic in TOPIC_TITLES:
        return f"{TOPIC_TITLES[article.topic]}: {article.title}"
    if topic in TOPIC_TITLES:
        return TOPIC_TITLES[topic]
    return None


def conversation_excerpt(tracker: Tracker) -> list[str]:
    """The resident's own messages before the handover began (newest last), with personnummer, phone
    numbers, e-mail and street addresses replaced by placeholders."""
    texts: list[str] = []
    for event in tracker.events:
        if event.get("event") == "active_loop" and event.get("name") == FORM:
            break  # what follows are answers to the form, which the summary already holds
        if event.get("event") != "user":
            continue
        text = (event.get("text") or "").strip()
        if not text or _is_button_payload(text):
            continue
        texts.append(redact(text)[:EXCERPT_MESSAGE_CHARS])
    return texts[-EXCERPT_MESSAGES:]


def parse_phone(text: str) -> phonenumbers.PhoneNumber | None:
    """A Swedish (or international) number written any common way: 070-123 45 67, +46701234567, 0046..."""
    candidate = re.sub(r"[^\d+]", "", text.replace("(0)", ""))
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    if len(re.sub(r"\D", "", candidate)) < 7:
        return None
    try:
        number = phonenumbers.parse(candidate, "SE")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def is_mobile(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def display_phone(e164: str) -> str:
    number = phonenumbers.parse(e164, "SE")
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 46
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)


def find_email(text: str) -> str | None:
    match = re.search(r"[^\s<>,;:]+@[^\s<>,;:]+\.[^\s<>,;:]+", text)
    if not match:
        return None
    try:
        return validate_email(match.group(0).rstrip("."), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def method_in(text: str) -> str | None:
    """The contact method the text names first ("ring mig, eller sms" is a call)."""
    for token in re.findall(r"[\w:-]+", fold(text)):
        for method, words_ in METHOD_WORDS.items():
            if token in words_:
                return method
    return None


def summary_after_crisis(tracker: Tracker) -> str:
    kind = tracker.get_slot("in_crisis")
    return message("handover_about_crisis", kind=message(CRISIS_KINDS.get(kind, "crisis_kind_other")))


def contact_line(method: str | None, value: str | None, when: str | None) -> str:
    if method == "dropin":
        return message("handover_contact_dropin")
    shown = display_phone(value) if method in ("phone", "sms") and value else (value or "")
    line = message(CONTACT_LINES[method], value=shown)
    if when:
        line += ", " + message("handover_contact_when", when=when.lower())
    return line


def _in_store(work, *args):
    from bot.store import db

    with db.session() as s:
        return work(s, *args)


async def keep_aside(result: dict[str, Any], dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """Puts a phone number or e-mail address into a contact draft and only its reference into the slot,
    so that the conversation (which is kept for weeks) never holds it."""
    value = result.get("contact_value")
    if not value:
        return result
    try:
        return {**result, "contact_value": await asyncio.to_thread(_in_store, drafts.save, value)}
    except Exception:
        logger.exception("Could not keep a contact draft")
        dispatcher.utter_message(text=message("handover_draft_failed"))
        return {**result, "contact_method": None, "contact_value": None}


async def contact_of(tracker: Tracker) -> str | None:
    """The number or address behind the form's reference (None if it is gone or unreadable)."""
    reference = tracker.get_slot("contact_value")
    if not drafts.is_reference(reference):
        return None
    try:
        return await asyncio.to_thread(_in_store, drafts.read, reference)
    except Exception:
        logger.exception("Could not read a contact draft")
        return None


async def drop_contact(tracker: Tracker) -> None:
    try:
        await asyncio.to_thread(_in_store, drafts.drop, tracker.get_slot("contact_value"))
    except Exception:
        logger.exception("Could not drop a contact draft (nara purge removes it within two hours)")


class ValidateHandoverForm(FormValidationAction):
    def name(self) -> str:
        return "validate_handover_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        # After a crisis reply the call-back is the point: no need to describe it again.
        slots = (
            ["district", "contact_method"]
            if tracker.get_slot("in_crisis")
            else ["handover_about", "district", "contact_method"]
        )
        method = tracker.get_slot("contact_method")
        if method in ("phone", "sms", "email"):
            slots.append("contact_value")
        if method in ("phone", "sms"):
            slots.append("preferred_time")
        slots.append("handover_consent")
        return slots

    async def extract_district(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A place typed while the form asks for it, even one PlaceExtractor did not recognise."""
        if tracker.get_slot("requested_slot") != "district" or _intent(tracker) in NOT_ANSWERS:
            return {}
        return {"district": _text(tracker) or None}

    def validate_handover_about(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text, intent = str(value or "").strip(), _intent(tracker)
        proposal = proposed_about(tracker, knowledge())
        if intent == "affirm" and proposal:
            return {"handover_about": proposal}
        if intent == "deny" or _is_button_payload(text) or len(text) < 2:
            dispatcher.utter_message(text=message("handover_ask_about_own_words"))
            return {"handover_about": None}
        if has_personnummer(text):
            dispatcher.utter_message(text=message("handover_no_personnummer"))
            return {"handover_about": None}
        if len(text) > MAX_ABOUT_CHARS:
            dispatcher.utter_message(text=message("handover_about_too_long", limit=str(MAX_ABOUT_CHARS)))
            return {"handover_about": None}
        return {"handover_about": text}

    def validate_district(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        kb = knowledge()
        text = str(value or "").strip()
        known = kb.district(text)
        place = None if known else place_resolver().resolve(text)
        if known is None and place is not None and place.kind == "district":
            known = place.district
        if known is not None:
            return {"district": known.name, "team": team_for(known, kb).id}
        if place is not None and place.kind == "outside":
            dispatcher.utter_message(
                text=message("outside_municipality", place=place.name, municipality=kb.municipality.name)
            )
        else:
            dispatcher.utter_message(text=message("handover_place_unknown", municipality=kb.municipality.name))
        return {"district": None, "team": None}

    async def validate_contact_method(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await keep_aside(self.check_contact_method(value, dispatcher), dispatcher)

    async def validate_contact_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await keep_aside(self.check_contact_value(value, dispatcher, tracker), dispatcher)

    @staticmethod
    def check_contact_method(value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        """The contact method, and the number or address when one was typed straight away (as written)."""
        text = str(value or "")
        if has_personnummer(text):
            dispatcher.utter_message(text=message("handover_no_personnummer"))
            return {"contact_method": None}
        if text in METHODS:
            return {"contact_method": text}
        # A number or an address typed straight away says both how and where.
        email = find_email(text)
        if email:
            return {"contact_method": "email", "contact_value": email}
        phone = parse_phone(text)
        chosen = method_in(text)
        if phone is not None:
            method = "sms" if chosen == "sms" and is_mobile(phone) else "phone"
            return {
                "contact_method": method,
                "contact_value": phonenumbers.format_number(phone, phonenumbers.PhoneNumberFormat.E164),
            }
        if chosen:
            return {"contact_method": chosen}
        dispatcher.utter_message(text=message("handover_method_unknown"))
        return {"contact_method": None}

    @staticmethod
    def check_contact_value(value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """The phone number (E.164) or e-mail address for the chosen method, or None and why."""
        text, method = str(value or "").strip(), tracker.get_slot("contact_method")
        if has_personnummer(text):
            dispatcher.utter_message(text=message("handover_no_personnummer"))
            return {"contact_value": None}
        if method == "email":
            email = find_email(text)
            if email:
                return {"contact_value": email}
            dispatcher.utter_message(text=message("handover_email_invalid"))
            return {"contact_value": None}
        phone = parse_phone(text)
        if phone is None:
            dispatcher.utter_message(text=message("handover_phone_invalid"))
            return {"contact_value": None}
        if method == "sms" and not is_mobile(phone):
            dispatcher.utter_message(text=message("handover_sms_needs_mobile"))
            return {"contact_value": None}
        return {"contact_value": phonenumbers.format_number(phone, phonenumbers.PhoneNumberFormat.E164)}

    def validate_preferred_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if has_personnummer(text) or not text or _is_button_payload(text):
            if has_personnummer(text):
                dispatcher.utter_message(text=message("handover_no_personnummer"))
            return {"preferred_time": None}
        return {"preferred_time": text[:MAX_TIME_CHARS]}

    def validate_handover_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text, intent = str(value or "").strip(), _intent(tracker)
        if intent == "affirm" and "ändra" not in text.lower():
            return {"handover_consent": True}
        folded = fold(text)
        cleared: dict[str, Any] = {}
        if any(fold(w) in folded for w in CHANGE_WORDS["about"]):
            cleared["handover_about"] = None
        if any(fold(w) in folded for w in CHANGE_WORDS["district"]):
            cleared.update(district=None, team=None)
        if any(fold(w) in folded for w in CHANGE_WORDS["contact"]):
            cleared.update(contact_method=None, contact_value=None, preferred_time=None)
        if any(fold(w) in folded.split() for w in CHANGE_WORDS["time"]) and "contact_method" not in cleared:
            cleared["preferred_time"] = None
        if not cleared:
            dispatcher.utter_message(
                text=message("handover_what_to_change"),
                buttons=[
                    {"title": message("handover_change_about"), "payload": "ändra vad det gäller"},
                    {"title": message("handover_change_district"), "payload": "ändra var jag bor"},
                    {"title": message("handover_change_contact"), "payload": "ändra hur ni når mig"},
                    {"title": message("handover_change_time"), "payload": "ändra tiden"},
                    {"title": message("handover_cancel_button"), "payload": "/cancel"},
                ],
            )
            return {"handover_consent": None}
        return {"handover_consent": None, **cleared}


class AskHandoverAbout(Action):
    def name(self) -> str:
        return "action_ask_handover_about"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        kb = knowledge()
        team = user_team(tracker, kb)
        intro = message("handover_intro", who=team.name if team else message("handover_who_unknown"))
        proposal = proposed_about(tracker, kb)
        if proposal and not tracker.get_slot("handover_about_asked"):
            dispatcher.utter_message(
                text=intro + "\n\n" + message("handover_confirm_about", about=proposal),
                buttons=[
                    {"title": message("handover_yes_right"), "payload": "/affirm"},
                    {"title": message("handover_no_own_words"), "payload": "/deny"},
                    {"title": message("handover_cancel_button"), "payload": "/cancel"},
                ],
            )
            return [SlotSet("handover_about_asked", True)]
        asked = tracker.get_slot("handover_about_asked")
        text = message("handover_ask_about") if asked else intro + "\n\n" + message("handover_ask_about")
        dispatcher.utter_message(text=text)
        return [SlotSet("handover_about_asked", True)]


class AskDistrict(Action):
    def name(self) -> str:
        return "action_ask_district"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=message("ask_place"))
        return []


class AskContactMethod(Action):
    def name(self) -> str:
        return "action_ask_contact_method"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(
            text=message("handover_ask_method"),
            buttons=[{"title": message(key), "payload": message(key)} for key in METHOD_BUTTONS.values()],
        )
        return []


class AskContactValue(Action):
    def name(self) -> str:
        return "action_ask_contact_value"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        key = "handover_ask_email" if tracker.get_slot("contact_method") == "email" else "handover_ask_phone"
        dispatcher.utter_message(text=message(key))
        return []


class AskPreferredTime(Action):
    def name(self) -> str:
        return "action_ask_preferred_time"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(
            text=message("handover_ask_time"), buttons=[{"title": t, "payload": t} for t in TIME_CHOICES]
        )
        return []


class AskHandoverConsent(Action):
    def name(self) -> str:
        return "action_ask_handover_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        kb = knowledge()
        team = user_team(tracker, kb)
        method = tracker.get_slot("contact_method")
        value = await contact_of(tracker) if method in CONTACT_LINES else None
        if method in CONTACT_LINES and value is None:  # the draft is gone: ask again
            dispatcher.utter_message(text=message("handover_contact_expired"))
            return [SlotSet("contact_value", None), SlotSet("requested_slot", "contact_value")]
        lines = [
            message(
                "handover_summary_about", about=tracker.get_slot("handover_about") or summary_after_crisis(tracker)
            ),
            message(
                "handover_summary_district", district=tracker.get_slot("district") or "", team=team.name if team else ""
            ),
            message(
                "handover_summary_contact",
                contact=contact_line(method, value, tracker.get_slot("preferred_time")),
            ),
        ]
        excerpt = conversation_excerpt(tracker)
        if excerpt:
            lines.append(message("handover_summary_excerpt", excerpt=" / ".join(f"”{t}”" for t in excerpt)))
        dispatcher.utter_message(
            text=message("handover_summary", summary="\n".join(lines), team=team.name if team else ""),
            buttons=[
                {"title": message("handover_send_button"), "payload": "/affirm"},
                {"title": message("handover_change_button"), "payload": "ändra"},
                {"title": message("handover_cancel_button"), "payload": "/cancel"},
            ],
        )
        return []


def reset_form() -> list[EventType]:
    """Clears what the form gathered (the place and the topic stay: they are the conversation's)."""
    return [SlotSet(slot, None) for slot in (*FORM_SLOTS, "handover_about_asked", "handover_urgent", "requested_slot")]


class ActionCancelHandover(Action):
    def name(self) -> str:
        return "action_cancel_handover"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        await drop_contact(tracker)
        if tracker.active_loop.get("name") == FORM:
            dispatcher.utter_message(text=message("handover_cancelled"))
        else:
            dispatcher.utter_message(text=message("handover_nothing_to_cancel"))
        return [ActiveLoop(None), *reset_form()]


def _notify(team_id: str, code: str) -> None:
    """The team's mailbox hears that there is a new handover: a link, no personal data (never raises)."""
    from bot.staff.notify import base_url_from_env, notify_team, smtp_from_env

    notify_team(None, team_id, code, base_url_from_env(), smtp_from_env())


def store_handover(fields: dict[str, Any], team: Team, contact_reference: str | None = None) -> str:
    """Saves the handover (creating the team row on first use) with the contact detail from its draft,
    which is deleted in the same transaction; returns its code."""
    from bot.store import db
    from bot.store.handovers import create_handover
    from bot.store.models import Team as TeamRow
    from bot.store.teams import sync_teams

    with db.session() as s:
        if s.get(TeamRow, team.id) is None:  # a database `nara teams` has not filled yet
            sync_teams(s, knowledge())
        if fields["contact_method"] in CONTACT_LINES:
            fields = {**fields, "contact_value": drafts.read(s, contact_reference)}
            if not fields["contact_value"]:
                raise LookupError("the contact draft is gone")
        drafts.drop(s, contact_reference)
        return create_handover(s, team_id=team.id, **fields).code


class ActionSubmitHandover(Action):
    def name(self) -> str:
        return "action_submit_handover"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        kb = knowledge()
        team = user_team(tracker, kb)
        if tracker.get_slot("handover_consent") is not True or team is None:
            dispatcher.utter_message(text=message("handover_cancelled"))
            return reset_form()
        method = tracker.get_slot("contact_method")
        excerpt = conversation_excerpt(tracker)
        fields = {
            "district": tracker.get_slot("district"),
            "topic": tracker.get_slot("topic"),
            "summary": redact(tracker.get_slot("handover_about") or summary_after_crisis(tracker)),
            "excerpt": "\n".join(excerpt) or None,
            "contact_method": method,
            "contact_value": None,  # from the draft, in store_handover
            "preferred_time": tracker.get_slot("preferred_time"),
            "urgent": bool(tracker.get_slot("handover_urgent")),
        }
        try:
            code = await asyncio.to_thread(store_handover, fields, team, tracker.get_slot("contact_value"))
        except LookupError:
            dispatcher.utter_message(text=message("handover_contact_expired_at_send"))
            return reset_form()
        except Exception:
            logger.exception("Could not store a handover")
            dispatcher.utter_message(
                text=message("handover_store_failed", team=team.name, drop_in=marked(team.drop_in, team.sample))
            )
            return reset_form()
        asyncio.get_running_loop().run_in_executor(None, _notify, team.id, code)
        now = moment(kb.municipality)
        if method == "dropin":
            text = message(
                "handover_done_dropin",
                code=code,
                team=team.name,
                office=marked(team.office, team.sample),
                drop_in=marked(team.drop_in, team.sample),
            )
        else:
            when = message("handover_asap_today") if fields["urgent"] and now.open_now else now.reply_promise()
            text = message(DONE[method], code=code, team=team.name, when=when)
        text += "\n\n" + message("handover_if_urgent", socialjour=kb.municipality.placeholders["socialjour"].text)
        dispatcher.utter_message(
            text=text, json_message={"handover": {"code": code, "team": team.id, "contact_method": method}}
        )
        return reset_form()
