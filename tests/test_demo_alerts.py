"""`manage.py demo_alerts`: the demo's alert rules, once, and never on a production database."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from monitoring.models import AlertRule

pytestmark = pytest.mark.django_db


def test_it_makes_each_lines_rules_once_with_an_escalation(plant, settings):
    settings.DEBUG = True
    call_command("demo_alerts")
    call_command("demo_alerts")
    rules = AlertRule.objects.order_by("name")
    assert [(r.line.code, r.kind, r.threshold) for r in rules] == [
        ("A", "long_stop", 10), ("A", "no_data", 5), ("B", "long_stop", 10), ("B", "no_data", 5)]
    assert all(rule.escalations.count() == 1 for rule in rules)
    for rule in rules:
        rule.full_clean()


def test_it_refuses_to_run_with_debug_off(plant, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("demo_alerts")
    assert not AlertRule.objects.exists()
