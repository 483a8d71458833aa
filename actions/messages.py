"""The actions' Swedish wording, from actions/messages.yml (data, so it is read and reviewed as text)."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

MESSAGES_FILE = Path(__file__).resolve().parent / "messages.yml"


@functools.lru_cache(maxsize=1)
def catalogue() -> dict[str, str]:
    return yaml.safe_load(MESSAGES_FILE.read_text(encoding="utf-8"))


def message(key: str, **fields: str) -> str:
    """The message `key` with its `{field}`s filled in."""
    return catalogue()[key].format(**fields)
