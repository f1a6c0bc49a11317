"""`manage.py demo_history`: give the demo plant's simulated lines a past of a few days, once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.demo_history import backfill, has_history


class Command(BaseCommand):
    help = ("Draw the last DAYS of every line the plant simulator serves (shifts and breaks, faults, stops with "
            "reasons, micro-stops, work orders of several products with their changeovers, scrap) and put them "
            "in through the pipeline, as if the plant had run; then roll up the hours. Seeded: the same seed "
            "draws the same past.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=float, default=14.0, help="How many days back (default 14).")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the story (default 1).")
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing when any machine has observations already (what `make run` uses).")

    def handle(self, *args, days: float, seed: int, if_empty: bool, **options) -> None:
        if not 0 < days <= 366:
            raise CommandError(f"--days must be more than 0 and at most 366, got {days:g}")
        if if_empty and has_history():
            self.stdout.write("The database holds observations already: no demo history drawn.")
            return
        began = time.monotonic()
        with _cache_optional(self.stdout.write):
            done = backfill(days, seed, say=self.stdout.write)
        if done.observations == 0:
            self.stdout.write("No machine served by the plant simulator (load demo/plant.yaml first): "
                              "no demo history drawn.")
            return
        orders = sum(len(orders) for orders in done.orders.values())
        self.stdout.write(self.style.SUCCESS(
            f"Demo history of {days:g} days in {time.monotonic() - began:.1f} s: {done.observations:,} observations, "
            f"{orders} work orders, {done.reasons_given} reasons given, {done.scrap_entries} scrap entries."))


@contextmanager
def _cache_optional(say: Callable[[str], None]) -> Iterator[None]:
    """`make run` draws the past before it starts Redis: the shift patterns are then read from the
    database, said once here rather than warned of at every read."""
    try:
        cache.get("demo_history:probe")
    except Exception:  # noqa: BLE001 - any failure of the cache means the same here
        say("The cache (Redis) is not running yet: shift patterns are read from the database.")
        schedule = logging.getLogger("planning.schedule")
        level = schedule.level
        schedule.setLevel(logging.ERROR)
        try:
            yield
        finally:
            schedule.setLevel(level)
        return
    yield
