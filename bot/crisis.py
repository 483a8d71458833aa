"""Crisis detection: the rules in knowledge/safety/rules.yml, matched with spaCy's Matcher over the
words and lemmas of a message, lower-cased and without å/ä/ö.

Deterministic and cheap (no model): it runs on every message, before anything else, and a match wins
over whatever the NLU thought. A phrase inside a figurative use ("jag dör av skratt") does not count.
"""

from __future__ import annotations

import collections
import functools
import re
from collections.abc import Callable
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


def _keepable(word: str) -> bool:
    """Whether a word of a message may stay in a table of words seen: not one with a digit or an '@' (a
    personnummer, a phone number, an e-mail address: what redaction looks for), which is worked out anew."""
    return _NOT_KEPT.search(word) is None


_NOT_KEPT = re.compile(r"[\d@]")


class _Prefiltered:
    """Patterns for spaCy's Matcher, each with a Matcher of its own that runs only when the message has a word
    or lemma for every non-optional token of the pattern: the same matches as one Matcher over them all.

    Each distinct need (`_Needs`) has a number. A message's met needs are found from its words and lemmas by
    index, the regular expressions' from a table of the words seen before (each word tried once against every
    expression, not once per pattern and message), and a pattern runs when its needs are among them."""

    WORDS_MAX = 50_000  # words whose regular-expression needs are kept; the table starts again when full

    def __init__(self, nlp: Language):
        self.vocab = nlp.vocab
        self._needs: dict[_Needs, int] = {}
        self._by_form: dict[str, list[int]] = collections.defaultdict(list)  # needs a word or lemma meets
        self._by_text: dict[str, list[int]] = collections.defaultdict(list)  # needs a word meets
        self._regexes: list[tuple[int, re.Pattern[str]]] = []
        self._word_regexes: dict[str, tuple[int, ...]] = {}
        self._patterns: list[tuple[frozenset[int], Matcher]] = []
        self._by_first_need: dict[int, list[int]] = collections.defaultdict(list)

    @staticmethod
    def needs_of(pattern: list[dict[str, Any]]) -> tuple[_Needs, ...]:
        """The pattern's non-optional tokens, regular expressions last."""
        needs = [_Needs.of(token) for token in pattern if "OP" not in token]
        return tuple(sorted(needs, key=lambda need: need.regex is not None))

    def _need_id(self, need: _Needs) -> int:
        number = self._needs.get(need)
        if number is None:
            number = self._needs[need] = len(self._needs)
            for form in need.forms:
                self._by_form[form].append(number)
            for text in need.texts:
                self._by_text[text].append(number)
            if need.regex is not None:
                self._regexes.append((number, need.regex))
                self._word_regexes.clear()  # every word is tried again, with this one too
        return number

    def add(self, key: str, pattern: list[dict[str, Any]]) -> None:
        matcher = Matcher(self.vocab)
        matcher.add(key, [pattern])
        numbers = [self._need_id(need) for need in self.needs_of(pattern)]
        self._by_first_need[numbers[0]].append(len(self._patterns))
        self._patterns.append((frozenset(numbers), matcher))

    def met(self, texts: set[str], forms: set[str]) -> set[int]:
        """The numbers of the needs the message meets."""
        met = {number for form in forms for number in self._by_form.get(form, ())}
        met.update(number for text in texts for number in self._by_text.get(text, ()))
        if self._regexes:
            for text in texts:
                hits = self._word_regexes.get(text)
                if hits is None:
                    hits = tuple(n for n, regex in self._regexes if regex.match(text))
                    if _keepable(text):
                        if len(self._word_regexes) >= self.WORDS_MAX:
                            self._word_regexes.clear()
                        self._word_regexes[text] = hits
                met.update(hits)
        return met

    def __call__(
        self, doc: Doc, texts: set[str], forms: set[str], annotate: Callable[[], None] | None = None
    ) -> set[tuple[int, int, str]]:
        """Every (start, end, key) a pattern matches in the doc: annotated by `CrisisDetector._doc`, or by
        `annotate` before the first pattern runs."""
        strings = self.vocab.strings
        met = self.met(texts, forms)
        candidates = sorted(i for number in met for i in self._by_first_need.get(number, ()))
        matchers = [matcher for needs, matcher in (self._patterns[i] for i in candidates) if needs <= met]
        if matchers and annotate is not None:
            annotate()
        return {(start, end, strings[key]) for matcher in matchers for key, start, end in matcher(doc)}


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
        self._folded: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}  # (lower, lemma) -> word, forms
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
        doc, texts, forms, per_token = self._words(text)
        self._annotate(doc, per_token)
        return doc, texts, forms

    def _words(self, text: str) -> tuple[Doc, set[str], set[str], list[tuple[str, tuple[str, ...]]]]:
        """The message as a Doc, every folded word and word-or-lemma in it, and each token's folded word and
        forms (for `_annotate`)."""
        doc = self.nlp(text)
        texts: set[str] = set()
        forms: set[str] = set()
        per_token = []
        folded = self._folded
        for token in doc:
            lower, lemma = token.lower_, token.lemma_
            word_and_forms = folded.get((lower, lemma))
            if word_and_forms is None:
                word = fold(lower)
                token_forms = (word,) if word in _NO_LEMMA else (word, fold(lemma or lower))
                word_and_forms = (word, token_forms)
                if _keepable(lower):
                    if len(folded) >= _Prefiltered.WORDS_MAX:
                        folded.clear()
                    folded[(lower, lemma)] = word_and_forms
            per_token.append(word_and_forms)
            texts.add(word_and_forms[0])
            forms.update(word_and_forms[1])
        return doc, texts, forms, per_token

    @staticmethod
    def _annotate(doc: Doc, per_token: list[tuple[str, tuple[str, ...]]]) -> None:
        """Sets the attributes the Matcher reads (spaCy's custom attributes: dear, so only when a pattern is
        to run)."""
        if doc.user_data.get("nara_annotated"):
            return
        for token, (word, token_forms) in zip(doc, per_token, strict=True):
            token._.nara_text = word
            token._.nara_forms = token_forms
        doc.user_data["nara_annotated"] = True

    def detect(self, text: str) -> Detection | None:
        if not text or not text.strip():
            return None
        doc, texts, forms, per_token = self._words(text)
        annotate = functools.partial(self._annotate, doc, per_token)
        matched = self._rules(doc, texts, forms, annotate)
        if not matched:
            return None
        context = [(name, start, end) for start, end, name in self._context(doc, texts, forms, annotate)]
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
