"""An ERP's day, through the API only: push an order, start it, feed it, complete it, pull its results."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring.views.reports import build_report
from tests.api import bearer

pytestmark = pytest.mark.django_db


def test_an_order_pushed_started_fed_and_completed_has_the_parts_it_was_fed(client, plant, api_key, settings):
    erp = bearer(api_key("results:read", "orders:write", "observations:write", lines=[plant.line_b]))

    def call(method: str, path: str, body=None):
        response = getattr(client, method)(path, body if body is not None else {}, content_type="application/json",
                                           headers=erp)
        assert response.status_code in (200, 201), (path, response.content)
        return response.json()

    call("put", "/api/v1/products/LID-1/", {"name": "Lid", "cycle_times": {"B1": 0.001}})
    now = timezone.now()
    call("put", "/api/v1/work-orders/WO-77/", {
        "product": "LID-1", "quantity": 500, "line": "B", "machine": "B1",
        "planned_start": now.isoformat(), "planned_end": (now + timedelta(hours=1)).isoformat()})
    call("post", "/api/v1/work-orders/WO-77/release/")
    started = parse_datetime(call("post", "/api/v1/work-orders/WO-77/start/")["actual_start"])

    def at(ms: int) -> str:
        return (started + timedelta(milliseconds=ms)).isoformat()

    fed = [
        {"ts": at(1), "machine": "B1", "signal": "running", "value": True},
        {"ts": at(1), "machine": "B1", "signal": "total_count", "value": 1000},
        {"ts": at(1), "machine": "B1", "signal": "reject_count", "value": 0},
        {"ts": at(100), "machine": "B1", "signal": "total_count", "value": 1100},
        {"ts": at(100), "machine": "B1", "signal": "reject_count", "value": 2},
        {"ts": at(200), "machine": "B1", "signal": "total_count", "value": 1250},
        {"ts": at(200), "machine": "B1", "signal": "reject_count", "value": 5},
    ]
    ingested = call("post", "/api/v1/observations/", fed)
    assert (ingested["received"], ingested["applied"], ingested["rejected"]) == (7, 7, [])
    assert call("post", "/api/v1/observations/", fed)["duplicates"] == 7  # the same body twice: nothing new
    while timezone.now() <= started + timedelta(milliseconds=200):
        pass  # the last reading must lie before the completion
    completed = call("post", "/api/v1/work-orders/WO-77/complete/")
    assert completed["status"] == "completed"

    order = call("get", "/api/v1/work-orders/WO-77/")
    assert (order["total_count"], order["good_count"], order["reject_count"]) == (250, 245, 5)
    window = {"start": order["actual_start"], "end": order["actual_end"]}
    assert order["run_windows"] == [window]
    def oee(start: str, end: str) -> dict:
        query = {"machine": "B1", "start": start.replace("+", "%2B"), "end": end.replace("+", "%2B")}
        return call("get", "/api/v1/oee/?" + "&".join(f"{k}={v}" for k, v in query.items()))

    # Times and figures over the order's run window are those of the same period...
    period = oee(order["actual_start"], order["actual_end"])
    for name in ("run_s", "unplanned_stop_s", "planned_production_s", "availability"):
        assert order[name] == pytest.approx(period[name]), name
    # ... and parts are counted by the minute: the minutes around the window hold the order's parts.
    first = parse_datetime(order["actual_start"]).replace(second=0, microsecond=0)
    minutes = oee(first.isoformat(), (first + timedelta(minutes=2)).isoformat())
    assert (minutes["total_count"], minutes["good_count"], minutes["reject_count"]) == (250, 245, 5)
    # The shift report of the day has those parts and no others.
    day = timezone.localtime(started, plant.site.zone).date()
    report = build_report(plant.line_b, day, day)
    (b1,) = report.tables
    assert (b1.total.result.production.total, b1.total.result.production.good) == (250, 245)
