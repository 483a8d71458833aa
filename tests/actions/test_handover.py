"""The handover form's validation, prompts and submission, offline (a temporary SQLite database)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

import actions.handover as handover
from actions.handover import (
    ActionCancelHandover,
    ActionSubmitHandover,
    AskHandoverAbout,
    AskHandoverConsent,
    ValidateHandoverForm,
    conversation_excerpt,
    find_email,
    method_in,
    parse_phone,
)
from bot.store import db, drafts
from bot.store.models import ContactDraft, Handover
from knowledge import hours

FORM = ValidateHandoverForm()
PNR = "19900101-0017"  # a valid personnummer (date and check digit) used only in tests


def tracker(
    text: str = "",
    intent: str = "out_of_scope",
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    loop: str | None = "handover_form",
) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    return Tracker("t", slots or {}, latest, events or [], False, None, {"name": loop} if loop else {}, "action_listen")


def texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


@pytest.mark.parametrize(
    "written",
    [
        "070-123 45 67",
        "0701234567",
        "+46 70 123 45 67",
        "0046701234567",
        "070 1234567",
        "+46(0)70-123 45 67",
        "ring 070-1234567",
    ],
)
def test_a_swedish_mobile_number_written_any_common_way(written):
    number = parse_phone(written)
    assert number is not None and number.national_number == 701234567 and number.country_code == 46


@pytest.mark.parametrize("written", ["123", "hej", "070-12", "00000000000", PNR])
def test_not_phone_numbers(written):
    assert parse_phone(written) is None


def test_email_addresses_are_validated():
    assert find_email("min mejl: Anna.Svensson@Exempel.se tack") == "Anna.Svensson@exempel.se"
    assert find_email("anna@") is None and find_email("anna.se") is None


@pytest.mark.parametrize(
    ("text", "method"),
    [
        ("Ring mig", "phone"),
        ("sms", "SMS"),
        ("mejla mig", "email"),
        ("E-post", "email"),
        ("Jag kommer till drop-in", "dropin"),
        ("helst ett sms", "sms"),
        ("ni kan ringa mig, jag kommer vara hemma", "phone"),
        ("ring mig eller skicka sms", "phone"),
    ],
)
def test_contact_method_words(text, method):
    assert method_in(text) == method.lower()


def validate(slot: str, value: Any, **kw) -> tuple[dict[str, Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    result = getattr(FORM, f"validate_{slot}")(value, dispatcher, tracker(str(value), **kw), {})
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return result, dispatcher


def resolved(result: dict[str, Any]) -> dict[str, Any]:
    """The validation result with the contact draft's reference replaced by what it keeps."""
    reference = result.get("contact_value")
    if reference is None:
        return result
    assert drafts.is_reference(reference) and not re.search(r"\d|@", reference)  # nothing personal in the slot
    with db.session() as s:
        return {**result, "contact_value": drafts.read(s, reference)}


def drafted(value: str) -> str:
    with db.session() as s:
        return drafts.save(s, value)


def test_about_accepts_the_proposal_or_own_words_and_never_a_personnummer():
    proposal, _ = validate("handover_about", "/affirm", intent="affirm", slots={"article": "foraldraskap-tonaring"})
    assert proposal == {"handover_about": "Föräldraskap: Konflikter med en tonåring"}
    own, _ = validate("handover_about", "oro för min son", intent="parenting")
    assert own == {"handover_about": "oro för min son"}
    refused, d = validate("handover_about", f"det gäller mig {PNR}", intent="parenting")
    assert refused == {"handover_about": None} and "personnummer" in texts(d)
    too_long, d = validate("handover_about", "ord " * 200)
    assert too_long == {"handover_about": None}
    no, d = validate("handover_about", "/deny", intent="deny", slots={"topic": "parenting"})
    assert no == {"handover_about": None} and "egna ord" in texts(d)


def test_district_is_resolved_to_the_nearest_team_or_asked_again(kb):
    ok, _ = validate("district", "skaggetorp")
    assert ok == {"district": "Skäggetorp", "team": "skaggetorp"}
    also, _ = validate("district", "jag bor på Ryd")
    assert also["district"] == "Ryd" and also["team"] in kb.teams
    outside, d = validate("district", "Norrköping")
    assert outside == {"district": None, "team": None} and "Norrköping" in texts(d)
    unknown, d = validate("district", "blablabla")
    assert unknown == {"district": None, "team": None} and "område" in texts(d)


def test_contact_method_and_a_number_or_address_typed_straight_away(database):
    assert validate("contact_method", "Ring mig")[0] == {"contact_method": "phone"}
    assert resolved(validate("contact_method", "0701234567")[0]) == {
        "contact_method": "phone",
        "contact_value": "+46701234567",
    }
    assert resolved(validate("contact_method", "sms till 070 123 45 67")[0]) == {
        "contact_method": "sms",
        "contact_value": "+46701234567",
    }
    assert resolved(validate("contact_method", "anna@exempel.se")[0]) == {
        "contact_method": "email",
        "contact_value": "anna@exempel.se",
    }
    assert validate("contact_method", "Jag kommer till drop-in")[0] == {"contact_method": "dropin"}
    unknown, d = validate("contact_method", "vet inte")
    assert unknown == {"contact_method": None} and "drop-in" in texts(d)


def test_contact_value_checks_the_method(database):
    assert resolved(validate("contact_value", "070-123 45 67", slots={"contact_method": "sms"})[0]) == {
        "contact_value": "+46701234567"
    }
    landline_sms, d = validate("contact_value", "013-20 60 00", slots={"contact_method": "sms"})
    assert landline_sms == {"contact_value": None} and "mobilnummer" in texts(d)
    assert resolved(validate("contact_value", "013-20 60 00", slots={"contact_method": "phone"})[0]) == {
        "contact_value": "+4613206000"
    }
    bad, d = validate("contact_value", "anna(at)exempel", slots={"contact_method": "email"})
    assert bad == {"contact_value": None}
    pnr, d = validate("contact_value", PNR, slots={"contact_method": "phone"})
    assert pnr == {"contact_value": None} and "personnummer" in texts(d)


def test_only_the_slots_a_method_needs_are_asked():
    def required(method):
        return asyncio.run(
            FORM.required_slots([], CollectingDispatcher(), tracker(slots={"contact_method": method}), {})
        )

    assert required("dropin") == ["handover_about", "district", "contact_method", "handover_consent"]
    assert required("email") == ["handover_about", "district", "contact_method", "contact_value", "handover_consent"]
    assert "preferred_time" in required("sms") and "preferred_time" in required("phone")


def test_consent_yes_change_a_part_or_ask_what_to_change():
    assert validate("handover_consent", "/affirm", intent="affirm")[0] == {"handover_consent": True}
    number, _ = validate("handover_consent", "ändra numret", intent="out_of_scope")
    assert number == {"handover_consent": None, "contact_method": None, "contact_value": None, "preferred_time": None}
    place, _ = validate("handover_consent", "ändra var jag bor")
    assert place == {"handover_consent": None, "district": None, "team": None}
    what, d = validate("handover_consent", "ändra", intent="deny")
    assert what == {"handover_consent": None} and "Vad vill du ändra" in texts(d)
    assert {b["payload"] for b in d.messages[0]["buttons"]} >= {"ändra var jag bor", "/cancel"}


def user(text: str) -> dict[str, Any]:
    return {"event": "user", "text": text}


def test_the_excerpt_is_the_residents_own_words_before_the_form_without_personnummer():
    events = [
        user("min son vill inte gå till skolan"),
        user("/request_contact"),
        user(f"mitt personnummer är {PNR}"),
        {"event": "active_loop", "name": "handover_form"},
        user("070-123 45 67"),
    ]
    assert conversation_excerpt(tracker(events=events)) == [
        "min son vill inte gå till skolan",
        "mitt personnummer är [personnummer]",
    ]


def test_a_contact_detail_is_refused_politely_when_it_cannot_be_kept_aside(monkeypatch, tmp_path):
    monkeypatch.setenv("NARA_DATABASE_URL", f"sqlite:///{tmp_path}/missing/x.db")
    (tmp_path / "missing").write_text("not a directory")
    result, d = validate("contact_value", "070-123 45 67", slots={"contact_method": "phone"})
    assert result == {"contact_value": None, "contact_method": None} and "drop-in" in texts(d)


def test_the_summary_shows_what_the_social_worker_will_read_before_anything_is_sent(database):
    slots = {
        "handover_about": "oro för min son",
        "district": "Berga",
        "team": "berga",
        "contact_method": "sms",
        "contact_value": drafted("+46701234567"),
        "preferred_time": "Förmiddag",
    }
    d = CollectingDispatcher()
    asyncio.run(AskHandoverConsent().run(d, tracker(slots=slots, events=[user("han är jätteledsen")]), {}))
    text = texts(d)
    for part in (
        "oro för min son",
        "Berga",
        "Områdesteam Berga",
        "070-123 45 67",
        "förmiddag",
        "han är jätteledsen",
        "Inget skickas",
    ):
        assert part in text
    assert [b["payload"] for b in d.messages[0]["buttons"]] == ["/affirm", "ändra", "/cancel"]


def test_the_first_question_proposes_the_topic_and_says_no_application_no_personnummer():
    d = CollectingDispatcher()
    events = asyncio.run(AskHandoverAbout().run(d, tracker(slots={"topic": "loneliness", "team": "ryd"}), {}))
    assert (
        "Områdesteam Ryd" in texts(d) and "Ensamhet" in texts(d) and "personnummer" in texts(d) and "ansöka" in texts(d)
    )
    assert SlotSet("handover_about_asked", True) in events


def test_a_summary_whose_contact_draft_is_gone_asks_for_it_again(database):
    slots = {"district": "Berga", "team": "berga", "contact_method": "phone", "contact_value": "draft:gone"}
    d = CollectingDispatcher()
    events = asyncio.run(AskHandoverConsent().run(d, tracker(slots=slots), {}))
    assert SlotSet("contact_value", None) in events and "igen" in texts(d)


def test_cancel_resets_everything_leaves_the_form_and_drops_the_contact_draft(database):
    d = CollectingDispatcher()
    reference = drafted("+46701234567")
    events = asyncio.run(ActionCancelHandover().run(d, tracker(slots={"contact_value": reference}), {}))
    assert ActiveLoop(None) in events and SlotSet("contact_value", None) in events
    assert "Ingenting har sparats" in texts(d)
    with db.session() as s:
        assert drafts.read(s, reference) is None


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'nara.db'}"
    db.upgrade(url)
    monkeypatch.setenv("NARA_DATABASE_URL", url)
    monkeypatch.delenv("NARA_SMTP_HOST", raising=False)
    return url


def frozen(at: str):
    real = hours.moment
    return lambda municipality, now=None: real(municipality, dt.datetime.fromisoformat(at))


def submit(slots: dict[str, Any], monkeypatch, at: str = "2026-11-23T10:00:00+01:00") -> CollectingDispatcher:
    monkeypatch.setattr(handover, "moment", frozen(at))
    d = CollectingDispatcher()

    async def run():
        events = await ActionSubmitHandover().run(
            d, tracker(slots=slots, events=[user("min dotter är ensam")], loop=None), {}
        )
        await asyncio.sleep(0.05)  # let the fire-and-forget notification finish
        return events

    asyncio.run(run())
    return d


BASE = {
    "handover_about": "oro för min dotter",
    "district": "Berga",
    "team": "berga",
    "topic": "loneliness",
    "handover_consent": True,
}


def stored(url: str) -> list[Handover]:
    with db.session(url) as s:
        return list(s.query(Handover))


@pytest.mark.parametrize(
    ("at", "promise"),
    [
        ("2026-11-23T10:00:00+01:00", "i dag"),  # Monday morning, office hours
        ("2026-11-23T16:10:00+01:00", "nästa vardag, tisdag 24 november"),  # just before closing
        ("2026-11-24T02:00:00+01:00", "nästa vardag, tisdag 24 november"),  # a weekday night: that morning
        ("2026-11-24T19:00:00+01:00", "nästa vardag, onsdag 25 november"),  # a weekday evening
        ("2026-11-21T23:30:00+01:00", "nästa vardag, måndag 23 november"),  # Saturday night
        ("2026-12-24T09:00:00+01:00", "nästa vardag, måndag 28 december"),  # julafton, then a weekend
        ("2026-06-19T11:00:00+02:00", "nästa vardag, måndag 22 juni"),  # midsommarafton
    ],
)
def test_submit_stores_the_handover_and_promises_honest_timing(database, monkeypatch, at, promise):
    d = submit(
        {**BASE, "contact_method": "sms", "contact_value": drafted("+46701234567"), "preferred_time": "Förmiddag"},
        monkeypatch,
        at,
    )
    [row] = stored(database)
    assert (row.team_id, row.district, row.topic, row.contact_method, row.contact_value) == (
        "berga",
        "Berga",
        "loneliness",
        "sms",
        "+46701234567",
    )
    assert row.summary == "oro för min dotter" and row.excerpt == "min dotter är ensam"
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{3}-[A-HJKMNP-Z2-9]{3}", row.code)
    text = texts(d)
    assert row.code in text and promise in text and "112" in text
    assert d.messages[0]["custom"]["handover"] == {"code": row.code, "team": "berga", "contact_method": "sms"}
    with db.session(database) as s:
        assert s.query(ContactDraft).count() == 0  # the number moved into the handover, the draft is gone


def test_a_handover_whose_contact_draft_is_gone_is_not_sent(database, monkeypatch):
    d = submit({**BASE, "contact_method": "phone", "contact_value": "draft:gone", "preferred_time": "Nu"}, monkeypatch)
    assert stored(database) == [] and "Ingenting har skickats" in texts(d)


def test_dropin_stores_no_contact_details_and_says_where_to_come(database, monkeypatch):
    d = submit({**BASE, "contact_method": "dropin", "contact_value": "+46701234567"}, monkeypatch)
    [row] = stored(database)
    assert row.contact_value is None and row.contact_method == "dropin"
    assert row.code in texts(d) and "Berga centrum" in texts(d)


def test_nothing_is_stored_without_consent(database, monkeypatch):
    submit(
        {**BASE, "handover_consent": None, "contact_method": "phone", "contact_value": drafted("+4670123")}, monkeypatch
    )
    assert stored(database) == []


def test_a_database_that_is_down_gets_an_apology_and_the_way_in_without_nara(monkeypatch, tmp_path):
    monkeypatch.setenv("NARA_DATABASE_URL", f"sqlite:///{tmp_path}/missing/dir/that/is/a/file.db/x.db")
    (tmp_path / "missing").write_text("not a directory")
    d = submit({**BASE, "contact_method": "phone", "contact_value": "+46701234567"}, monkeypatch)
    assert "Ingenting har sparats" in texts(d) and "112" in texts(d) and "drop-in" in texts(d)
    assert not d.messages[0]["custom"]


def test_after_a_crisis_the_form_does_not_ask_what_it_is_about_and_the_handover_is_urgent(database, monkeypatch):
    slots = {"in_crisis": "suicide_self_harm", "contact_method": "phone"}
    required = asyncio.run(FORM.required_slots([], CollectingDispatcher(), tracker(slots=slots), {}))
    assert "handover_about" not in required
    base = {k: v for k, v in BASE.items() if k != "handover_about"}
    d = submit({**base, **slots, "contact_value": drafted("+46701234567"), "handover_urgent": True}, monkeypatch)
    [row] = stored(database)
    assert (
        row.urgent
        and row.summary == "Brådskande: skrev i chatten om självmordstankar eller självskada och vill bli kontaktad"
    )
    assert "så snart som möjligt i dag" in texts(d)


@pytest.mark.parametrize("intent", ["cancel", "crisis"])
def test_a_cancel_or_a_crisis_is_never_taken_as_the_place(intent):
    t = tracker("jag orkar inte leva längre", intent=intent, slots={"requested_slot": "district"})
    assert asyncio.run(FORM.extract_district(CollectingDispatcher(), t, {})) == {}
