"""manage.py prune_observations: delete raw observations older than OBSERVATIONS_KEEP_DAYS (see monitoring.retention)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from monitoring import retention


class Command(BaseCommand):
    help = ("Delete raw observations older than OBSERVATIONS_KEEP_DAYS once their hours are rolled up "
            "(the projection and the rollups stay).")

    def handle(self, *args, **options) -> None:
        if retention.keep_for() is None:
            raise CommandError("OBSERVATIONS_KEEP_DAYS is not set: observations are kept for ever.")
        deleted = retention.prune_all()
        self.stdout.write(f"{deleted:,} observations deleted")
