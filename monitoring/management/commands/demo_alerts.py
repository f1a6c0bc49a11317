"""`manage.py demo_alerts`: the demo plant's alert rules, so a long stop on the demo lines alerts someone."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitoring.models import AlertEscalation, AlertKind, AlertRule
from planning.models import Line

DEMO_RECIPIENT = "shift-lead@oee-demo.invalid"
DEMO_ESCALATION = "plant-manager@oee-demo.invalid"


class Command(BaseCommand):
    help = ("Create the demo's alert rules where missing (by name): per line, a stop longer than 10 minutes and "
            "no data for 5 minutes, escalated after 15 minutes. Runs only with DEBUG on.")

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_alerts makes the demo's alert rules: it runs only with DEBUG=1.")
        made = 0
        for line in Line.objects.all():
            for kind, minutes, what in ((AlertKind.LONG_STOP, 10, "stopped"), (AlertKind.NO_DATA, 5, "without data")):
                rule, created = AlertRule.objects.get_or_create(
                    name=f"{line.code}: a machine {what} over {minutes} min",
                    defaults={"kind": kind, "line": line, "threshold": minutes, "emails": DEMO_RECIPIENT},
                )
                if created:
                    AlertEscalation.objects.create(rule=rule, after_minutes=15, emails=DEMO_ESCALATION)
                    made += 1
        self.stdout.write(f"Demo alert rules: {made} made; e-mails go to the worker's log unless EMAIL_HOST is set.")
