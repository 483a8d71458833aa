"""NLU and retrieval evaluation on a held-out split of the examples, written to reports/.

Trains an NLU-only model on the training part (same config.yml as the real model), parses every
held-out example and reports per-intent precision/recall/F1, top-1 article accuracy and what the
bot would do with each held-out question (answer right, answer wrong, or ask). Fails below the
macro-F1 floor.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.paths import BUILD, REPORTS, ROOT
from bot.training import NARA_COMPONENT_INPUTS, config_uses_nara_components, fingerprint, rasa
from knowledge.export import Example, article_examples, augment, place_examples, split, write_nlu
from knowledge.loader import load_knowledge

EVAL_DIR = BUILD / "eval"
FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class Prediction:
    example: Example
    intent: str  # the classifier's best intent, ignoring the fallback
    intent_confidence: float
    fallback: bool  # the FallbackClassifier or InputScreen would make the bot ask instead
    article: str | None  # the selector's top-1 article
    article_confidence: float
    answered: str | None  # the article the bot would answer with (None: it would ask instead)
    crisis_override: bool = False  # the crisis rules made this a crisis reply


def handwritten_examples(nlu_dir: Path = ROOT / "nlu") -> list[Example]:
    from rasa.shared.data import get_data_files, is_nlu_file
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for path in sorted(get_data_files([str(nlu_dir)], is_nlu_file)):  # rules and stories live there too
        examples += [Example(m.get("intent"), m.get("text")) for m in load_data(path).intent_examples]
    return examples


def _train_eval_model(train_examples: list[Example], config: Path) -> Path:
    write_nlu(EVAL_DIR / "train" / "nlu.yml", train_examples)
    config_rel = str(config.resolve().relative_to(ROOT))
    inputs = (config_rel, "build/eval/train")
    key = fingerprint(inputs + NARA_COMPONENT_INPUTS if config_uses_nara_components(config) else inputs)
    model = EVAL_DIR / "models" / f"eval-{key}.tar.gz"
    if not model.exists():
        rasa(
            "train",
            "nlu",
            "--config",
            config_rel,
            "--nlu",
            str((EVAL_DIR / "train").relative_to(ROOT)),
            "--out",
            str(model.parent.relative_to(ROOT)),
            "--fixed-model-name",
            model.name.removesuffix(".tar.gz"),
        )
    return model


def _predict(model: Path, examples: list[Example]) -> list[Prediction]:
    from rasa.core.agent import Agent

    from actions.selection import article_to_answer, selected_article

    agent = Agent.load(str(model))

    async def parse_all() -> list[Prediction]:
        out = []
        for example in examples:
            parsed = await agent.parse_message(example.text)
            article, article_confidence = selected_article(parsed)
            crisis = parsed.get("crisis") or {}
            # When the crisis rules overrode the classifiers, measure the classifiers' own verdict here;
            # how often the override fired is reported on its own.
            own = crisis.get("nlu_intent")
            top = [own] if own else [r for r in parsed.get("intent_ranking", []) if r["name"] != FALLBACK]
            out.append(
                Prediction(
                    example=example,
                    intent=top[0]["name"] if top else "",
                    intent_confidence=float(top[0]["confidence"]) if top else 0.0,
                    fallback=parsed["intent"]["name"] == FALLBACK,
                    crisis_override=bool(crisis),
                    article=article,
                    article_confidence=article_confidence,
                    answered=article_to_answer(parsed),
                )
            )
        return out

    return asyncio.run(parse_all())


def _metrics(predictions: list[Prediction]) -> dict[str, Any]:
    from sklearn.metrics import precision_recall_fscore_support

    gold = [p.example.label.split("/")[0] for p in predictions]
    pred = [p.intent for p in predictions]
    labels = sorted(set(gold))
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    per_intent = {
        label: {
            "precision": round(float(p), 3),
            "recall": round(float(r), 3),
            "f1": round(float(f), 3),
            "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    articles = [p for p in predictions if "/" in p.example.label]
    correct = [p for p in articles if p.article == p.example.label.split("/", 1)[1]]
    outcome: Counter[str] = Counter()
    for p in articles:
        if p.answered is None:
            outcome["asks a clarifying question"] += 1
        elif p.answered == p.example.label.split("/", 1)[1]:
            outcome["answers with the right article"] += 1
        else:
            outcome["answers with a wrong article"] += 1
    return {
        "macro_f1": round(float(sum(f1) / len(f1)), 3),
        "accuracy": round(sum(g == q for g, q in zip(gold, pred, strict=True)) / len(gold), 3),
        "per_intent": per_intent,
        "held_out_examples": len(predictions),
        "crisis_overrides": {
            label: n
            for label, n in sorted(
                Counter(p.example.label.split("/")[0] for p in predictions if p.crisis_override).items()
            )
        },
        "retrieval_top1_accuracy": round(len(correct) / len(articles), 3) if articles else None,
        "retrieval_examples": len(articles),
        "bot_outcome_on_held_out_articles": dict(outcome),
        "article_errors": [
            {"text": p.example.text, "expected": p.example.label, "got": p.article}
            for p in articles
            if p not in correct
        ],
        "intent_errors": [
            {"text": p.example.text, "expected": p.example.label.split("/")[0], "got": p.intent}
            for p in predictions
            if p.example.label.split("/")[0] != p.intent
        ],
    }


def _markdown(result: dict[str, Any], floor: float) -> str:
    lines = [
        "# NLU and retrieval evaluation",
        "",
        f"Generated by `nara evaluate` on {result['generated_at']} with {result['config']}.",
        "Held-out split: a fixed 20% of each intent's and each article's examples (at least two), chosen by "
        "hash; variants without å/ä/ö are added to the training part only. The evaluation model is trained "
        "with the same pipeline as the real one, on the training part only.",
        "",
        f"- **Macro-F1 over intents: {result['macro_f1']:.3f}** (floor {floor:.2f}); accuracy {result['accuracy']:.3f} "
        f"on {result['held_out_examples']} held-out examples",
        f"- **Retrieval top-1 article accuracy: {result['retrieval_top1_accuracy']:.3f}** on "
        f"{result['retrieval_examples']} held-out article examples",
        "- What the bot would do with those held-out questions: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(result["bot_outcome_on_held_out_articles"].items())),
        "- Intents are the classifiers' own verdict. The crisis rules (knowledge/safety/rules.yml) turned "
        f"{sum(result['crisis_overrides'].values())} held-out examples into crisis replies: "
        + (", ".join(f"{k}: {v}" for k, v in result["crisis_overrides"].items()) or "none"),
        "",
        "| intent | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for label, m in result["per_intent"].items():
        lines.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    if result["intent_errors"]:
        lines += ["", "## Intent errors", "", "| text | expected | got |", "|---|---|---|"]
        lines += [f"| {e['text']} | {e['expected']} | {e['got']} |" for e in result["intent_errors"]]
    if result["article_errors"]:
        lines += ["", "## Article errors", "", "| text | expected | got |", "|---|---|---|"]
        lines += [f"| {e['text']} | {e['expected']} | {e['got']} |" for e in result["article_errors"]]
    return "\n".join(lines) + "\n"


def evaluate(min_macro_f1: float = 0.90, config: Path = ROOT / "config.yml") -> bool:
    """Runs the evaluation, writes reports/evaluation.{json,md}; True when macro-F1 reaches the floor.

    Another `config` (to compare pipelines on the same split) writes reports/evaluation-<name>.*.
    """
    logging.getLogger("rasa").setLevel(logging.WARNING)
    kb = load_knowledge()
    train, held_out = split(article_examples(kb) + place_examples(kb) + handwritten_examples())
    started = time.monotonic()
    model = _train_eval_model(augment(train), config)
    result_name = "evaluation" if config.resolve() == (ROOT / "config.yml") else f"evaluation-{config.stem}"
    predictions = _predict(model, held_out)
    result = _metrics(predictions)
    # Every held-out prediction with its confidences, for tuning thresholds (not a report: build/).
    (EVAL_DIR / f"{result_name}-predictions.json").write_text(
        json.dumps([dataclasses.asdict(p) for p in predictions], ensure_ascii=False, indent=1)
    )
    result["generated_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    result["min_macro_f1"] = min_macro_f1
    result["config"] = config.name
    result["seconds_to_train_and_evaluate"] = round(time.monotonic() - started, 1)
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / f"{result_name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    (REPORTS / f"{result_name}.md").write_text(_markdown(result, min_macro_f1))
    print(
        f"macro-F1 {result['macro_f1']:.3f} (floor {min_macro_f1:.2f}), retrieval top-1 "
        f"{result['retrieval_top1_accuracy']:.3f}; report in reports/{result_name}.md"
    )
    return result["macro_f1"] >= min_macro_f1
