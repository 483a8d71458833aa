"""The `nara` command: knowledge checks, training data, models and evaluation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot import paths


def cmd_spacy_model(args: argparse.Namespace) -> int:
    from bot.spacy_model import build

    built = build(Path(args.out))
    print(f"{'Built' if built else 'Up to date:'} {args.out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from knowledge.loader import knowledge_dir
    from knowledge.validate import validate

    root = Path(args.dir) if args.dir else knowledge_dir()
    problems = validate(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    count = len(list((root / "articles").glob("*/*.yml")))
    print(f"{count} articles checked, {len(problems)} problems")
    return 1 if problems else 0


def cmd_export(args: argparse.Namespace) -> int:
    from knowledge.export import export_training_data
    from knowledge.loader import load_knowledge

    path = export_training_data(load_knowledge(), Path(args.out))
    print(f"Wrote {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bot.training import train

    train(force=args.force)
    return 0


def cmd_model_path(args: argparse.Namespace) -> int:
    from bot.training import generate_training_data, model_path

    generate_training_data()
    path = model_path()
    if not path.exists():
        print(f"No model at {path}: run `make train`", file=sys.stderr)
        return 1
    print(path)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from bot.evaluation import evaluate

    return 0 if evaluate(min_macro_f1=args.min_macro_f1, config=Path(args.config)) else 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="nara", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("spacy-model", help="build the blank Swedish spaCy pipeline with lookup lemmas")
    p.add_argument("--out", default=str(paths.SPACY_MODEL))
    p.set_defaults(func=cmd_spacy_model)

    kb = sub.add_parser("knowledge", help="check the knowledge base or generate training data from it")
    kb_sub = kb.add_subparsers(dest="knowledge_command", required=True)
    p = kb_sub.add_parser("validate", help="check every article, line and placeholder; exit 1 on a problem")
    p.add_argument("--dir", help="a knowledge folder (default: $NARA_KNOWLEDGE_DIR or knowledge/)")
    p.set_defaults(func=cmd_validate)
    p = kb_sub.add_parser("export-nlu", help="write the generated Rasa training data")
    p.add_argument("--out", default=str(paths.GENERATED_NLU))
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("train", help="train a model if data, knowledge or config changed")
    p.add_argument("--force", action="store_true", help="train even when a model for these inputs exists")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("model-path", help="print the path of the model for the current inputs")
    p.set_defaults(func=cmd_model_path)

    p = sub.add_parser("evaluate", help="NLU and retrieval evaluation on held-out examples -> reports/")
    p.add_argument("--min-macro-f1", type=float, default=0.90)
    p.add_argument(
        "--config", default=str(paths.ROOT / "config.yml"), help="a pipeline to compare (default: config.yml)"
    )
    p.set_defaults(func=cmd_evaluate)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
