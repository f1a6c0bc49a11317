"""Reading values out of a parsed plant file: converters, key checks, and problems with their paths."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction

from planning.lib.calendar import WEEKDAYS
from planning.lib.text import text_problem

DAY_NAMES = {name[:3].lower(): index for index, name in enumerate(WEEKDAYS)} | {
    name.lower(): index for index, name in enumerate(WEEKDAYS)
}


class Problems:
    """Every problem found in a plant file, each as `path: message`."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.messages.append(f"{path or '(top level)'}: {message}")

    def __bool__(self) -> bool:
        return bool(self.messages)


def at(path: str, key: object) -> str:
    """The path of `key` inside the node at `path` ("" is the top of the file)."""
    return f"{path}.{key}" if path else str(key)


# Converters turn a YAML value into a field's value or raise ValueError saying what it must be.

def text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("must be text")
    problem = text_problem(str(value))
    if problem:  # "\0" in a quoted YAML string: no database stores it
        raise ValueError(f"must be text, but it {problem}")
    return str(value)


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    try:
        result = float(value)
    except OverflowError:  # a whole number past what a float holds
        raise ValueError("must be a number of sensible size") from None
    if not math.isfinite(result):  # YAML's .inf and .nan
        raise ValueError("must be a finite number, not .inf or .nan")
    return result


def positive(value: Any) -> float:
    result = number(value)
    if result <= 0:
        raise ValueError("must be positive")
    return result


def whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def optional_whole(value: Any) -> int | None:
    return None if value is None else whole(value)


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def clock(value: Any) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 06:00 as the base-60 number 360.
        raise ValueError('must be a time in quotes, such as "06:00" (unquoted, YAML reads it as a number)')
    if not isinstance(value, str):
        raise ValueError('must be a time such as "06:00"')
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f'must be a time such as "06:00", not {value!r}') from None


def instant(value: Any) -> datetime:
    """A date and time; a naive one is local time at the site, made aware by the caller."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError('must be a date and time such as "2026-12-24T14:00:00+01:00"')


def days(value: Any) -> list[int]:
    """Weekday numbers (0 = Monday) from a list of day names such as [mon, tue]."""
    if not isinstance(value, list) or not value:
        raise ValueError("must be a list of days such as [mon, tue, wed]")
    result = []
    for day in value:
        index = DAY_NAMES.get(str(day).lower()) if isinstance(day, str) else None
        if index is None:
            raise ValueError(f"{day!r} is not a day: use mon, tue, wed, thu, fri, sat, sun")
        if index in result:
            raise ValueError(f"names {day!r} twice")
        result.append(index)
    return sorted(result)


@dataclass(frozen=True)
class Field:
    """A key of a file section and the model attribute it sets."""

    key: str
    convert: Callable[[Any], Any]
    attr: str = ""
    required: bool = False
    # A secret: never exported, so a file without it must not erase it.
    keep_when_absent: bool = False

    @property
    def name(self) -> str:
        return self.attr or self.key


def mapping(node: Any, path: str, problems: Problems, allowed: Iterable[str]) -> dict | None:
    """The node as a dict, after reporting keys the section does not know; None if not a mapping."""
    if not isinstance(node, dict):
        problems.add(path, "must be a mapping of keys to values")
        return None
    allowed = list(allowed)
    for key in node:
        if key not in allowed:
            problems.add(at(path, key), f"unknown key (expected one of: {', '.join(allowed)})")
    return node


def sequence(node: Any, path: str, problems: Problems) -> list:
    """The node as a list (an absent or null list is empty)."""
    if node is None:
        return []
    if not isinstance(node, list):
        problems.add(path, "must be a list")
        return []
    return node


def fill(instance: models.Model, node: dict, fields: list[Field], path: str, problems: Problems) -> set[str]:
    """Set the instance's fields from the node; a key left out takes the model's default.

    Returns the names of the fields whose values were refused (already reported).
    """
    refused: set[str] = set()
    for field in fields:
        if field.key not in node:
            if field.required:
                problems.add(at(path, field.key), "is required")
                refused.add(field.name)
            elif not field.keep_when_absent:
                setattr(instance, field.name, instance._meta.get_field(field.name).get_default())
            continue
        try:
            setattr(instance, field.name, field.convert(node[field.key]))
        except ValueError as error:
            problems.add(at(path, field.key), str(error))
            refused.add(field.name)
    return refused


def check(instance: models.Model, path: str, problems: Problems, fields: list[Field], exclude: set[str]) -> bool:
    """Run the model's own validation, reporting each message at its key's path. True when valid."""
    keys = {field.name: field.key for field in fields}
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            if name in exclude:
                continue  # a value already refused, or a parent that is not there: reported once, elsewhere
            where = at(path, keys[name]) if name != NON_FIELD_ERRORS and name in keys else path
            for message in messages:
                problems.add(where, message)
        return False
    return True


def snapshot(instance: models.Model) -> dict[str, Any]:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def save(instance: models.Model, path: str, problems: Problems) -> bool:
    """Save in a savepoint, so a database refusal is one more problem rather than a broken transaction."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as error:
        problems.add(path, f"the database refused it: {error}")
        return False
    return True
