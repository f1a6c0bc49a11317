"""Observations as files and API bodies carry them: CSV rows and JSON items, read into `ObservationIn`.

Rows that are not even well-formed (a missing field, a time without an offset) are rejected
here with what was wrong; the pipeline rejects the rest (an unknown machine, a bad value).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from monitoring.pipeline import ObservationIn
from planning.lib.instants import read_instant

HEADER = ["ts", "machine", "signal", "value"]


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
        read.bad.append((origin, f"ts {text!r} must be an ISO 8601 date-time string"))
        return None
    try:
        return read_instant(text)
    except ValueError as why:
        read.bad.append((origin, f"ts {why}"))
        return None


def read_csv(stream: io.TextIOBase) -> Read:
    """Observations of a CSV with the header ts,machine,signal,value; origins are file line numbers."""
    reader = csv.reader(stream)
    try:
        return _read_csv(reader)
    except csv.Error as error:  # a field of over 128 KB, a NUL byte: no sensible row can follow
        raise FileRejected(f"line {reader.line_num}: {error}") from None


def _read_csv(reader) -> Read:
    header = next(reader, None)
    if header is None:
        raise FileRejected("the file is empty: expected a header line ts,machine,signal,value")
    if [h.strip().lower() for h in header] != HEADER:
        raise FileRejected(f"line 1: the header must be ts,machine,signal,value, got {','.join(header)}")
    read = Read()
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 4:
            read.bad.append((line, f"expected 4 fields (ts,machine,signal,value), got {len(row)}"))
            continue
        ts_text, machine, signal, value = (cell.strip() for cell in row)
        ts = _instant(ts_text, line, read)
        if ts is not None:
            read.observations.append(ObservationIn(machine, ts, signal, value))
            read.origins.append(line)
    return read


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
            read.bad.append((index, f"value {item['value']!r} must be a number, a boolean or a string"))
            continue
        ts = _instant(item["ts"], index, read)
        if ts is not None:
            read.observations.append(ObservationIn(item["machine"], ts, item["signal"], item["value"]))
            read.origins.append(index)
    return read


def rejections(read: Read, rejected: Iterable) -> list[tuple[int, str]]:
    """Every refused item by its origin: those refused when read, and the pipeline's `Rejection`s."""
    return sorted(read.bad + [(read.origins[r.index], r.message) for r in rejected])
