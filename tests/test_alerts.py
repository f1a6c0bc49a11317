"""Alert rules evaluated over real histories through the pipeline (monitoring/alerts): when each opens and ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from monitoring import alerts
from monitoring.alerts.conditions import Watch, findings
from monitoring.alerts.lifecycle import open_alert
from monitoring.models import Alert, AlertKind, AlertRule
from monitoring.pipeline import ObservationIn, record_observations
from planning.models import DowntimeReason, OutboxEvent
from tests.histories import EARLY, api_oee, at, b1_now, monday_of_a1

pytestmark = pytest.mark.django_db


def rule(kind: str, threshold: float | None = None, **where) -> AlertRule:
    made = AlertRule(name=f"{kind} rule", kind=kind, threshold=threshold, **where)
    made.full_clean()
    made.save()
    return made


def events(type_: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=type_))


def b1_runs_again() -> None:
    assert not record_observations([ObservationIn("B1", timezone.now(), "running", True)]).rejected


def test_a_stop_past_its_limit_opens_one_alert_which_ends_when_the_machine_runs_again(plant):
    rule(AlertKind.LONG_STOP, 10, machine=plant.b1)
    stopped = b1_now(stopped_minutes=12)
    assert alerts.evaluate()["opened"] == 1
    alert = Alert.objects.get()
    assert (alert.machine, alert.line, alert.since, alert.ended_at) == (plant.b1, plant.line_b, stopped, None)
    assert "B1" in alert.title and "10 min" in alert.title
    assert alerts.evaluate()["opened"] == 0  # still the same stop: nothing new
    b1_runs_again()
    assert alerts.evaluate()["ended"] == 1
    assert Alert.objects.get().ended_at is not None
    assert alerts.evaluate() == {"opened": 0, "ended": 0, "sent": 0, "escalated": 0}
    assert [e.key for e in events("alert.opened")] == [f"alert.opened:{alert.key}"]
    assert [e.payload["ended_at"] is not None for e in events("alert.ended")] == [True]


def test_a_stop_within_its_limit_opens_nothing(plant):
    rule(AlertKind.LONG_STOP, 10, machine=plant.b1)
    b1_now(stopped_minutes=7)
    assert alerts.evaluate()["opened"] == 0 and not Alert.objects.exists()


def test_a_stop_rule_of_a_reason_group_or_a_loss_category_alerts_for_its_stops_only(plant):
    mechanical = rule(AlertKind.LONG_STOP, 5, machine=plant.b1, reason_group=plant.jam.parent)
    setup = rule(AlertKind.LONG_STOP, 5, machine=plant.b1, reason_group=plant.changeover.parent)
    failures = rule(AlertKind.LONG_STOP, 5, machine=plant.b1, loss_category="equipment_failure")
    b1_now(stopped_minutes=12, reason="jam")
    alerts.evaluate()
    assert {a.rule for a in Alert.objects.all()} == {mechanical, failures}
    assert setup.alerts.count() == 0
    assert Alert.objects.filter(rule=mechanical).get().detail["reason"] == "jam"


def test_any_stop_means_any_unplanned_one_and_a_planned_group_must_be_chosen(plant):
    any_stop = rule(AlertKind.LONG_STOP, 5, machine=plant.b1)
    planned = rule(AlertKind.LONG_STOP, 5, machine=plant.b1, reason_group=DowntimeReason.objects.get(code="plan"))
    b1_now(stopped_minutes=12, reason="meeting")
    alerts.evaluate()
    assert any_stop.alerts.count() == 0 and planned.alerts.count() == 1


def test_a_line_rule_watches_each_machine_of_the_line(plant):
    rule(AlertKind.LONG_STOP, 10, line=plant.line_b)
    b1_now(stopped_minutes=12)
    alerts.evaluate()
    alert = Alert.objects.get()
    assert (alert.line, alert.machine, alert.subject) == (plant.line_b, plant.b1, "B1")


def a1_stopped(from_, to, stop_at) -> None:
    """A1 read every minute from `from_` to `to`, running until `stop_at`, stopped from then on."""
    rows = [ObservationIn("A1", from_, "running", True), ObservationIn("A1", stop_at, "running", False)]
    t, total = from_, 0
    while t <= to:
        total += 50 if t < stop_at else 0
        rows.append(ObservationIn("A1", t, "total_count", total))
        t += timedelta(minutes=1)
    assert not record_observations(rows).rejected


def test_a_stop_alerts_in_planned_production_time_only_and_ends_with_it(plant):
    # Line A's late shift ends at 22:00 in Berlin, 21:00 UTC; its early shift's break is 09:00-09:30 UTC.
    rule(AlertKind.LONG_STOP, 10, machine=plant.a1)
    a1_stopped(at(20, 0), at(21, 30), stop_at=at(20, 30))
    assert alerts.evaluate(at(20, 45))["opened"] == 1
    assert alerts.evaluate(at(21, 10))["ended"] == 1  # the shift is over: the line is not expected to run
    assert alerts.evaluate(at(21, 30))["opened"] == 0


def test_a_stop_in_a_break_does_not_alert(plant):
    rule(AlertKind.LONG_STOP, 10, machine=plant.a1)
    a1_stopped(at(8, 30), at(9, 20), stop_at=at(8, 50))
    assert alerts.evaluate(at(9, 20))["opened"] == 0


def test_no_data_past_its_limit_alerts_from_where_the_data_stopped_until_data_comes_back(plant):
    rule(AlertKind.NO_DATA, 5, machine=plant.b1)
    too_short = rule(AlertKind.NO_DATA, 10, machine=plant.b1)
    now = b1_now(silent_minutes=10)  # the last reading 10 minutes ago
    alerts.evaluate()
    alert = Alert.objects.get()
    # The silence rule: data stops counting three expected intervals (3 × 60 s) after the last reading.
    assert alert.since == now - timedelta(minutes=10) + timedelta(seconds=180)
    assert too_short.alerts.count() == 0
    b1_runs_again()
    assert alerts.evaluate()["ended"] == 1


def test_scrap_above_its_limit_over_the_last_hour_alerts_with_the_apis_counts(client, plant):
    rule(AlertKind.SCRAP_RATE, 5, machine=plant.b1)
    rule(AlertKind.SCRAP_RATE, 20, machine=plant.b1)
    b1_now(rejects_per_minute=10)
    alerts.evaluate()
    alert = Alert.objects.get()
    assert alert.rule.threshold == 5
    client.force_login(plant.manager)
    api = api_oee(client, "B1", alert.opened_at - timedelta(hours=1), alert.opened_at)
    assert (alert.detail["reject_count"], alert.detail["total_count"]) == (api["reject_count"], api["total_count"])
    assert alert.detail["scrap_percent"] == pytest.approx(10, abs=0.5)


def test_shift_oee_below_the_warning_level_alerts_from_mid_shift_to_the_shift_end(client, plant):
    plant.a1.warning_oee = 0.84
    plant.a1.save()
    machine_rule = rule(AlertKind.LOW_OEE, machine=plant.a1)
    line_rule = rule(AlertKind.LOW_OEE, line=plant.line_a)  # the line's level is its constraint machine's: A1
    monday_of_a1(until=at(12, 59))
    assert alerts.evaluate(at(8, 59))["opened"] == 0  # the early shift is 05:00-13:00 UTC: mid-shift is 09:00
    assert alerts.evaluate(at(9, 31))["opened"] == 2
    alert = machine_rule.alerts.get()
    client.force_login(plant.manager)
    assert alert.detail["oee"] == pytest.approx(api_oee(client, "A1", EARLY[0], at(9, 31))["oee"])
    assert alert.detail["oee"] < 0.84 and alert.since == EARLY[0]
    line_alert = line_rule.alerts.get()
    assert (line_alert.machine, line_alert.subject) == (None, "line:A")
    assert alerts.evaluate(at(13, 1))["ended"] == 2  # the late shift has its own figures


def test_two_evaluations_that_found_the_same_condition_open_one_alert(plant):
    stop_rule = rule(AlertKind.LONG_STOP, 10, machine=plant.b1)
    scrap_rule = rule(AlertKind.SCRAP_RATE, 1, machine=plant.b1)
    b1_now(stopped_minutes=12, rejects_per_minute=5)
    now = timezone.now()
    first, second = Watch(now), Watch(now)
    (stop_a,), (stop_b,) = findings(stop_rule, first), findings(stop_rule, second)
    assert open_alert(stop_rule, stop_a, now) is not None
    assert open_alert(stop_rule, stop_b, now) is None
    # Scrap has no episode: an evaluation a moment later still finds the one alert open.
    (scrap_a,), (scrap_b,) = findings(scrap_rule, first), findings(scrap_rule, second)
    assert open_alert(scrap_rule, scrap_a, now) is not None
    assert open_alert(scrap_rule, scrap_b, now + timedelta(seconds=1)) is None
    assert Alert.objects.count() == 2 and len(events("alert.opened")) == 2


def test_a_disabled_rule_ends_its_alert(plant):
    stop_rule = rule(AlertKind.LONG_STOP, 10, machine=plant.b1)
    b1_now(stopped_minutes=12)
    alerts.evaluate()
    AlertRule.objects.filter(pk=stop_rule.pk).update(enabled=False)
    assert alerts.evaluate()["ended"] == 1


def test_a_rule_says_what_is_wrong_with_it(plant):
    cases = [
        (dict(kind=AlertKind.LONG_STOP, threshold=0, machine=plant.b1), "threshold"),
        (dict(kind=AlertKind.LONG_STOP, threshold=None, machine=plant.b1), "threshold"),
        (dict(kind=AlertKind.SCRAP_RATE, threshold=100, machine=plant.b1), "threshold"),
        (dict(kind=AlertKind.LOW_OEE, threshold=50, machine=plant.b1), "threshold"),
        (dict(kind=AlertKind.LONG_STOP, threshold=5), "machine"),
        (dict(kind=AlertKind.LONG_STOP, threshold=5, machine=plant.b1, line=plant.line_b), "machine"),
        (dict(kind=AlertKind.NO_DATA, threshold=5, machine=plant.b1, reason_group=plant.jam.parent), "reason_group"),
        (dict(kind=AlertKind.LONG_STOP, threshold=5, machine=plant.b1, reason_group=plant.jam), "reason_group"),
        (dict(kind=AlertKind.LONG_STOP, threshold=5, machine=plant.b1, emails="ops@example.com, not-mail"),
         "emails"),
    ]
    for fields, wrong in cases:
        with pytest.raises(ValidationError) as refused:
            AlertRule(name="r", **fields).full_clean()
        assert wrong in refused.value.message_dict, (fields, refused.value.message_dict)
