"""Places in free text -> district and nearest team, over the real areas data."""

from __future__ import annotations

import pytest

from knowledge.areas import PlaceResolver, haversine_km, team_for
from knowledge.loader import cached_knowledge
from knowledge.text import fold

KB = cached_knowledge()
DISTRICTS = [d.name for d in KB.districts]


@pytest.fixture(scope="module")
def resolver() -> PlaceResolver:
    return PlaceResolver(KB)


def test_haversine_matches_a_known_distance():
    # Linköping (58.41, 15.62) to Norrköping (58.59, 16.19): about 38 km as the crow flies.
    assert 36 < haversine_km(58.41, 15.62, 58.59, 16.19) < 40


@pytest.mark.parametrize("name", DISTRICTS)
@pytest.mark.parametrize("template", ["{}", "jag bor i {}", "vi bor ute på {} sedan i somras", "bor i {}!"])
def test_every_district_is_recognised_however_it_is_written(resolver, name, template):
    for written in (name, name.lower(), fold(name), name.upper()):
        place = resolver.resolve(template.format(written))
        assert place is not None and place.kind == "district" and place.name == name, written


@pytest.mark.parametrize("name", DISTRICTS)
def test_every_district_has_a_team(name):
    district = KB.district(name)
    assert team_for(district, KB).id in KB.teams


@pytest.mark.parametrize("team_id", ["lambohov", "berga", "skaggetorp", "ryd", "ekholmen"])
def test_a_district_with_its_own_team_maps_to_it(team_id):
    team = KB.teams[team_id]
    own = next(d for d in KB.districts if d.team == team_id)
    assert team_for(own, KB) == team


@pytest.mark.parametrize(
    ("text", "district", "team"),
    [
        ("jag bor i Vasastaden", "Vasastaden", "skaggetorp"),  # 1.9 km to Skäggetorp, 2.6 km to Ryd
        ("på Ryd", "Ryd", "ryd"),
        ("skaggetorp", "Skäggetorp", "skaggetorp"),
        ("vi bor ute i Linghem", "Linghem", "berga"),
        ("vid Skäggetorps centrum", "Skäggetorp", "skaggetorp"),
        ("i Berga", "Berga", "berga"),
        ("jag bor i Ekholmn", "Ekholmen", "ekholmen"),  # typo
        ("Gottfrisberg", "Gottfridsberg", "skaggetorp"),  # typo; Skäggetorp 1.38 km, Ryd 1.98 km
        ("innerstan", "Innerstaden", "berga"),
        ("Malmslatt", "Malmslätt", "ryd"),
        ("jag bor i Vikingstad", "Vikingstad", "lambohov"),
        ("Hjulsbro", "Hjulsbro", "berga"),  # Berga 3.83 km, Ekholmen 3.87 km
    ],
)
def test_places_resolve_to_the_nearest_team(resolver, text, district, team):
    place = resolver.resolve(text)
    assert place is not None and place.name == district
    nearest = min(KB.teams.values(), key=lambda t: haversine_km(place.district.lat, place.district.lon, t.lat, t.lon))
    assert place.team.id == nearest.id == team


@pytest.mark.parametrize("text", ["jag bor i Norrköping", "norrkoping", "vi bor i stockholm", "Motala"])
def test_a_place_outside_the_municipality_gets_no_team(resolver, text):
    place = resolver.resolve(text)
    assert place is not None and place.kind == "outside" and place.team is None


def test_an_unknown_place_is_reported_as_written(resolver):
    place = resolver.resolve("jag bor i Mantorp")
    assert (place.kind, place.name, place.team) == ("unknown", "Mantorp", None)


@pytest.mark.parametrize(
    "text",
    [
        "min son vill inte gå till skolan",
        "jag bor i en lägenhet",
        "jag är ensam",
        "hej",
        "berg",
        "vi bor med mormor",
        "min dotter är 15",
        "",
    ],
)
def test_ordinary_sentences_name_no_place(resolver, text):
    assert resolver.resolve(text) is None


@pytest.mark.parametrize(
    ("text", "only_where"),
    [
        ("skaggetorp", True),
        ("på Ryd", True),
        ("jag bor i Berga", True),
        ("vi bor ute i Linghem", True),
        ("jag bor i Norrköping", True),
        ("jag bor i Mantorp", True),
        ("min son i Skäggetorp vill inte gå till skolan", False),
        ("finns det fritidsgårdar i Berga", False),
    ],
)
def test_a_message_that_only_says_where_is_told_apart(resolver, text, only_where):
    place = resolver.resolve(text)
    assert place is not None
    assert resolver.says_only_where(text, place) is only_where


def test_remembered_lookups_give_the_same_places_and_stay_bounded(monkeypatch):
    # Each word group's lookup is remembered (a bounded table per key list): asked again, from the table or
    # after it started again, every message names the same place as a resolver that never saw it.
    import knowledge.areas

    names = DISTRICTS + ["Mantorp", "Stockholm", "Bergaa", "Ryds"]
    texts = [template.format(name) for name in names for template in ("jag bor i {}", "{}")]
    texts += ["min son vill inte gå till skolan", "vi bor på ryd", "hej", "bor i berga centrum"]
    expected = [PlaceResolver(KB).resolve(text) for text in texts]
    monkeypatch.setattr(knowledge.areas, "LOOKUPS_MAX", 5)
    small = PlaceResolver(KB)
    for _ in range(2):
        assert [small.resolve(text) for text in texts] == expected
    assert all(0 < len(found) <= 5 for found in small._found.values()) and len(small._found) == 2
    assert sum(place is not None for place in expected) > len(DISTRICTS)


def test_no_word_group_with_a_digit_or_an_at_sign_stays_in_the_table():
    resolver = PlaceResolver(KB)
    text = "jag bor i Berga, personnummer 19811218-9876, telefon 070-123 45 67, anna@example.se"
    assert resolver.resolve(text).name == "Berga"
    assert resolver.resolve("ring 0701234567 jag bor på ryd").name == "Ryd"
    kept = [gram for found in resolver._found.values() for gram in found]
    assert kept and not [gram for gram in kept if any(c.isdigit() or c == "@" for c in gram)]
