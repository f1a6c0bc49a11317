"""Operators give stops their reasons and enter scrap: stored with who and when, refused when wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError

from monitoring import actions
from monitoring.models import Event, Observation, StateInterval
from monitoring.pipeline import ObservationIn, record_observations
from planning.models import DowntimeReason
from planning.permissions import OPERATORS
from tests.api import bearer
from tests.histories import parts_just_made

T0 = datetime(2026, 1, 12, 6, 0, tzinfo=UTC)  # Monday, line A's early shift (05:00–13:00 UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


@pytest.fixture
def stop(plant):
    """A1 runs from 06:00, stops 06:10–06:40 (unexplained), runs again; readings every minute."""
    items = [ObservationIn("A1", at(0), "running", True), ObservationIn("A1", at(10), "running", False),
             ObservationIn("A1", at(40), "running", True)]
    items += [ObservationIn("A1", at(m + 0.5), "total_count", 100 + m) for m in range(50)]
    record_observations(items, all_or_nothing=True)
    return plant


def post(client, path: str, body) -> object:
    return client.post(path, body, content_type="application/json")


def intervals(machine) -> list[tuple]:
    return list(StateInterval.objects.filter(machine=machine).order_by("start")
                .values_list("start", "end", "state", "reason__code"))


def test_a_reason_given_is_stored_with_who_and_when_and_the_stop_carries_it(client, stop):
    client.force_login(stop.operator)
    before = datetime.now(UTC)
    response = post(client, "/api/v1/machines/A1/reasons/", {"stop_start": iso(at(10)), "reason": "jam"})
    assert response.status_code == 201, response.json()
    assert StateInterval.objects.get(machine=stop.a1, start=at(10)).reason.code == "jam"
    event = Event.objects.get(machine=stop.a1, kind="reason_given")
    assert event.user == stop.operator
    assert event.ts >= before
    assert event.detail == {"reason": "jam", "stop_start": iso(at(10)), "split_at": None, "previous": None}
    listed = [s for s in response.json()["stops"] if s["start"] == iso(at(10))]
    assert [(s["reason"], s["unexplained"]) for s in listed] == [("jam", False)]
    assert response.json()["event"]["user"] == "op-a"


def test_a_wrong_touch_can_be_corrected_and_both_are_in_the_events(client, stop):
    client.force_login(stop.operator)
    for reason in ("jam", "changeover"):
        assert post(client, "/api/v1/machines/A1/reasons/",
                    {"stop_start": iso(at(10)), "reason": reason}).status_code == 201
    assert intervals(stop.a1)[1] == (at(10), at(40), "stopped", "changeover")
    given = Event.objects.filter(kind="reason_given").order_by("id")
    assert [(e.detail["reason"], e.detail["previous"]) for e in given] == [("jam", None), ("changeover", "jam")]


def test_a_correction_is_a_new_observation_and_the_history_keeps_every_choice(client, stop):
    client.force_login(stop.operator)
    for reason in ("jam", "changeover", "jam"):
        post(client, "/api/v1/machines/A1/reasons/", {"stop_start": iso(at(10)), "reason": reason})
    stored = Observation.objects.filter(machine=stop.a1, signal="reason", ts=at(10)).order_by("revision")
    assert [(o.value, o.revision) for o in stored] == [("jam", 0), ("changeover", 1), ("jam", 2)]
    # A late device reading makes the pipeline replay the stop: the newest choice still holds.
    record_observations([ObservationIn("A1", at(20), "running", False)])
    assert intervals(stop.a1)[1] == (at(10), at(40), "stopped", "jam")


def test_a_long_stop_is_split_into_two_reasons(client, stop):
    client.force_login(stop.operator)
    assert post(client, "/api/v1/machines/A1/reasons/",
                {"stop_start": iso(at(10)), "split_at": iso(at(25)), "reason": "changeover"}).status_code == 201
    assert post(client, "/api/v1/machines/A1/reasons/",
                {"stop_start": iso(at(10)), "reason": "jam"}).status_code == 201
    assert intervals(stop.a1) == [
        (at(0), at(10), "running", None),
        (at(10), at(25), "stopped", "jam"),
        (at(25), at(40), "stopped", "changeover"),
        (at(40), None, "running", None),
    ]


@pytest.mark.parametrize("split_minutes", [10, 40, 45])
def test_a_split_must_lie_strictly_inside_the_stop(client, stop, split_minutes):
    client.force_login(stop.operator)
    response = post(client, "/api/v1/machines/A1/reasons/",
                    {"stop_start": iso(at(10)), "split_at": iso(at(split_minutes)), "reason": "jam"})
    assert response.status_code == 400
    assert "strictly inside the stop" in str(response.json()["split_at"])
    assert not Observation.objects.filter(signal="reason").exists()


def test_a_running_interval_cannot_be_given_a_reason(client, stop):
    client.force_login(stop.operator)
    response = post(client, "/api/v1/machines/A1/reasons/", {"stop_start": iso(at(0)), "reason": "jam"})
    assert response.status_code == 400
    assert "was running" in str(response.json()["stop_start"])
    assert not Event.objects.filter(kind="reason_given").exists()


def test_time_without_data_cannot_be_given_a_reason(stop):
    record_observations([ObservationIn("A1", at(60), "running", True)])  # 9.5 min after the last reading
    no_data = StateInterval.objects.get(machine=stop.a1, state="no-data")
    with pytest.raises(ValidationError, match="no data"):
        actions.assign_reason(stop.a1, no_data.start, "jam", stop.operator)


def test_a_start_that_is_no_stop_start_is_refused(stop):
    with pytest.raises(ValidationError, match="no stop starting at"):
        actions.assign_reason(stop.a1, at(11), "jam", stop.operator)


@pytest.mark.parametrize("code, message", [
    ("mech", "is a group"), ("nonsense", "Unknown reason"), ("rejects", "quality reason"),
])
def test_a_stop_takes_only_a_leaf_downtime_reason(client, stop, code, message):
    DowntimeReason.objects.create(code="rejects", name="Rejects", loss_category="production_rejects")
    client.force_login(stop.operator)
    response = post(client, "/api/v1/machines/A1/reasons/", {"stop_start": iso(at(10)), "reason": code})
    assert response.status_code == 400
    assert message in str(response.json()["reason"])


def test_the_screens_hear_of_a_reason_once_it_is_committed(stop, settings, django_capture_on_commit_callbacks):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("machine.A1", channel)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        actions.assign_reason(stop.a1, at(10), "jam", stop.operator)
    assert len(callbacks) == 1  # nothing is sent before the commit
    callbacks[0]()
    event = async_to_sync(layer.receive)(channel)
    assert (event["type"], event["machine"]) == ("machine.update", "A1")


def oee_counts(client, start: datetime, end: datetime) -> tuple[int, int, int]:
    body = client.get("/api/v1/oee/", {"machine": "A1", "start": start.isoformat(), "end": end.isoformat()}).json()
    return body["total_count"], body["good_count"], body["reject_count"]


def test_scrap_lowers_good_and_raises_rejects_in_the_oee_api(client, plant):
    now = datetime.now(UTC)
    record_observations([ObservationIn("A1", now - timedelta(minutes=5), "total_count", 1000),
                         ObservationIn("A1", now - timedelta(minutes=4), "total_count", 1100)])
    client.force_login(plant.operator)
    window = (now - timedelta(hours=1), now + timedelta(minutes=5))
    assert oee_counts(client, *window) == (100, 100, 0)
    response = post(client, "/api/v1/machines/A1/scrap/", {"quantity": 5, "reason": None})
    assert response.status_code == 201, response.json()
    assert oee_counts(client, *window) == (100, 95, 5)
    event = Event.objects.get(kind="scrap_entered")
    assert (event.user, event.detail["quantity"], event.detail["reason"]) == (plant.operator, 5, None)


def test_scrap_takes_a_quality_reason(client, plant):
    DowntimeReason.objects.create(code="rejects", name="Rejects", loss_category="production_rejects")
    parts_just_made("A1")
    client.force_login(plant.operator)
    assert post(client, "/api/v1/machines/A1/scrap/", {"quantity": 2, "reason": "rejects"}).status_code == 201
    assert Event.objects.get(kind="scrap_entered").detail["reason"] == "rejects"
    response = post(client, "/api/v1/machines/A1/scrap/", {"quantity": 2, "reason": "jam"})
    assert response.status_code == 400
    assert "quality reason" in str(response.json()["reason"])


def test_scrap_cannot_make_the_good_parts_of_the_shift_negative(client, plant):
    # 0 parts made: 5 scrap would show OEE -0.2 % and "Good parts -5 of 0" on every screen.
    client.force_login(plant.operator)
    response = post(client, "/api/v1/machines/A1/scrap/", {"quantity": 5})
    assert response.status_code == 400
    assert "has 0 good parts since the shift began" in str(response.json()["quantity"])
    assert not Observation.objects.filter(signal="scrap").exists()
    assert not Event.objects.filter(kind="scrap_entered").exists()
    parts_just_made("A1", 4)
    assert post(client, "/api/v1/machines/A1/scrap/", {"quantity": 5}).status_code == 400
    assert post(client, "/api/v1/machines/A1/scrap/", {"quantity": 4}).status_code == 201
    assert post(client, "/api/v1/machines/A1/scrap/", {"quantity": 1}).status_code == 400  # all 4 scrapped already


def test_two_scrap_entries_in_the_same_microsecond_are_both_kept(plant):
    moment = datetime(2026, 1, 12, 7, 0, 0, 123456, tzinfo=UTC)
    record_observations([ObservationIn("A1", at(0), "total_count", 0), ObservationIn("A1", at(30), "total_count", 10)])
    first = actions.enter_scrap(plant.a1, 1, plant.operator, ts=moment)
    second = actions.enter_scrap(plant.a1, 2, plant.operator, ts=moment)
    assert second.ts - first.ts == timedelta(microseconds=1)
    assert sorted(Observation.objects.filter(signal="scrap").values_list("value", flat=True)) == ["1", "2"]


def operator_of_line_b() -> User:
    user = User.objects.create_user("op-b", password="pw-op-b-12345")
    user.groups.add(Group.objects.get(name=OPERATORS))
    return user


def test_an_operator_of_another_line_gets_a_403_saying_why(client, stop):
    op_b = operator_of_line_b()
    stop.line_b.operators.add(op_b)
    client.force_login(op_b)
    for path, body in (("reasons", {"stop_start": iso(at(10)), "reason": "jam"}), ("scrap", {"quantity": 1})):
        response = post(client, f"/api/v1/machines/A1/{path}/", body)
        assert response.status_code == 403
        assert "operators of line A" in response.json()["detail"]
    assert not Event.objects.filter(kind__in=["reason_given", "scrap_entered"]).exists()


@pytest.mark.parametrize("who", ["manager", "outsider"])
def test_managers_and_others_only_read(client, stop, who):
    client.force_login(getattr(stop, who))
    response = post(client, "/api/v1/machines/A1/scrap/", {"quantity": 1})
    assert response.status_code == 403
    assert response.json()["detail"]
    # The body is not even looked at: a manager learns they may not, not what is wrong with it.
    assert post(client, "/api/v1/machines/A1/reasons/", {}).status_code == 403


def test_an_admin_may_act_on_any_line(client, stop):
    admin = User.objects.create_superuser("root", password="pw-root-12345")
    client.force_login(admin)
    parts_just_made("B1")
    assert post(client, "/api/v1/machines/B1/scrap/", {"quantity": 3}).status_code == 201


def test_anonymous_is_refused(client, stop):
    response = post(client, "/api/v1/machines/A1/scrap/", {"quantity": 1})
    assert response.status_code in (401, 403)
    assert not Observation.objects.filter(signal="scrap").exists()


def test_an_api_key_is_no_operator(client, stop, api_key):
    # Operators act at the line; an IT system sends observations (POST /api/v1/observations/).
    key = api_key("results:read", "orders:write", "observations:write")
    response = client.post("/api/v1/machines/A1/scrap/", {"quantity": 1}, content_type="application/json",
                           headers=bearer(key))
    assert response.status_code == 403
    assert not Observation.objects.filter(signal="scrap").exists()


def test_an_unknown_machine_is_a_404(client, stop):
    client.force_login(stop.operator)
    assert post(client, "/api/v1/machines/Z9/scrap/", {"quantity": 1}).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"reason": "jam"}, "stop_start"),
    ({"stop_start": "soon", "reason": "jam"}, "stop_start"),
    ({"stop_start": "2026-01-12T06:10:00", "reason": "jam"}, "stop_start"),  # no UTC offset
    ({"stop_start": 12, "reason": "jam"}, "stop_start"),
    ({"stop_start": "2026-01-12T06:10:00Z"}, "reason"),
    ({"stop_start": "2026-01-12T06:10:00Z", "reason": 7}, "reason"),
    ({"stop_start": "2026-01-12T06:10:00Z", "reason": "jam", "split_at": "later"}, "split_at"),
    (["not", "an", "object"], "non_field_errors"),
])
def test_a_bad_reason_body_is_a_400_naming_the_field(client, stop, body, field):
    client.force_login(stop.operator)
    response = post(client, "/api/v1/machines/A1/reasons/", body)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("body, field", [
    ({}, "quantity"),
    ({"quantity": "many"}, "quantity"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": -3}, "quantity"),
    ({"quantity": 2.5}, "quantity"),
    ({"quantity": True}, "quantity"),
    ({"quantity": 10**12}, "quantity"),
    ({"quantity": 1, "reason": 5}, "reason"),
    ({"quantity": 1, "reason": "nonsense"}, "reason"),
])
def test_a_bad_scrap_body_is_a_400_naming_the_field(client, stop, body, field):
    client.force_login(stop.operator)
    response = post(client, "/api/v1/machines/A1/scrap/", body)
    assert response.status_code == 400
    assert field in response.json()
    assert not Observation.objects.filter(signal="scrap").exists()


def test_a_body_that_is_not_json_is_a_400(client, stop):
    client.force_login(stop.operator)
    response = client.post("/api/v1/machines/A1/scrap/", "{quantity: 1", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
