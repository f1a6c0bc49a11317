"""The plant configuration as a YAML file (docs/plant-config.md): export it, import it all or nothing."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from django.db import transaction

from monitoring.plantfile.exporting import export_document, export_plant
from monitoring.plantfile.importing import PlantImport, Tally

__all__ = ["PlantFileError", "Tally", "export_document", "export_plant", "import_plant", "parse"]


class PlantFileError(Exception):
    """The file was refused; `problems` lists each one as `path: message`. Nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the plant file")
        self.problems = problems


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"found the key {key!r} twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse(text: str) -> Any:
    """The document in `text`; PlantFileError saying where the YAML is broken."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        context = f" ({error.context})" if error.context else ""
        raise PlantFileError([f"not valid YAML at {where}: {error.problem}{context}"]) from None
    except yaml.YAMLError as error:
        raise PlantFileError([f"not valid YAML: {error}"]) from None


def import_plant(document: Any) -> Tally:
    """Create or update the plant from a parsed plant file in one transaction.

    Returns what was created, updated, deleted and left unchanged; raises PlantFileError with
    every problem found, after rolling back, when the file has any.
    """
    run = PlantImport()
    with transaction.atomic():
        run.run(document)
        if run.problems:
            raise PlantFileError(run.problems.messages)
    return run.tally
