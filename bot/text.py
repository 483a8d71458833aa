"""Text from outside, made safe to keep: the control characters nobody types are taken out.

PostgreSQL refuses a NUL character in text (SQLite keeps it), and no resident or social worker types
NUL, a backspace or an escape character on purpose: they come from broken clients, copy and paste
from odd places, or someone probing. Everything that stores or looks up text from a request goes
through `without_control` (the chat channels, the handover store, the staff accounts), so the two
databases behave the same and a stray byte is never a server error. Tab, newline and carriage return
stay: they are how people write.

Half an emoji goes too: a client that cuts a message at a length can cut an emoji's UTF-16 pair in two, and
JSON then carries a lone surrogate ("\ud83d"), which Python keeps in a string but no UTF-8 encoder, database
driver or spaCy accepts (the NLU pipeline failed on it, and the resident got no answer). A whole pair arrives
as one character, so any surrogate left in a string is such a half.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def without_control(text: str) -> str:
    """The text without C0 control characters (but tab and line breaks), DEL and lone surrogates."""
    return _CONTROL.sub("", text)


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None
