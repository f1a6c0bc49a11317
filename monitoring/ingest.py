"""Observations as files and API bodies carry them: CSV rows and JSON items, read into `ObservationIn`.

Rows that are not even well-formed (a missing field, a time without an offset) are rejected
here with what was wrong; the pipeline rejects the rest (an unknown machine, a bad value).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from monitoring.pipeline import ObservationIn
from planning.lib.instants import read_instant
from planning.lib.text import text_problem

HEADER = ["ts", "machine", "signal", "value"]
# No observation's line is nearly this long; a longer one is refused, and read no further.
MAX_LINE_BYTES = 4096
MAX_FIELD_CHARS = 100


class FileRejected(ValueError):
    """The whole file or body cannot be read (no header, the wrong header, not a list)."""


@dataclass
class Read:
    """What was read: the observations, where each came from, and the items refused on the way."""

    observations: list[ObservationIn] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)
    """Per observation, its CSV line number or its index in the JSON list."""
    bad: list[tuple[int, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.observations) + len(self.bad)


def _instant(text: object, origin: int, read: Read):
    if not isinstance(text, str):
        read.bad.append((origin, f"ts must be an ISO 8601 date-time string, not {json_type(text)}"))
        return None
    try:
        return read_instant(text)
    except ValueError as why:
        read.bad.append((origin, f"ts {why}"))
        return None


def read_csv(stream: BinaryIO) -> Read:
    """Observations of a UTF-8 CSV with the header ts,machine,signal,value; origins are file line numbers.

    A line that is not UTF-8 or is too long is rejected with its number, as a row with bad text is;
    FileRejected when the whole file cannot be read (no header, UTF-16, a field of over 128 KB).
    """
    read = Read()
    reader = csv.reader(_text_lines(stream, read))
    try:
        return _read_csv(reader, read)
    except csv.Error as error:  # a quoted field running over 128 KB: no sensible row can follow
        raise FileRejected(f"line {reader.line_num}: {error}") from None


def _text_lines(stream: BinaryIO, read: Read) -> Iterator[str]:
    """The file's lines decoded; each that cannot be is rejected in `read` and read as an empty line,
    so the CSV reader's line numbers stay the file's."""
    number = 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if number == 1:
            # UTF-16 or UTF-32 text of the ASCII header is half NUL bytes or more; one NUL is just a NUL.
            if line.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or line.count(b"\x00") * 3 >= len(line):
                raise FileRejected("line 1: the file is UTF-16 or UTF-32 text: save it as UTF-8 (CSV UTF-8)")
            if b"\x00" in line:
                raise FileRejected("line 1: the header holds a NUL character: expected ts,machine,signal,value")
            line = line.removeprefix(codecs.BOM_UTF8)
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(MAX_LINE_BYTES + 1)
            read.bad.append((number, f"the line is longer than {MAX_LINE_BYTES} bytes: no observation is"))
            yield "\n"
            continue
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as error:
            read.bad.append((number, f"not UTF-8 (byte 0x{line[error.start]:02x} at byte {error.start + 1} of the "
                                     "line): save the file as UTF-8"))
            yield "\n"


def _read_csv(reader, read: Read) -> Read:
    header = next(reader, None)
    if header is None:
        raise FileRejected("the file is empty: expected a header line ts,machine,signal,value")
    if read.bad and read.bad[0][0] == 1:
        raise FileRejected(f"line 1: {read.bad[0][1]}")
    if [h.strip().lower() for h in header] != HEADER:
        raise FileRejected(f"line 1: the header must be ts,machine,signal,value, got {','.join(header)!r}")
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 4:
            read.bad.append((line, f"expected 4 fields (ts,machine,signal,value), got {len(row)}"))
            continue
        problem = _text_problem(dict(zip(HEADER, row)))
        if problem:
            read.bad.append((line, problem))
            continue
        ts_text, machine, signal, value = (cell.strip() for cell in row)
        ts = _instant(ts_text, line, read)
        if ts is not None:
            read.observations.append(ObservationIn(machine, ts, signal, value))
            read.origins.append(line)
    return read


def _text_problem(fields: dict) -> str | None:
    """What is wrong with the first field whose text is too long or cannot be stored, naming it."""
    for name in HEADER:
        text = fields[name]
        if not isinstance(text, str):
            continue
        if len(text) > MAX_FIELD_CHARS:
            return f"{name} is {len(text):,} characters long: no time, code or value is over {MAX_FIELD_CHARS}"
        problem = text_problem(text)
        if problem:
            return f"{name} {problem}"
    return None


def read_items(items: object) -> Read:
    """Observations of a JSON list of {ts, machine, signal, value}; origins are list indexes."""
    if not isinstance(items, list):
        raise FileRejected("send a JSON list of {\"ts\", \"machine\", \"signal\", \"value\"} objects")
    read = Read()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            read.bad.append((index, "an observation is an object {\"ts\", \"machine\", \"signal\", \"value\"}"))
            continue
        missing = [name for name in HEADER if name not in item]
        if missing:
            read.bad.append((index, f"missing {', '.join(missing)}"))
            continue
        if not isinstance(item["machine"], str) or not isinstance(item["signal"], str):
            read.bad.append((index, "machine and signal are strings (codes)"))
            continue
        if isinstance(item["value"], (list, dict)) or item["value"] is None:
            read.bad.append((index, f"value must be a number, a boolean or a string, not {json_type(item['value'])}"))
            continue
        problem = _text_problem(item)
        if problem:
            read.bad.append((index, problem))
            continue
        ts = _instant(item["ts"], index, read)
        if ts is not None:
            read.observations.append(ObservationIn(item["machine"], ts, item["signal"], item["value"]))
            read.origins.append(index)
    return read


def json_type(value: object) -> str:
    """What a JSON value is, in words: `an object`, `a list`, `null`."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def rejections(read: Read, rejected: Iterable) -> list[tuple[int, str]]:
    """Every refused item by its origin: those refused when read, and the pipeline's `Rejection`s."""
    return sorted(read.bad + [(read.origins[r.index], r.message) for r in rejected])
