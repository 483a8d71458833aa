"""Crisis detection: the rules in knowledge/safety/rules.yml, matched with spaCy's Matcher over the
words and lemmas of a message, lower-cased and without å/ä/ö.

Deterministic and cheap (no model): it runs on every message, before anything else, and a match wins
over whatever the NLU thought. A phrase inside a figurative use ("jag dör av skratt") does not count.
"""

from __future__ import annotations

import collections
import functools
import re
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import yaml
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Token

from knowledge.text import fold

RULES_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "safety" / "rules.yml"
KINDS = ("suicide_self_harm", "acute_violence", "child_harm", "honour_oppression")
FIGURATIVE = "figurative"
CHILD_WRITER = "child_writer"
# The order a reply leads with when a message holds several kinds: life first.
PRIORITY = {kind: i for i, kind in enumerate(KINDS)}
AGE = "<ålder>"  # an age a child or teenager writes: the same as <7-17>
_AGE_RANGE = (7, 17)
_NUMBER_RANGE = re.compile(r"<(\d{1,4})-(\d{1,4})>")  # "<10-999>": a whole number from 10 to 999
# Small function words match only themselves: the lookup lemmas of these are unreliable and would make
# "mig" match "jag", "de" match "det", "sitt" match "sitter", "ska" match "skolan" and "in" match "i".
_NO_LEMMA = frozenset(
    {
        # pronouns, possessives and articles
        *("jag", "mig", "mej", "du", "dig", "dej", "han", "honom", "hon", "henne", "hen", "sig", "sej"),
        *("vi", "oss", "ni", "er", "de", "dem", "dom", "den", "det", "en", "ett"),
        *("min", "mitt", "mina", "din", "ditt", "dina", "sin", "sitt", "sina", "hans", "hennes", "dess"),
        *("ert", "era", "deras"),
        # small verbs and other words whose lookup lemma is another word (ska -> skola, in -> i), folded
        *("ska", "skulle", "vill", "ville", "far", "fick", "har", "man", "bar", "bara", "sa", "nar"),
        *("in", "for", "med", "mot"),
    }
)

if not Token.has_extension("nara_forms"):
    Token.set_extension("nara_forms", default=())  # folded word and folded lemma
if not Token.has_extension("nara_text"):
    Token.set_extension("nara_text", default="")  # folded word


class RuleError(ValueError):
    """A phrase in rules.yml that cannot be read."""


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    comment: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Detection:
    kind: str  # the kind the reply leads with
    kinds: tuple[str, ...]  # every kind found, most urgent first
    rules: tuple[str, ...]  # the rule ids that matched
    child_writer: bool  # the writer seems to be a child or a teenager
    spans: tuple[str, ...] = field(default=())  # the matched words, for tests and the report

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "kinds": list(self.kinds),
            "rules": list(self.rules),
            "child_writer": self.child_writer,
        }


def load_rules(path: Path = RULES_FILE) -> tuple[list[Rule], list[str], list[str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = []
    for item in raw["rules"]:
        if item["kind"] not in KINDS:
            raise RuleError(f"rule {item['id']}: unknown kind {item['kind']!r}")
        if not str(item.get("comment") or "").strip():
            raise RuleError(f"rule {item['id']}: every rule needs a comment saying why it is there")
        rules.append(Rule(item["id"], item["kind"], item["comment"], tuple(item["phrases"])))
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise RuleError("rule ids must be unique")
    return rules, list(raw.get(FIGURATIVE) or []), list(raw.get(CHILD_WRITER) or [])


@dataclass(frozen=True)
class _Needs:
    """What a token of the message must be for one non-optional token of a pattern: a folded word or lemma
    among `forms`, a folded word among `texts`, or a folded word matching `regex`."""

    forms: frozenset[str] = frozenset()
    texts: frozenset[str] = frozenset()
    regex: re.Pattern[str] | None = None

    @classmethod
    def of(cls, token_pattern: dict[str, Any]) -> _Needs:
        ((attribute, predicate),) = token_pattern["_"].items()
        ((operator, value),) = predicate.items()
        if attribute == "nara_forms" and operator == "INTERSECTS":
            return cls(forms=frozenset(value))
        if attribute == "nara_text" and operator == "IN":
            return cls(texts=frozenset(value))
        if attribute == "nara_text" and operator == "REGEX":
            return cls(regex=re.compile(value))
        raise RuleError(f"no prefilter for {token_pattern!r}")  # _pattern and _Needs must change together

    def met_by(self, texts: set[str], forms: set[str]) -> bool:
        if self.regex is not None:
            return any(self.regex.match(text) for text in texts)
        return not self.forms.isdisjoint(forms) or not self.texts.isdisjoint(texts)


class _Prefiltered:
    """Patterns for spaCy's Matcher, each with a Matcher of its own that runs only when the message has a word
    or lemma for every non-optional token of the pattern: the same matches as one Matcher over them all."""

    def __init__(self, nlp: Language):
        self.vocab = nlp.vocab
        self._patterns: list[tuple[tuple[_Needs, ...], Matcher]] = []
        # Which patterns a word or lemma can start to satisfy (by the first need of each pattern that is not
        # a regular expression), and the patterns that need only regular expressions.
        self._anchored: dict[str, list[int]] = collections.defaultdict(list)
        self._unanchored: list[int] = []

    @staticmethod
    def needs_of(pattern: list[dict[str, Any]]) -> tuple[_Needs, ...]:
        """The pattern's non-optional tokens, regular expressions last (they are the dearest to check)."""
        needs = [_Needs.of(token) for token in pattern if "OP" not in token]
        return tuple(sorted(needs, key=lambda need: need.regex is not None))

    def add(self, key: str, pattern: list[dict[str, Any]]) -> None:
        matcher = Matcher(self.vocab)
        matcher.add(key, [pattern])
        needs = self.needs_of(pattern)
        if needs[0].regex is None:
            for form in needs[0].forms | needs[0].texts:
                self._anchored[form].append(len(self._patterns))
        else:
            self._unanchored.append(len(self._patterns))
        self._patterns.append((needs, matcher))

    def __call__(self, doc: Doc, texts: set[str], forms: set[str]) -> set[tuple[int, int, str]]:
        """Every (start, end, key) a pattern matches in the doc (made by `CrisisDetector._doc`)."""
        strings = self.vocab.strings
        candidates = {i for form in forms for i in self._anchored.get(form, ())}.union(self._unanchored)
        return {
            (start, end, strings[key])
            for needs, matcher in (self._patterns[i] for i in sorted(candidates))
            if all(need.met_by(texts, forms) for need in needs)
            for key, start, end in matcher(doc)
        }


class CrisisDetector:
    def __init__(self, nlp: Language, path: Path = RULES_FILE):
        self.nlp = nlp
        rules, figurative, child = load_rules(path)
        self.rules = {r.id: r for r in rules}
        # spaCy's Matcher reads the custom attributes in Python, token by token and pattern by pattern: one
        # Matcher with every pattern of rules.yml took ~14 ms a message. So each pattern has a Matcher of its
        # own, run only when the message has something for every non-optional token of the pattern (set
        # operations, microseconds); the Matcher still decides (_Prefiltered). The same for figurative uses
        # and child writers, which are looked for once a rule has matched: one Matcher over all of them took
        # ~2 ms a message that matched.
        self._rules = _Prefiltered(nlp)
        for rule in rules:
            for phrase in rule.phrases:
                self._rules.add(rule.id, self._pattern(phrase, rule.id))
        self._context = _Prefiltered(nlp)
        for key, phrases in ((FIGURATIVE, figurative), (CHILD_WRITER, child)):
            for phrase in phrases:
                self._context.add(key, self._pattern(phrase, key))

    def _lemma(self, word: str) -> str:
        if fold(word) in _NO_LEMMA:
            return fold(word)
        doc = self.nlp(word)
        return fold(doc[0].lemma_ or word) if len(doc) == 1 else fold(word)

    @staticmethod
    def _is_number(word: str) -> bool:
        return word == AGE or _NUMBER_RANGE.fullmatch(word) is not None

    @staticmethod
    def _numbers(word: str, rule_id: str, phrase: str) -> list[str]:
        """The numbers "<ålder>" or "<N-M>" stands for, as a message writes them in digits."""
        match = _NUMBER_RANGE.fullmatch(word)
        low, high = (int(match[1]), int(match[2])) if match else _AGE_RANGE
        if low > high:
            raise RuleError(f"{rule_id}: cannot read {word!r} in {phrase!r} (the smaller number comes first)")
        return [str(n) for n in range(low, high + 1)]

    def _pattern(self, phrase: str, rule_id: str) -> list[dict[str, Any]]:
        pattern: list[dict[str, Any]] = []
        for word in phrase.split():
            if set(word) == {"~"}:
                pattern += [{"OP": "?"}] * len(word)
                continue
            # "<ålder>" and "<N-M>" may stand alone or among the alternatives: "två|tre|<2-99>"
            numbers = [n for a in word.split("|") if self._is_number(a) for n in self._numbers(a, rule_id, phrase)]
            words = [a for a in word.split("|") if not self._is_number(a)]
            if any(re.search(r"[()\[\]{}<>#]", a) or not a.strip("*") for a in words):
                raise RuleError(f"{rule_id}: cannot read {word!r} in {phrase!r}")
            if not words:
                pattern.append({"_": {"nara_text": {"IN": numbers}}})
            elif any("*" in a for a in words):
                alternatives = [re.escape(fold(a.rstrip("*"))) + (".*" if a.endswith("*") else "") for a in words]
                alternatives += numbers
                pattern.append({"_": {"nara_text": {"REGEX": "^(?:" + "|".join(alternatives) + ")$"}}})
            else:
                forms = {fold(a) for a in words} | {self._lemma(a) for a in words} | set(numbers)
                pattern.append({"_": {"nara_forms": {"INTERSECTS": sorted(forms)}}})
        if not pattern or all(p == {"OP": "?"} for p in pattern):
            raise RuleError(f"{rule_id}: empty phrase {phrase!r}")
        return pattern

    def _doc(self, text: str) -> tuple[Doc, set[str], set[str]]:
        """The message as a Doc with the folded attributes, and every folded word and word-or-lemma in it."""
        doc = self.nlp(text)
        texts: set[str] = set()
        forms: set[str] = set()
        for token in doc:
            word = fold(token.lower_)
            token_forms = (word,) if word in _NO_LEMMA else (word, fold(token.lemma_ or token.lower_))
            token._.nara_text = word
            token._.nara_forms = token_forms
            texts.add(word)
            forms.update(token_forms)
        return doc, texts, forms

    def detect(self, text: str) -> Detection | None:
        if not text or not text.strip():
            return None
        doc, texts, forms = self._doc(text)
        matched = self._rules(doc, texts, forms)
        if not matched:
            return None
        context = [(name, start, end) for start, end, name in self._context(doc, texts, forms)]
        figurative = [(s, e) for name, s, e in context if name == FIGURATIVE]
        found = [(name, s, e) for s, e, name in sorted(matched) if not any(s < fe and fs < e for fs, fe in figurative)]
        if not found:
            return None
        kinds = sorted({self.rules[name].kind for name, _, _ in found}, key=PRIORITY.__getitem__)
        return Detection(
            kind=kinds[0],
            kinds=tuple(kinds),
            rules=tuple(sorted({name for name, _, _ in found})),
            child_writer=any(name == CHILD_WRITER for name, _, _ in context),
            spans=tuple(doc[s:e].text for _, s, e in found),
        )


@functools.lru_cache(maxsize=1)
def default_detector() -> CrisisDetector:
    """The detector over the project's Swedish spaCy pipeline (blank sv + lookup lemmas)."""
    import spacy

    from bot.paths import SPACY_MODEL

    return CrisisDetector(spacy.load(SPACY_MODEL))


def all_phrases(path: Path = RULES_FILE) -> list[str]:
    rules, figurative, child = load_rules(path)
    return list(chain.from_iterable(r.phrases for r in rules)) + figurative + child
