"""The crisis rules (knowledge/safety/rules.yml) through the detector: kinds, figurative uses, the child
writer, and the rule file's own checks."""

from __future__ import annotations

import pytest
import yaml

from bot.crisis import RULES_FILE, CrisisDetector, RuleError, default_detector, load_rules
from bot.safety_evaluation import EVALUATION_FILE, load_set


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return default_detector()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ingen skulle sakna mig", "suicide_self_harm"),
        ("jag har tagit en massa tabletter", "suicide_self_harm"),
        ("vill bara försvinna", "suicide_self_harm"),
        ("JAG VILL DÖ", "suicide_self_harm"),
        ("sjalvmordstankar varje kvall", "suicide_self_harm"),
        ("min dotter skär sig i armarna", "suicide_self_harm"),
        ("han står utanför dörren och hotar att döda mig", "acute_violence"),
        ("min pappa slår mamma just nu", "acute_violence"),
        ("grannens barn har blåmärken på armarna och vågar inte gå hem", "child_harm"),
        ("en vuxen man skickar nakenbilder till min dotter", "child_harm"),
        ("de ska gifta bort mig med min kusin i sommar", "honour_oppression"),
        # neighbours of the evaluation set's wordings, written for these tests
        ("jag har svalt 40 alvedon", "suicide_self_harm"),
        ("sitter på broräcket", "suicide_self_harm"),
        ("snart slipper ni mig", "suicide_self_harm"),
        ("mitt ex förföljer mig och vet var jag bor", "acute_violence"),
        ("han har hittat min nya adress", "acute_violence"),
        ("min styvpappa låser in mig i garderoben", "child_harm"),
        ("barnen har varit ensamma hemma i tre dagar", "child_harm"),
        ("en vuxen man på instagram vill att jag skickar bilder utan kläder", "child_harm"),
        ("jag får inte umgås med killar och mina bröder läser mina meddelanden", "honour_oppression"),
        ("jag är förlovad mot min vilja", "honour_oppression"),
        ("om pappa får veta att jag har pojkvän dödar han mig", "honour_oppression"),
        # paraphrases of the round-2 families, not the evaluation sentences themselves
        ("hur manga somntabletter behovs for att do", "suicide_self_harm"),
        ("alla skulle ha det bättre utan mig", "suicide_self_harm"),
        ("hon stängde in sig i garaget med bilen igång", "suicide_self_harm"),
        ("jag hör dunsar och skrik från lägenheten ovanför", "acute_violence"),
        ("om du lämnar mig dödar jag dig sa han", "acute_violence"),
        ("mamma ligger på golvet och går inte att väcka", "child_harm"),
        ("styvpappa filmar mig när jag byter om", "child_harm"),
        ("mina bröder jagar mig sen jag vägrade gifta mig", "honour_oppression"),
        ("jag är rädd att jag inte får åka tillbaka till sverige efter sommaren", "honour_oppression"),
    ],
)
def test_crisis_messages_are_found_with_their_kind(detector, text, kind):
    found = detector.detect(text)
    assert found is not None and kind in found.kinds


@pytest.mark.parametrize(
    "text",
    [
        "skolan dödar mig av tristess",
        "jag dör av skratt",
        "vi har mördarsniglar i trädgården",
        "min dotter är livrädd för hundar",
        "jag vill försvinna bort på semester",
        "kan vi skjuta upp mötet till nästa vecka",
        "min son vill inte gå till skolan",
        "jag har tagit 2 alvedon mot huvudvärken",
        "jag står på bron och väntar på bussen",
        "min sista dag på jobbet är på fredag",
        "jag vill avsluta mitt abonnemang",
        "vi ska åka till hemlandet i sommar och hälsa på släkten",
        "Pengarna skickar jag till släkten i hemlandet",
        "datorn hänger sig hela tiden",
        "han slog mig i pingis",
        "min bebis slår mig i ansiktet när hon är trött",
        "Hur många alvedon får man ge en tioåring?",
        "vi tog farväl av mormor på begravningen",
        "hur länge ska kycklingen stekas för att salmonellan ska dö",
        "mina barn slåss hela tiden om fjärrkontrollen",
        "min dotter får inte gå till skolan förrän hon är feberfri",
        "filmen handlar om en man som tar sitt liv",
        "vad betyder hedersvåld?",
        "",
        "   ",
    ],
)
def test_figurative_and_everyday_messages_are_not_crises(detector, text):
    assert detector.detect(text) is None


def test_a_figurative_phrase_does_not_hide_a_real_one_elsewhere(detector):
    found = detector.detect("jag dör av skratt åt mig själv ibland men egentligen vill jag dö")
    assert found is not None and found.kind == "suicide_self_harm"


def test_the_most_urgent_kind_leads_and_a_child_writer_is_recognised(detector):
    found = detector.detect("jag är 14 och min pappa slår mig, jag vill inte leva längre")
    assert found.kinds[0] == "suicide_self_harm" and "acute_violence" in found.kinds
    assert found.child_writer
    assert not detector.detect("min man slår mig").child_writer


def test_a_number_range_matches_numbers_in_digits_only_within_the_range(detector, tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "rules": [
                    {
                        "id": "pills",
                        "kind": "suicide_self_harm",
                        "comment": "a counted overdose",
                        "phrases": ["tagit ~ <10-999> ~~ alvedon|tabletter", "i två|tre|<2-99> dagar"],
                    }
                ],
                "figurative": ["dör av skratt"],
                "child_writer": ["jag är <ålder>"],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    numbers = CrisisDetector(detector.nlp, path)
    assert numbers.detect("har tagit 30 alvedon").rules == ("pills",)
    assert numbers.detect("jag har tagit typ 20 tabletter")
    assert numbers.detect("har tagit 2 alvedon mot huvudvärken") is None
    assert numbers.detect("har tagit tusen alvedon") is None
    assert numbers.detect("hon har varit borta i 4 dagar") and numbers.detect("borta i tre dagar")
    assert numbers.detect("jag är 14 och har tagit 12 tabletter").child_writer
    assert not numbers.detect("jag är 19 och har tagit 12 tabletter").child_writer


def test_small_words_match_only_themselves_not_by_their_lemma(detector, tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "rules": [
                    {
                        "id": "threat",
                        "kind": "acute_violence",
                        "comment": "a threat",
                        "phrases": ["slår mig", "ska döda", "rädd att de ska"],
                    }
                ],
                "figurative": ["dör av skratt"],
                "child_writer": ["jag är <ålder>"],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    small = CrisisDetector(detector.nlp, path)
    assert small.detect("han slår mig") and small.detect("han ska döda henne")
    assert small.detect("nu slår jag på datorn") is None  # "mig" is not "jag"
    assert small.detect("skolan dödar all lust") is None  # "ska" is not "skolan"
    assert small.detect("jag är rädd att det ska regna") is None  # "de" is not "det"


def test_the_rules_find_a_counted_overdose_but_not_an_ordinary_dose(detector):
    assert "suicide_self_harm" in detector.detect("har tagit 30 alvedon").kinds
    assert detector.detect("Jag har tagit 2 alvedon och ligger ner en stund") is None


def test_every_rule_is_exercised_by_the_evaluation_set(detector):
    crisis, _, _ = load_set()
    fired = set()
    for item in crisis:
        found = detector.detect(item["text"])
        if found:
            fired |= set(found.rules)
    rules, _, _ = load_rules()
    assert {r.id for r in rules} <= fired


def test_every_rule_has_a_kind_and_a_comment_and_every_phrase_compiles():
    rules, figurative, child = load_rules()
    assert rules and figurative and child
    assert all(r.comment.strip() and r.phrases for r in rules)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d["rules"][0].update(kind="sadness"), "unknown kind"),
        (lambda d: d["rules"][0].update(comment=""), "comment"),
        (lambda d: d["rules"][0]["phrases"].append("vill (dö)"), "cannot read"),
        (lambda d: d["rules"][0]["phrases"].append("~~"), "empty phrase"),
        (lambda d: d["rules"][0]["phrases"].append("tagit <99-10> tabletter"), "smaller number comes first"),
        (lambda d: d["rules"][0]["phrases"].append("tagit <många> tabletter"), "cannot read"),
    ],
)
def test_a_broken_rule_file_is_refused(tmp_path, change, error):
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RuleError, match=error):
        CrisisDetector(default_detector().nlp, path)


def test_the_evaluation_set_is_large_enough_and_has_hard_negatives():
    crisis, not_crisis, header = load_set(EVALUATION_FILE)
    assert len(crisis) >= 150 and len(not_crisis) >= 300
    assert sum(1 for i in not_crisis if i.get("note") == "hard_negative") >= 100
    assert "written" in header.lower()
    texts = [i["text"] for i in crisis + not_crisis]
    assert len(texts) == len(set(texts))


def _reference_matcher(detector: CrisisDetector):
    """One spaCy Matcher over every pattern of the rules, as the detector had before its prefilter."""
    from spacy.matcher import Matcher

    rules, figurative, child = load_rules()
    matcher = Matcher(detector.nlp.vocab)
    for rule in rules:
        matcher.add(rule.id, [detector._pattern(p, rule.id) for p in rule.phrases])
    matcher.add("figurative", [detector._pattern(p, "figurative") for p in figurative])
    matcher.add("child_writer", [detector._pattern(p, "child_writer") for p in child])
    return matcher


def _reference_rules(detector: CrisisDetector, matcher, text: str) -> tuple[set[str], list[str], bool, set[str]]:
    """What the reference Matcher finds: rule ids, spans, child writer, and every key that matched."""
    doc, _, _ = detector._doc(text)
    found = [(detector.nlp.vocab.strings[k], s, e) for k, s, e in matcher(doc)]
    fig = [(s, e) for name, s, e in found if name == "figurative"]
    kept = sorted(
        {
            (s, e, name)
            for name, s, e in found
            if name in detector.rules and not any(s < fe and fs < e for fs, fe in fig)
        }
    )
    return (
        {name for _, _, name in kept},
        [doc[s:e].text for s, e, _ in kept],
        any(n == "child_writer" for n, _, _ in found),
        {name for name, _, _ in found},
    )


def test_the_prefilter_never_changes_what_the_rules_find(detector: CrisisDetector) -> None:
    """Each rule pattern's Matcher runs only when the message has every non-optional word the pattern
    needs: on the whole evaluation set and every phrase of the rules, the result is exactly that of one
    Matcher over all patterns."""
    crisis, not_crisis, _ = load_set()
    rules, figurative, child = load_rules()
    texts = [i["text"] for i in crisis + not_crisis] + [p for r in rules for p in r.phrases] + figurative + child
    # Figurative uses and child writers count only beside a rule's match: each one with a rule's phrase.
    phrases = [p for r in rules for p in r.phrases]
    texts += [f"{extra} {phrases[i * 7 % len(phrases)]}" for i, extra in enumerate(figurative + child)]
    texts += [f"{phrases[i * 11 % len(phrases)]}, {extra}" for i, extra in enumerate(figurative + child)]
    texts = [t.replace("~", "bara").replace("<ålder>", "14") for t in texts]
    matcher = _reference_matcher(detector)
    fired = children = figurative_uses = 0
    for text in texts:
        expected_rules, expected_spans, expected_child, keys = _reference_rules(detector, matcher, text)
        figurative_uses += "figurative" in keys and not keys.isdisjoint(detector.rules)
        children += expected_child and bool(expected_rules)
        found = detector.detect(text)
        if not expected_rules:
            assert found is None, text
            continue
        fired += 1
        assert found is not None, text
        assert (set(found.rules), list(found.spans), found.child_writer) == (
            expected_rules,
            expected_spans,
            expected_child,
        ), text
    assert fired > 300  # the comparison covered real matches, not only messages that match nothing
    assert children > 20 and figurative_uses > 20  # and the context patterns beside them


def test_the_word_tables_stay_small_and_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables of words seen (their regular-expression needs, their folded forms) start again when full;
    what the detector finds is the same whether a word comes from the table or is worked out again."""
    import bot.crisis

    crisis, not_crisis, _ = load_set()
    texts = [i["text"] for i in crisis + not_crisis]
    expected = [default_detector().detect(text) for text in texts]
    monkeypatch.setattr(bot.crisis._Prefiltered, "WORDS_MAX", 3)
    small = CrisisDetector(default_detector().nlp)
    for _ in range(2):  # the second time, the tables hold words of the first
        assert [small.detect(text) for text in texts] == expected
    assert 0 < len(small._rules._word_regexes) <= 3 and 0 < len(small._folded) <= 3
    assert sum(found is not None for found in expected) > 100


def test_a_word_s_forms_are_its_own_whatever_the_table_holds(detector: CrisisDetector) -> None:
    # "Skolan" and "skolan" are one word, lower-cased, with different lemmas (the lookup is by the word as
    # written): the table of folded forms must not give one the other's.
    from bot.crisis import _NO_LEMMA
    from knowledge.text import fold

    for text in ("Skolan skolan SKOLAN", "skolan Skolan", "Jag jag JAG mig Mig"):
        _, texts, forms, per_token = detector._words(text)
        expected = []
        for token in detector.nlp(text):
            word = fold(token.lower_)
            expected.append((word, (word,) if word in _NO_LEMMA else (word, fold(token.lemma_ or token.lower_))))
        assert per_token == expected, text
        assert texts == {w for w, _ in expected} and forms == {f for _, fs in expected for f in fs}
    assert {forms for _, forms in detector._words("Skolan skolan")[3]} == {("skolan", "skolan"), ("skolan", "skola")}


def test_no_word_with_a_digit_or_an_at_sign_stays_in_the_tables() -> None:
    # A personnummer, phone number or e-mail address typed into a message is looked at, never kept.
    fresh = CrisisDetector(default_detector().nlp)
    text = "mitt personnummer är 19811218-9876, ring 070-123 45 67 eller anna@example.se, jag vill inte leva"
    assert fresh.detect(text) is not None
    kept = [*fresh._rules._word_regexes, *fresh._context._word_regexes, *(lower for lower, _ in fresh._folded)]
    assert kept and not [word for word in kept if any(c.isdigit() or c == "@" for c in word)]
    assert fresh.detect(text) == default_detector().detect(text)  # worked out anew: the same
