"""action_resolve_area: the team and its drop-in for a district; an honest answer for other places."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.messages import message
from actions.resolve_area import ActionResolveArea
from tests.conftest import make_tracker


async def run(tracker, dispatcher):
    return await ActionResolveArea().run(dispatcher, tracker, {})


def place_entities(district: str, team: str):
    return [{"entity": "district", "value": district}, {"entity": "team", "value": team}]


async def test_a_district_gets_its_nearest_team_with_place_and_drop_in(dispatcher, kb, monkeypatch):
    monkeypatch.setenv("NARA_DEMO_MODE", "1")
    tracker = make_tracker(
        "jag bor i Vasastaden",
        intent="inform_place",
        entities=place_entities("Vasastaden", "skaggetorp"),
        slots={"district": "Vasastaden", "team": "skaggetorp"},
    )
    events = await run(tracker, dispatcher)
    team = kb.teams["skaggetorp"]
    text = dispatcher.messages[0]["text"]
    assert text.startswith(f"Du bor i Vasastaden. Närmast dig finns {team.name} på {team.office} (exempel).")
    assert f"{team.drop_in} (exempel)" in text
    assert events == []


async def test_sample_marks_can_be_switched_off(dispatcher, kb, monkeypatch):
    monkeypatch.setenv("NARA_DEMO_MODE", "0")
    tracker = make_tracker("på Ryd", intent="inform_place", entities=place_entities("Ryd", "ryd"))
    await run(tracker, dispatcher)
    text = dispatcher.messages[0]["text"]
    assert kb.teams["ryd"].drop_in in text and "exempel" not in text


async def test_a_waiting_article_is_answered_once_the_team_is_known(dispatcher):
    tracker = make_tracker(
        "skaggetorp",
        intent="inform_place",
        entities=place_entities("Skäggetorp", "skaggetorp"),
        slots={"pending_article": "kontakt-och-oppettider", "team": "skaggetorp"},
    )
    events = await run(tracker, dispatcher)
    assert dispatcher.messages[0]["text"].startswith("Du bor i Skäggetorp.")
    assert dispatcher.messages[1]["custom"]["article"] == "kontakt-och-oppettider"
    assert SlotSet("pending_article", None) in events


async def test_a_place_outside_the_municipality_gets_an_honest_answer_and_no_team(dispatcher):
    tracker = make_tracker(
        "jag bor i Norrköping",
        intent="inform_place",
        entities=[{"entity": "place", "value": "Norrköping"}],
        slots={"team": "berga"},
    )
    events = await run(tracker, dispatcher)
    assert dispatcher.messages[0]["text"] == message(
        "outside_municipality", place="Norrköping", municipality="Linköpings kommun"
    )
    assert events == [SlotSet("district", None), SlotSet("team", None)]


async def test_an_unknown_place_is_not_guessed(dispatcher):
    tracker = make_tracker(
        "jag bor i Mantorp", intent="inform_place", entities=[{"entity": "place", "value": "Mantorp"}]
    )
    await run(tracker, dispatcher)
    assert dispatcher.messages[0]["text"].startswith("Jag hittar inte Mantorp bland områdena i Linköpings kommun.")


async def test_no_place_at_all_asks_where(dispatcher):
    await run(make_tracker("där jag bor", intent="inform_place"), dispatcher)
    assert dispatcher.messages[0]["text"] == message("ask_place")
