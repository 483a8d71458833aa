"""Trains the Rasa model only when something that shapes it changed, keyed by a content fingerprint."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from bot.paths import GENERATED_NLU, MODELS, ROOT
from knowledge.export import export_training_data
from knowledge.loader import load_knowledge

# Everything the trained model depends on: training data (hand-written and generated), config,
# domain, the spaCy pipeline and our own NLU components. Knowledge reaches it via build/nlu.
MODEL_INPUTS = ("config.yml", "domain.yml", "nlu", "build/nlu", "bot/rasa_components", "build/spacy/sv_nara/meta.json")
# The part of MODEL_INPUTS that only a config using Nära's components or spaCy pipeline depends on.
NARA_COMPONENT_INPUTS = ("bot/rasa_components", "build/spacy/sv_nara/meta.json")


def config_uses_nara_components(config: Path) -> bool:
    """Whether a Rasa config's pipeline uses Nära's own components or its spaCy pipeline."""
    import yaml

    pipeline = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("pipeline") or []
    names = [str(step.get("name", "")) for step in pipeline if isinstance(step, dict)]
    return any(name.startswith("bot.") or name.startswith("Spacy") for name in names)


def _files(paths: Iterable[str]) -> list[Path]:
    out: list[Path] = []
    for rel in paths:
        path = ROOT / rel
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif path.exists():
            out.append(path)
    return out


def fingerprint(paths: Iterable[str] = MODEL_INPUTS) -> str:
    digest = hashlib.sha256()
    for path in _files(paths):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def generate_training_data() -> Path:
    return export_training_data(load_knowledge(), GENERATED_NLU)


def model_path() -> Path:
    return MODELS / f"nara-{fingerprint()}.tar.gz"


def rasa(*args: str) -> None:
    """Runs the Rasa CLI of this environment in the project root; raises when it fails."""
    subprocess.run([sys.executable, "-m", "rasa", *args], cwd=ROOT, check=True)


def train(force: bool = False) -> Path:
    """The model for the current inputs, training one first when there is none."""
    generate_training_data()
    target = model_path()
    if target.exists() and not force:
        print(f"Model is up to date: {target.relative_to(ROOT)}")
        return target
    rasa(
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        "nlu",
        str(GENERATED_NLU.relative_to(ROOT)),
        "--out",
        str(MODELS.relative_to(ROOT)),
        "--fixed-model-name",
        target.name.removesuffix(".tar.gz"),
    )
    for old in MODELS.glob("nara-*.tar.gz"):
        if old != target:
            old.unlink()
    return target
