"""RecentRulePolicy (bot/rasa_components/rule_policy.py) learns and predicts what Rasa's RulePolicy does, on
Nära's domain, rules and conversation tests: the same lookup after training, and the same prediction after
every event of every conversation."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
from rasa.core.policies.rule_policy import (
    DEFAULT_RULES,
    LOOP_RULES,
    RULES,
    RULES_FOR_LOOP_UNHAPPY_PATH,
    RULES_NOT_IN_STORIES,
    RulePolicy,
)
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, SHOULD_NOT_BE_SET
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from bot.rasa_components.rule_policy import RecentRulePolicy, recent_states

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def _steps(domain: Domain, paths: list[Path]):
    reader = YAMLStoryReader(domain)
    return [step for path in paths for step in reader.read_from_file(str(path))]


@pytest.fixture(scope="module")
def trained(domain: Domain, tmp_path_factory) -> tuple[RulePolicy, RecentRulePolicy]:
    rules = sorted((ROOT / "nlu" / "rules").glob("*.yml"))
    trackers = TrainingDataGenerator(StoryGraph(_steps(domain, rules)), domain, augmentation_factor=0).generate()
    policies = []
    for cls in (RulePolicy, RecentRulePolicy):
        storage = LocalModelStorage(tmp_path_factory.mktemp(cls.__name__))
        context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
        config = {**cls.get_default_config(), "core_fallback_threshold": 0.3}
        config.update(core_fallback_action_name="action_clarify", enable_fallback_prediction=True)
        policy = cls.create(config, storage, Resource(cls.__name__), context)
        policy.train(trackers, domain)
        policies.append(policy)
    return policies[0], policies[1]


@pytest.fixture(scope="module")
def conversations(domain: Domain) -> list[DialogueStateTracker]:
    """Every rule and every conversation test, as the plain trackers the server predicts on."""
    paths = sorted((ROOT / "nlu" / "rules").glob("*.yml")) + sorted((ROOT / "tests" / "conversations").glob("*.yml"))
    generated = TrainingDataGenerator(StoryGraph(_steps(domain, paths)), domain, augmentation_factor=0).generate()
    return [DialogueStateTracker.from_events(t.sender_id, list(t.events), domain.slots) for t in generated]


def _prefixes(tracker: DialogueStateTracker, domain: Domain):
    for end in range(1, len(tracker.events) + 1):
        yield DialogueStateTracker.from_events(tracker.sender_id, list(tracker.events)[:end], domain.slots)


def _assert_same_source(stock: RulePolicy, source: str | None, expected: str | None) -> None:
    """The rule a prediction came from is the same one (the longest that applies). When no rule applies, the
    source is a key made of states, and the policies make it of different spans: it must be no rule's."""
    if expected is None or expected in stock.lookup[RULES] or expected.startswith((DEFAULT_RULES, LOOP_RULES)):
        assert source == expected
    else:
        assert source not in stock.lookup[RULES] and source not in stock.lookup[RULES_NOT_IN_STORIES]


def _assert_same_prediction(trained, tracker: DialogueStateTracker, domain: Domain):
    """Both policies predict the same for the tracker, from the same rule; RulePolicy's prediction."""
    stock, recent = trained
    expected, expected_source = stock._predict(tracker, domain)
    got, source = recent._predict(tracker, domain)
    _assert_same_source(stock, source, expected_source)
    assert got.probabilities == expected.probabilities, tracker.sender_id
    assert (got.events, got.is_end_to_end_prediction, got.is_no_user_prediction, got.hide_rule_turn) == (
        expected.events,
        expected.is_end_to_end_prediction,
        expected.is_no_user_prediction,
        expected.hide_rule_turn,
    ), tracker.sender_id
    return expected


def test_the_rules_reach_three_turns_back(trained) -> None:
    # What makes the policy cheaper; if rules grow longer it still predicts the same, only less cheaply.
    assert trained[1].rule_depth() == 3


def test_the_depth_follows_the_lookup(trained) -> None:
    # Measured once per lookup; a lookup that loses its longest rules, or is replaced, is measured again.
    recent = copy.deepcopy(trained[1])
    assert recent.rule_depth() == 3
    rules = recent.lookup[RULES]
    for key in [k for k in rules if len(recent._rule_key_to_state(k)) == 3]:
        rules.pop(key)
    assert recent.rule_depth() == 2
    recent.lookup[RULES] = {}
    recent.lookup[RULES_FOR_LOOP_UNHAPPY_PATH] = {}
    assert recent.rule_depth() == 1


def test_training_learns_the_same_lookup(trained) -> None:
    stock, recent = trained
    assert recent.lookup == stock.lookup


def test_recent_states_are_the_last_of_all_states(conversations, domain: Domain) -> None:
    checked = 0
    for conversation in conversations:
        for tracker in _prefixes(conversation, domain):
            every = tracker.past_states(domain)
            for count in (1, 2, 3, 5):
                assert recent_states(tracker, domain, count) == every[-count:]
            checked += 1
    assert checked > 300  # 56 conversations, every prefix


def test_every_prediction_is_the_same(trained, conversations, domain: Domain) -> None:
    kinds = set()
    for conversation in conversations:
        for tracker in _prefixes(conversation, domain):
            if not isinstance(tracker.events[-1], (UserUttered, ActionExecuted)):
                continue
            expected = _assert_same_prediction(trained, tracker, domain)
            kinds.add(domain.action_names_or_texts[expected.max_confidence_index])
    # The check covered the conversation's whole range: answers, the form, listening and the fallback.
    assert {"action_listen", "handover_form", "action_clarify", "action_answer_article", "action_crisis"} <= kinds


def test_a_long_conversation_predicts_the_same(trained, conversations, domain: Domain) -> None:
    # Twenty conversations one after the other in one tracker, without session starts: far more turns
    # than any rule, where the stock policy compares every state and this one only the last three.
    events = [event for conversation in conversations[:20] for event in conversation.events]
    tracker = DialogueStateTracker.from_events("long", events, domain.slots)
    assert len(tracker.past_states(domain)) > 50
    for end in range(len(events) - 40, len(events) + 1):
        _assert_same_prediction(trained, DialogueStateTracker.from_events("long", events[:end], domain.slots), domain)


def test_random_conversations_predict_the_same(trained, domain: Domain) -> None:
    # Turns in orders no rule or story has: a rule's last turns can match where its first does not
    # ("nej" and action_keep_conversation without the question before them).
    stock = trained[0]
    rng = random.Random(2026)
    intents = sorted(domain.intents)
    actions = sorted(
        {
            state["prev_action"]["action_name"]
            for key in stock.lookup[RULES]
            for state in json.loads(key)
            if "prev_action" in state
        }
        | set(stock.lookup[RULES].values())
    )
    compared = 0
    for number in range(300):
        events = [ActionExecuted(ACTION_LISTEN_NAME)]
        for _ in range(rng.randint(1, 6)):
            events.append(UserUttered("...", {"name": rng.choice(intents), "confidence": 1.0}))
            events += [ActionExecuted(rng.choice(actions)) for _ in range(rng.randint(1, 2))]
            events.append(ActionExecuted(ACTION_LISTEN_NAME))
        for end in range(2, len(events) + 1):
            tracker = DialogueStateTracker.from_events(f"random-{number}", events[:end], domain.slots)
            _assert_same_prediction(trained, tracker, domain)
            compared += 1
    assert compared > 2000


def test_the_newest_turn_index_agrees_with_every_rule_kind(trained) -> None:
    # Rule kinds Nära's rules do not have yet: a conversation start (no previous action), an intent or an
    # action that must not be set, a rule by previous action alone. Random rules and states of a small
    # vocabulary, so that many match: the same keys as RulePolicy's comparison of every rule.
    stock, recent = trained
    rng = random.Random(7)

    def state(rule: bool) -> dict:
        out: dict = {}
        if rng.random() < 0.85:
            out["prev_action"] = {"action_name": rng.choice(["a", "b", "action_listen"] + [SHOULD_NOT_BE_SET] * rule)}
            if not rule and rng.random() < 0.1:
                out["prev_action"] = {"action_text": "ett svar"}  # an end-to-end action: no name
        if rng.random() < 0.7:
            out["user"] = {"intent": rng.choice(["x", "y"] + [SHOULD_NOT_BE_SET] * rule)}
        if rng.random() < 0.3:
            out["active_loop"] = {"name": rng.choice(["form", SHOULD_NOT_BE_SET])}
        return out

    learned = recent.lookup, stock.lookup
    try:
        for _ in range(40):
            lookup = {json.dumps([state(True) for _ in range(rng.randint(1, 3))]): "act" for _ in range(30)}
            recent.lookup, stock.lookup = {**learned[0], RULES: lookup}, {**learned[1], RULES: lookup}
            for _ in range(50):
                states = [state(False) for _ in range(rng.randint(1, 5))]
                assert recent._get_possible_keys(lookup, states) == stock._get_possible_keys(lookup, states)
    finally:
        recent.lookup, stock.lookup = learned


def _random_events(rng: random.Random, domain: Domain, length: int) -> list:
    """Events of every kind that changes what the applied events are: reverts, loops and their rejections,
    session starts and restarts, slots; in no particular order."""
    intents = sorted(domain.intents)
    actions = [ACTION_LISTEN_NAME, "action_answer_article", "handover_form", "action_clarify", "utter_greet"]
    slots = [slot.name for slot in domain.slots if slot.name != "requested_slot"]
    kinds = [
        lambda: ActionExecuted(rng.choice(actions)),
        lambda: UserUttered("...", {"name": rng.choice(intents), "confidence": 1.0}),
        lambda: SlotSet(rng.choice(slots), rng.choice([None, "berga", True, "x"])),
        lambda: ActiveLoop(rng.choice(["handover_form", None])),
        lambda: ActionExecutionRejected("handover_form"),
        lambda: UserUtteranceReverted(),
        lambda: ActionReverted(),
        lambda: SessionStarted(),
        lambda: Restarted(),
    ]
    weights = [30, 15, 8, 6, 2, 2, 2, 1, 1]
    return [rng.choices(kinds, weights)[0]() for _ in range(length)]


def test_one_tracker_growing_gets_the_states_of_a_fresh_replay(conversations, domain: Domain) -> None:
    # The replay kept on a tracker goes on where it stopped only while the applied events it replayed are
    # still the first ones: after every event added, the states are those of replaying everything.
    rng = random.Random(11)
    histories = [list(c.events) for c in conversations] + [_random_events(rng, domain, 60) for _ in range(60)]
    checked = replays_kept = 0
    for number, events in enumerate(histories):
        for count in (1, 3):
            grown = DialogueStateTracker(f"grown-{number}", domain.slots)
            for event in events:
                grown.update(event)
                kept = grown.__dict__.get("_nara_rule_replay")
                assert recent_states(grown, domain, count) == grown.past_states(domain)[-count:], (number, event)
                replays_kept += kept is not None and grown.__dict__["_nara_rule_replay"] is kept
                checked += 1
                if number % 5 == 0 and isinstance(event, SessionStarted):
                    grown.events.popleft()  # what the store does to a kept tracker: the same applied events
            assert recent_states(grown, domain, 2) == grown.past_states(domain)[-2:]  # asked for another count
    assert checked > 5_000 and replays_kept > checked // 2  # most of them went on from the kept replay


def test_a_growing_random_conversation_predicts_the_same(trained, domain: Domain) -> None:
    stock, recent = trained
    rng = random.Random(12)
    for number in range(40):
        grown = DialogueStateTracker(f"grown-{number}", domain.slots)
        grown.update(ActionExecuted(ACTION_LISTEN_NAME))
        for event in _random_events(rng, domain, 40):
            grown.update(event)
            if isinstance(event, (UserUttered, ActionExecuted)):
                fresh = DialogueStateTracker.from_events(grown.sender_id, list(grown.events), domain.slots)
                expected, expected_source = stock._predict(fresh, domain)
                got, source = recent._predict(grown, domain)
                _assert_same_source(stock, source, expected_source)
                assert got.probabilities == expected.probabilities
