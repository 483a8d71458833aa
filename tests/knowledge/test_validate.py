"""The validator accepts the real knowledge base and rejects each kind of broken article."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from knowledge.loader import KNOWLEDGE_DIR, KnowledgeError, load_knowledge
from knowledge.validate import validate

TODAY = dt.date(2026, 11, 22)
ARTICLE = Path("articles/parenting/foraldraskap-tonaring.yml")


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def edit(root: Path, change) -> None:
    path = root / ARTICLE
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def messages(root: Path) -> list[str]:
    return [p.message for p in validate(root, today=TODAY)]


def test_the_shipped_knowledge_base_is_valid():
    assert validate(KNOWLEDGE_DIR, today=TODAY) == []


def test_every_article_of_the_inventory_is_there(kb):
    inventory = {
        "om-omradesarbetet",
        "ingen-ansokan",
        "sekretess-och-anonymitet",
        "kontakt-och-oppettider",
        "foraldraskap-stod-och-kurser",
        "foraldraskap-tonaring",
        "foraldraskap-sma-barn",
        "foraldraskap-skarmtid",
        "foraldraskap-oro-for-barnets-maende",
        "skolfranvaro-forsta-steg",
        "skolfranvaro-hemmasittare",
        "skolfranvaro-mobbning",
        "skolfranvaro-stod-i-skolan",
        "ensamhet-vuxen",
        "ensamhet-aldre",
        "ensamhet-ung",
        "relationer-familjeradgivning",
        "relationer-separation-och-barn",
        "vald-i-nara-relation",
        "hedersrelaterat-vald",
        "oro-kriminalitet",
        "oro-droger-alkohol",
        "akut-sjalvmordstankar",
        "orosanmalan",
        "akut-efter-kontorstid",
        "ekonomiskt-bistand",
    }
    assert set(kb.articles) == inventory


@pytest.mark.parametrize(
    "field", ["id", "title", "topic", "answer", "examples", "related", "sources", "owner", "reviewed_at"]
)
def test_a_missing_field_is_rejected(kb_copy, field):
    edit(kb_copy, lambda raw: raw.pop(field))
    assert f"missing field '{field}'" in messages(kb_copy)


def test_an_unknown_topic_is_rejected(kb_copy):
    edit(kb_copy, lambda raw: raw.update(topic="astrology"))
    assert any("unknown topic 'astrology'" in m for m in messages(kb_copy))


def test_an_unknown_related_id_is_rejected(kb_copy):
    edit(kb_copy, lambda raw: raw.update(related=["finns-inte"]))
    assert "unknown related id 'finns-inte'" in messages(kb_copy)


@pytest.mark.parametrize("number", ["013-12 34 56", "070-123 45 67", "08-123 456 78", "1234567"])
def test_a_phone_number_not_in_lines_is_rejected(kb_copy, number):
    edit(kb_copy, lambda raw: raw.update(answer=raw["answer"] + f" Ring {number}."))
    assert f"phone number '{number}' is not in lines.yml" in messages(kb_copy)


def test_numbers_from_lines_and_ordinary_numbers_pass(kb_copy):
    edit(
        kb_copy, lambda raw: raw.update(answer=raw["answer"] + " Ring 112 eller 020-85 00 00. Se 26 kap. och år 2025.")
    )
    assert messages(kb_copy) == []


def test_an_article_not_reviewed_for_twelve_months_is_rejected(kb_copy):
    edit(kb_copy, lambda raw: raw.update(reviewed_at=dt.date(2025, 11, 1)))
    assert any("older than 12 months" in m for m in messages(kb_copy))


def test_too_few_examples_are_rejected(kb_copy):
    edit(kb_copy, lambda raw: raw.update(examples=raw["examples"][:9]))
    assert "fewer than 10 distinct examples" in messages(kb_copy)


def test_an_unknown_placeholder_is_rejected(kb_copy):
    edit(kb_copy, lambda raw: raw.update(answer=raw["answer"] + " {municipality.phone_number}"))
    assert "unknown placeholder {municipality.phone_number}" in messages(kb_copy)


def test_loading_refuses_an_invalid_knowledge_base(kb_copy):
    edit(kb_copy, lambda raw: raw.update(topic="astrology"))
    with pytest.raises(KnowledgeError, match="astrology"):
        load_knowledge(kb_copy)


def test_the_cli_validator_exits_non_zero_on_a_problem(kb_copy, capsys):
    from bot.cli import main

    assert main(["knowledge", "validate", "--dir", str(KNOWLEDGE_DIR)]) == 0
    edit(kb_copy, lambda raw: raw.update(related=["finns-inte"]))
    assert main(["knowledge", "validate", "--dir", str(kb_copy)]) == 1
    assert "finns-inte" in capsys.readouterr().err


def test_a_running_bot_keeps_answering_from_an_overdue_article(kb_copy, caplog):
    edit(kb_copy, lambda raw: raw.update(reviewed_at=dt.date(2020, 1, 1)))
    assert any(p.stale for p in validate(kb_copy))
    knowledge = load_knowledge(kb_copy)
    assert "foraldraskap-tonaring" in knowledge.articles
    assert "older than 12 months" in caplog.text


def test_answers_keep_paragraphs_and_list_items_on_their_own_lines():
    from knowledge.loader import _paragraphs

    raw = "Ring 112.\n\nAndra som svarar:\n- 1177 för råd\n  om vård.\n- BRIS på 116 111.\nLång rad\nsom fortsätter."
    assert _paragraphs(raw) == (
        "Ring 112.\n\nAndra som svarar:\n- 1177 för råd om vård.\n- BRIS på 116 111. Lång rad som fortsätter."
    )
