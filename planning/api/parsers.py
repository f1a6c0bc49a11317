"""Request bodies the API reads: JSON of bounded size and depth, with finite numbers and storable text.

Every refusal is a 400 (413 for size) naming where in the body the problem is, e.g. `quantity` or
`cycle_times.L1-FILL`, before any view sees the body: nothing is half-stored.
"""

from __future__ import annotations

import json
import math

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from planning.lib.text import text_problem

# No body of this API nests deeper than a few levels; Python's parser gives up near a thousand.
MAX_DEPTH = 32
# 100,000 observations (the most one request may send) fit with room to spare.
MAX_BODY_BYTES = 32 * 1024 * 1024


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"A request body may hold at most {MAX_BODY_BYTES // (1024 * 1024)} MB."
    default_code = "body_too_large"


def read_body(stream) -> bytes:
    """The whole body; BodyTooLarge past MAX_BODY_BYTES (read no further than that)."""
    raw = stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BodyTooLarge()
    return raw


def _path(place: tuple | None) -> str:
    """`cycle_times.L1`, `[3].ts` from (parent place, key); a name that is not plain text is escaped."""
    parts = []
    while place is not None:
        place, key = place
        if isinstance(key, int):
            parts.append(f"[{key}]")
        else:
            name = key if text_problem(key) is None else repr(key)[1:-1]
            parts.append(("." if place is not None else "") + (name if len(name) <= 40 else f"{name[:40]}…"))
    return "".join(reversed(parts)) or "body"


def body_problem(data: object) -> tuple[str, str] | None:
    """(where, what) of the first thing a parsed body may not hold, or None.

    Numbers must be finite, and no text (key or value) may hold what `text_problem` refuses.
    Walks without recursion: depth is what it bounds.
    """
    # A place is (its parent's place, its key): the path is spelled out only for a problem.
    stack: list[tuple[object, tuple | None, int]] = [(data, None, 0)]
    while stack:
        value, place, depth = stack.pop()
        problem = _scalar_problem(value)
        if problem:
            return _path(place), problem
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_DEPTH:
            return _path(place), f"the body nests deeper than {MAX_DEPTH} levels"
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            if isinstance(key, str) and text_problem(key):
                return _path((place, key)), f"the name {text_problem(key)}"
            if isinstance(item, (dict, list)):
                stack.append((item, (place, key), depth + 1))
            else:
                problem = _scalar_problem(item)
                if problem:
                    return _path((place, key)), problem
    return None


def _scalar_problem(value: object) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a number a body may hold (it must be finite)"
    if isinstance(value, str):
        problem = text_problem(value)
        return f"the text {problem}" if problem else None
    return None


class StrictJSONParser(JSONParser):
    """JSON, refused with a 400 naming the place when it is too deep, holds NaN or 1e999, or holds
    text no database stores (a NUL, a control character, a lone surrogate)."""

    check_body = True
    """False where the view checks each item itself (and rejects only the bad ones)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = read_body(stream)
        try:
            data = json.loads(raw.decode(encoding))
        except RecursionError:
            raise ParseError(f"JSON parse error - the body nests deeper than {MAX_DEPTH} levels.") from None
        except ValueError as error:  # not JSON, or not in the body's encoding
            raise ParseError(f"JSON parse error - {error}") from None
        problem = body_problem(data) if self.check_body else None
        if problem:
            where, what = problem
            raise ParseError({where: [f"{where}: {what}."]})
        return data
