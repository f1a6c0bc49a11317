"""Bad input for the fuzz suite: values that look right and are not, and the strategies that mix them.

Each list holds what once broke something or could: dates that do not exist or lie at the ends of
the calendar, digits Python's int() reads but no ERP writes, text no database stores, shapes too
deep or too big. The strategies draw from them and from hypothesis' own text, bytes and numbers.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import strategies as st

BAD_INSTANTS = [
    "2026-02-30T00:00:00Z", "2026-01-12T25:00:00Z", "2026-01-12T10:60:00Z", "2026-01-12T10:00:00+25:00",
    "2026-01-12T10:00:00+15:59", "2026-01-12T10:00:00-23:59", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00-01:00", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59+23:59",
    "1970-12-31T23:59:59Z", "3000-01-01T00:00:01Z", "2026-01-12T10:00:00", "2026-01-12", "0001-01-01",
    "9999-12-31", "2026-02-30", "T25:00", "2026-W03-1", "20260112T100000Z", "2026-01-12T10:00:00.1234567890Z",
    "-2026-01-12T10:00:00Z", "2026-01-12 10:00:00 01:00", "2026-01-12T10:00:00Z\n",
]
GOOD_INSTANTS = ["2026-01-12T09:00:00Z", "2026-01-12T10:00:00+01:00", "2026-01-12T09:30:00.5+00:00",
                 "2026-01-11T23:00:00Z", "2026-11-30T06:00:00Z"]
BAD_NUMBERS = [
    "²", "٣", "３", "𝟕", "1e999", "-1e999", "NaN", "nan", "Infinity", "-Infinity", "1e3", "0x10", "1_000",
    " 7 ", "-0", "+5", "9" * 30, "9" * 5000, "1.5", "", "−1", "1,5",
]
BAD_TEXT = [
    "\x00", "A1\x00", "\x01", "\x1b[31mred", "\x7f", "\ud800", "x\udfffy", "x" * 5000, "é", "\u202e", "😀",
    " ", "%00", "../../etc/passwd", "' OR 1=1 --", "<script>alert(1)</script>", "\\", "\n", "A1\n", "\t",
    "\ufeff", "\u00a0", "null", "true", "[]", "{}",
]
# Codes, numbers and words of the test plant (tests/conftest.py `plant`), so that some requests get far.
GOOD_TEXT = ["A1", "A2", "B1", "A", "B", "berlin", "pack", "P-1", "WO-1", "jam", "changeover", "meeting",
             "running", "total_count", "reason", "scrap", "stop", "1", "100", "0"]
GOOD_INSTANT_VALUES = GOOD_INSTANTS

nasty_text = st.one_of(
    st.sampled_from(BAD_INSTANTS + BAD_NUMBERS + BAD_TEXT),
    st.sampled_from(GOOD_TEXT + GOOD_INSTANTS),
    st.text(max_size=30),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 10**30, 1e308, 5e-324, 0.5]),
)
json_leaves = st.one_of(st.none(), st.booleans(), numbers, nasty_text)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(nasty_text, children, max_size=4),
    max_leaves=12,
)


def deep(levels: int, opening: str = "[", closing: str = "]") -> bytes:
    return (opening * levels + closing * levels).encode()


RAW_BODIES = [
    b"", b"{", b"[", b"null", b"0", b'"text"', b"[]", b"{}", deep(1000), deep(100_000, "[", ""),
    ('{"a":' * 1000 + "1" + "}" * 1000).encode(), b'{"quantity": 1e999}', b'{"quantity": NaN}',
    b'{"quantity": -Infinity}', b'{"quantity": "\\u00b2"}', b'{"quantity": 1' + b"0" * 5000 + b"}",
    b'{"name": "\\ud800", "cycle_times": {}}', b'{"name": "x", "cycle_times": {"\\udfff": 1}}',
    b'{"name": "\\u0000"}', b"\xff\xfe{\x00}\x00", b"\xef\xbb\xbf{}", b'{"a": "\xff"}', b"\x00" * 10,
    '{"name": "é"}'.encode("latin-1"), '{"name": "x"}'.encode("utf-16"), b'{"a": 1, "a": 2}',
    b"ts,machine,signal,value\n2026-01-12T09:00:00Z,B1,running,true\n",
]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-16", "application/json; charset=nonsense",
                 "text/csv", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                 "application/xml"]


def raw_bodies() -> st.SearchStrategy[bytes]:
    return st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=200),
                     json_values.map(lambda value: json.dumps(value).encode("utf-8", "surrogatepass")))


def quoted(text: str) -> str:
    """Text as a URL carries it, percent-encoded; a lone surrogate becomes bytes that are not UTF-8."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def query_string(params: dict[str, str]) -> str:
    return "&".join(f"{quoted(name)}={quoted(value)}" for name, value in params.items())


def body_for(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """An object with the endpoint's fields, each maybe left out, maybe bad, and maybe keys of no field."""
    return st.fixed_dictionaries({}, optional={name: st.one_of(good, json_values) for name, good in fields.items()}) \
        .flatmap(lambda body: st.dictionaries(nasty_text, json_values, max_size=2).map(lambda extra: {**extra, **body}))
