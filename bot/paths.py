"""Where Nära keeps what it builds; all relative to the project root."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
SPACY_MODEL = BUILD / "spacy" / "sv_nara"
GENERATED_NLU = BUILD / "nlu"
MODELS = ROOT / "models"
REPORTS = ROOT / "reports"
