"""Text that can be stored and shown: no NUL or other control character, no lone surrogate. Pure.

PostgreSQL refuses a NUL in any text, a lone surrogate (JSON's "\\ud800") is not UTF-8 at all,
and the other control characters only ever arrive by mistake; tab and line breaks are text.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored as it is (naming the character), or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "holds a NUL character (\\u0000)"
    if "\ud800" <= char <= "\udfff":
        return f"holds a lone surrogate (\\u{ord(char):04x}), which is no character"
    return f"holds the control character \\u{ord(char):04x}"


def shown(value: object, limit: int = 40) -> str:
    """The value as a message quotes it: its repr (escaping what is not plain text), cut short."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"
