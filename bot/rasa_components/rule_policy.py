"""Rasa's RulePolicy, looking back only as far as its rules do.

For every prediction Rasa's RulePolicy turns the whole conversation into states, one per action so far, and
then compares every rule with every state, newest first. A rule of n states can only ever be compared with the
last n; Nära's longest rule has 3. So this policy makes the states of the last n turns only (replaying the
conversation as Rasa does, so slots and forms are as they were at each turn), once per prediction instead of
twice; it finds the rules that can match the newest turn by its previous action and intent instead of
comparing all of them, and stops comparing once no rule is left or all of them are fully compared.

It predicts what RulePolicy predicts, with the same confidence, for the same reasons (tested on every prefix
of every rule and conversation test, on random conversations and random kinds of rules,
tests/bot/test_rule_policy.py). What differs: the key it
reports as the source of a prediction when *no* rule applies is made from the recent states only (it is only
ever looked up among the rules' own keys, and a key made of states no rule matched is none of them), and the
debug log shows the recent states only.

RulePolicy was ~10% of the Rasa server's time under load, and grew with the length of the conversation
(bench/README.md).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import operator
from typing import Any

from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET, USER
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ACTION_NAME, INTENT


def recent_states(tracker: DialogueStateTracker, domain: Domain, count: int) -> list[State]:
    """The last `count` states of `tracker.past_states(domain)`: the same replay of the applied events, but a
    state is made only for the turns that are kept. (RulePolicy asks for states without omitting unset slots
    and without hiding rule-only turns, so each state depends only on the tracker at its turn.)

    The replay is kept on the tracker (`_Replay`): asked again after events were added, it goes on from where
    it stopped, as long as the applied events it replayed are still the first ones, the very same objects (a
    reverted turn, an undone loop execution or a new session replays from the start). The states returned
    are shared with later calls: a caller that changes them copies them first (`_prediction_states` does)."""
    applied = tracker.applied_events()
    replay = tracker.__dict__.get(_REPLAY)
    if (
        replay is None
        or replay.count != count
        or replay.domain is not domain
        or len(applied) < len(replay.applied)
        or not all(map(operator.is_, applied, replay.applied))
    ):
        replay = _Replay(count, domain, [], tracker.init_copy(), 0, collections.deque(maxlen=count - 1))
    turns = 1 + replay.turn + sum(1 for event in applied[len(replay.applied) :] if isinstance(event, ActionExecuted))
    first = turns - count
    for event in applied[len(replay.applied) :]:
        if isinstance(event, ActionExecuted):
            if replay.turn >= first:
                replay.states.append(domain._clean_state(domain.get_active_state(replay.tracker)))
            replay.turn += 1
        replay.tracker.update(event)
        replay.applied.append(event)
    tracker.__dict__[_REPLAY] = replay
    return [*replay.states, domain._clean_state(domain.get_active_state(replay.tracker))]  # the state now


_REPLAY = "_nara_rule_replay"


@dataclasses.dataclass
class _Replay:
    """A tracker's applied events replayed so far, for `recent_states`."""

    count: int
    domain: Domain
    applied: list[Event]  # the applied events replayed, the same objects as the tracker's
    tracker: DialogueStateTracker  # `init_copy()` with them applied
    turn: int  # how many of them are ActionExecuted
    states: collections.deque[State]  # the states at the last `count - 1` of those, oldest first


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RecentRulePolicy(RulePolicy):
    """Configured in config.yml as `bot.rasa_components.rule_policy.RecentRulePolicy`, with RulePolicy's
    options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per prediction (`_predict`): how far the rules reach, and the tracker's states, which RulePolicy
        # asks for twice (by the user's text, then by intent) and which cost a replay of the conversation.
        self._depth: int | None = None
        self._states: tuple[DialogueStateTracker, int, list[State]] | None = None
        self._reversed_rules: dict[str, list[State]] = {}  # a rule key's states, newest first (keys never change)
        self._newest: tuple[dict[str, str], int, dict[str, dict[str | None, list[str]]], list[str]] | None = None
        self._depth_of: tuple[Any, int, Any, int, int] | None = None  # rule_depth(): lookups, sizes, depth

    def _predict(self, tracker: DialogueStateTracker, domain: Domain) -> tuple[Any, str | None]:
        self._depth = self.rule_depth()  # training changes the lookup between predictions, never during one
        try:
            return super()._predict(tracker, domain)
        finally:
            self._depth, self._states = None, None

    def rule_depth(self) -> int:
        """How many states the longest rule has (at least 1)."""
        if self._depth is not None:
            return self._depth
        rules, unhappy = self.lookup.get(RULES, {}), self.lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH, {})
        measured = self._depth_of
        # Kept with the dicts it was measured on, as `_candidates` keeps its index: training replaces the
        # lookups or removes keys from them, and either makes it measure again.
        if (
            measured is None
            or measured[0] is not rules
            or measured[1] != len(rules)
            or measured[2] is not unhappy
            or measured[3] != len(unhappy)
        ):
            keys = itertools.chain(rules, unhappy)
            depth = max((len(self._rule_key_to_state(key)) for key in keys), default=1)
            measured = self._depth_of = (rules, len(rules), unhappy, len(unhappy), depth)
        return measured[4]

    def _prediction_states(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        use_text_for_last_user_input: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[State]:
        depth = self.rule_depth()
        if self.featurizer.max_history:
            depth = min(depth, self.featurizer.max_history)
        if self._states is not None and self._states[0] is tracker and self._states[1] == len(tracker.events):
            states = self._states[2]
        elif isinstance(tracker, TrackerWithCachedStates):
            states = tracker.past_states(domain)[-depth:]  # training's trackers keep their states
        else:
            states = recent_states(tracker, domain, depth)
        if self._depth is not None:
            self._states = (tracker, len(tracker.events), states)
        # What Rasa's featurizer does to the sliced states, on copies (it changes them): the last user turn by
        # text or by intent, and never both in one state.
        states = [{kind: dict(sub_state) for kind, sub_state in state.items()} for state in states]
        self.featurizer._choose_last_user_input([states], use_text_for_last_user_input)
        return states

    def _is_rule_applicable(self, rule_key: str, turn_index: int, conversation_state: State) -> bool:
        # RulePolicy's test, with the rule's reversed states kept instead of made again for every comparison.
        reversed_rule_states = self._reversed(rule_key)
        if turn_index >= len(reversed_rule_states):
            return True
        current_previous_action = conversation_state.get(PREVIOUS_ACTION)
        rule_previous_action = reversed_rule_states[turn_index].get(PREVIOUS_ACTION)
        if not rule_previous_action and not current_previous_action:
            return True
        if not rule_previous_action or not current_previous_action:
            return False
        return self._does_rule_match_state(reversed_rule_states[turn_index], conversation_state)

    def _get_possible_keys(self, lookup: dict[str, str], states: list[State]) -> set[str]:
        depth = self.rule_depth()
        possible_keys: set[str] = set()
        for index, state in enumerate(reversed(states)):
            if index == 0:
                candidates = self._candidates(lookup, state)  # the newest turn rules out most rules at once
            elif not possible_keys or index >= depth:
                break  # nothing left, or every rule is compared in full: the rest keeps every key
            else:
                candidates = possible_keys
            possible_keys = {key for key in candidates if self._is_rule_applicable(key, index, state)}
        return possible_keys if states else set(lookup)

    def _candidates(self, lookup: dict[str, str], state: State) -> list[str]:
        """The keys of `lookup` that can match `state` as their newest state: a rule whose newest state names
        a previous action (and a user intent) matches only a state with that action (and that intent)."""
        if self._newest is None or self._newest[0] is not lookup or self._newest[1] != len(lookup):
            # Kept with the dict it indexes, so that it cannot be another dict at the same address. Training
            # only replaces the lookups or removes keys from them; the check below drops removed keys.
            by_action: dict[str, dict[str | None, list[str]]] = {}
            anything: list[str] = []
            for key in lookup:
                newest = self._reversed(key)[0]
                action = newest.get(PREVIOUS_ACTION, {}).get(ACTION_NAME)
                intent = newest.get(USER, {}).get(INTENT)
                if not action or action == SHOULD_NOT_BE_SET:
                    anything.append(key)
                else:
                    named = intent if intent and intent != SHOULD_NOT_BE_SET else None
                    by_action.setdefault(action, {}).setdefault(named, []).append(key)
            self._newest = (lookup, len(lookup), by_action, anything)
        _, _, by_action, anything = self._newest
        action = state.get(PREVIOUS_ACTION, {}).get(ACTION_NAME)
        intent = state.get(USER, {}).get(INTENT)
        by_intent = by_action.get(action, {}) if action else {}
        keys = anything + by_intent.get(None, []) + (by_intent.get(intent, []) if intent else [])
        return [key for key in keys if key in lookup]

    def _reversed(self, rule_key: str) -> list[State]:
        reversed_rule_states = self._reversed_rules.get(rule_key)
        if reversed_rule_states is None:
            reversed_rule_states = self._reversed_rules[rule_key] = list(reversed(self._rule_key_to_state(rule_key)))
        return reversed_rule_states
