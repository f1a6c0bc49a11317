"""Readings a collector could not deliver when it stopped, kept on disk for the next collector on the host.

A worker stopped (deployment, systemd restart) while the database is away would otherwise lose what it
read but could not store: the parts still count (counters are cumulative) but fall into the hour they are
read again, and the running and stopped changes become no-data, which is downtime that never happened.

Files are JSON lines in `<VAR_DIR>/spool/`, written whole under a temporary name and renamed. A collector
that starts loads every file there and deletes them once their readings are delivered, or once it has
written them into its own file when it stops before that. Two collectors on one host may load the same
file: the pipeline stores a reading it already has once (a duplicate), so nothing counts twice.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import datetime
from pathlib import Path

from monitoring.collectors.records import Sample

logger = logging.getLogger(__name__)


class Spool:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._loaded: list[Path] = []

    def load(self) -> list[Sample]:
        """The readings of every file in the spool (oldest file first); bad lines are logged and skipped."""
        samples: list[Sample] = []
        try:
            files = sorted(self.directory.glob("*.jsonl"), key=lambda path: path.stat().st_mtime)
        except OSError as error:  # gone between glob and stat, or not readable: nothing to load
            logger.warning("spool %s cannot be read: %s", self.directory, error)
            return samples
        for path in files:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                logger.warning("spool file %s cannot be read: %s", path, error)
                continue
            for number, line in enumerate(lines, 1):
                try:
                    machine, ts, signal, value = json.loads(line)
                    samples.append(Sample(machine, datetime.fromisoformat(ts), signal, value))
                except (ValueError, TypeError) as error:
                    logger.warning("spool file %s line %d skipped: %s", path, number, error)
            self._loaded.append(path)
        if samples:
            logger.warning("delivering %d readings that a stopped collector could not store (%d files)",
                           len(samples), len(self._loaded))
        return samples

    def delivered(self) -> None:
        """The loaded readings are stored: their files go."""
        loaded, self._loaded = self._loaded, []
        for path in loaded:
            path.unlink(missing_ok=True)

    def save(self, samples: list[Sample]) -> Path | None:
        """Keep `samples` for the next collector (the loaded files' readings are among them: those files go)."""
        if not samples:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{uuid.uuid4().hex}.jsonl"
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            for sample in samples:
                file.write(json.dumps([sample.machine_code, sample.ts.isoformat(), sample.signal, sample.value]))
                file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        self.delivered()
        logger.warning("kept %d readings that could not be stored in %s for the next collector", len(samples), path)
        return path
