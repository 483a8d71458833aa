"""Consistency over the real registries: domain, actions, rules, topics, lines and the README agree."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Action

import actions.answer_article
import actions.clarify
import actions.crisis
import actions.erase
import actions.handover
import actions.resolve_area
from actions.clarify import INPUT_PROBLEMS
from actions.messages import catalogue
from knowledge.loader import cached_knowledge
from knowledge.model import TOPICS, USER_TOPICS
from knowledge.phones import unknown_numbers

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
ACTION_MODULES = [
    actions.answer_article,
    actions.clarify,
    actions.crisis,
    actions.erase,
    actions.handover,
    actions.resolve_area,
]


def _action_classes():
    for module in ACTION_MODULES:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Action) and cls is not Action and cls.__module__ == module.__name__:
                yield cls


def test_every_action_in_the_domain_is_implemented_once():
    names = [cls().name() for cls in _action_classes()]
    assert sorted(names) == sorted(DOMAIN["actions"])


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_is_an_intent_with_a_rule(topic):
    assert topic in DOMAIN["intents"]
    rules = (ROOT / "nlu" / "rules" / f"{topic}.yml").read_text(encoding="utf-8")
    assert f"intent: {topic}" in rules


def test_the_topic_slot_takes_exactly_the_user_topics():
    slot = DOMAIN["slots"]["topic"]
    assert sorted(slot["values"]) == sorted(USER_TOPICS)
    assert {m["intent"]: m["value"] for m in slot["mappings"]} == {t: t for t in USER_TOPICS}


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_every_number_in_a_response_is_in_lines(name, kb):
    allowed = [line.number for line in kb.lines]
    for variant in DOMAIN["responses"][name]:
        assert unknown_numbers(variant.get("text", ""), allowed) == []


@pytest.mark.parametrize("article_id", sorted(cached_knowledge().articles))
def test_every_article_is_owned_by_a_role_and_has_a_source(kb, article_id):
    article = kb.articles[article_id]
    assert article.source.title
    assert article.owner.startswith(("Områdesteam ", "Socialtjänsten"))


def test_every_cli_command_is_in_the_readme():
    from bot.cli import parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    top = parser()
    commands = top._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no public API for this
    for name, sub in commands.items():
        nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]  # noqa: SLF001
        if nested:
            for child in nested[0].choices:
                assert f"nara {name} {child}" in readme
        else:
            assert f"nara {name}" in readme


def test_every_make_target_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M)
    for target in targets:
        assert f"make {target}" in readme


@pytest.mark.parametrize("key", sorted(catalogue()))
def test_every_number_in_an_action_message_is_in_lines(key, kb):
    assert unknown_numbers(catalogue()[key], [line.number for line in kb.lines]) == []


def test_the_actions_use_exactly_the_messages_in_the_catalogue():
    files = [*(ROOT / "actions").glob("*.py"), ROOT / "bot" / "channels.py"]  # the channels' notices too
    source = "".join(p.read_text(encoding="utf-8") for p in files)
    called = set(re.findall(r'message\(\s*"([a-z_]+)"', source))
    assert called <= set(catalogue())  # every literal key an action asks for exists
    mentioned = {key for key in catalogue() if f'"{key}"' in source} | {f"input_{p}" for p in INPUT_PROBLEMS}
    assert mentioned == set(catalogue())  # and no message is dead


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_every_response_is_sent_as_written_and_its_button_payloads_parse(name, caplog):
    """Rasa fills `{slot}` placeholders in a response's text and buttons; a payload's entities in JSON must be
    written with double braces (Rasa's own rule), or every time the response is sent Rasa logs an error with a
    traceback (it then sends the payload unchanged)."""
    import asyncio
    import json

    import structlog.testing
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = DialogueStateTracker("s", domain.slots)
    caplog.set_level("WARNING")
    with structlog.testing.capture_logs() as logged:  # Rasa logs the failed interpolation through structlog
        sent = asyncio.run(TemplatedNaturalLanguageGenerator(domain.responses).generate(name, tracker, "rest"))
    assert sent is not None and not [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")]
    assert not [entry for entry in logged if entry["log_level"] in ("error", "warning")], logged
    for button in sent.get("buttons") or []:
        payload = button["payload"]
        if payload.startswith("/") and "{" in payload:
            assert isinstance(json.loads(payload[payload.index("{") :]), dict), payload
