"""The pages' forms as a browser posts them (form-encoded fields), by each role that may post them.

tests/fuzz/test_api.py sends every endpoint JSON and raw bodies, which a form view never reads
field by field. Here each form gets its own fields, filled with the values of tests/fuzz/inputs.py,
NUL and control characters (which PostgreSQL refuses), wall-clock times skipped or repeated by a
daylight-saving change and times at the ends of the calendar, posted by an administrator, the
line's operator and a manager, as the planning board, the hand-over notes, the stop comments, the
language switch and the line screen's buttons (order moves, reasons, scrap, acknowledge) do: never
a 5xx, and a refusal stores nothing.
"""

from __future__ import annotations

import json
from datetime import UTC

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import alerts
from monitoring.models import Alert, AlertKind, AlertRule, HandoverNote, MachineStatus, StateInterval, StopComment
from tests.fuzz.conftest import row_counts
from tests.fuzz.inputs import BAD_INSTANTS, BAD_NUMBERS, BAD_TEXT, GOOD_INSTANTS, nasty_text, quoted
from tests.histories import b1_now

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])

# Wall-clock times as the board's forms take them (site: Europe/Berlin): good ones, ones the clocks skip
# (2026-03-29 02:30) or show twice (2026-10-25 02:30), impossible ones and ones at the calendar's ends.
WALL_CLOCKS = ["2026-12-05 08:00", "2026-12-05T10:00", "2026-12-05 10:00:30", "2026-03-29 02:30", "2026-10-25 02:30",
               "2026-12-05 24:00", "2026-02-30 08:00", "2026-12-05 10:00:60", "0001-01-01 00:00", "9999-12-31 23:59",
               "1971-01-01 00:00", "1972-01-01 00:00", "2998-12-31 23:59", "2999-01-01 00:00", "２０２６-12-05 08:00",
               "2026-12-05 08:00\x00", "2026-12-05 08:00:00.5", " 2026-12-05 08:00 ", "2026-12-05 8:00"]
wall_clocks = st.one_of(st.sampled_from(WALL_CLOCKS), nasty_text)
quantities = st.one_of(st.integers(-2, 2**40).map(str), st.sampled_from(BAD_NUMBERS), nasty_text)
order_numbers = st.one_of(st.sampled_from(["WO-9", "WO-1", "A1-261205-01", "x" * 41, "-WO", "WO 9"]), nasty_text)
machines = st.one_of(st.sampled_from(["", "A1", "A2", "B1"]), nasty_text)
languages = st.one_of(st.sampled_from(["en", "fr", "de", "de-de", "DE", "xx", "zh-hans", "fr\x00", "a" * 300]),
                      nasty_text)
nexts = st.one_of(st.sampled_from(["/", "/machines/A1/", "/machines/A1/?range=24h", "/machines/A1/\r\nX-A: b",
                                   "/machines/A1/\x00", "/machines/A1/%0d%0aX-A:b", "//evil.example/",
                                   "/machines/A1/\\\\evil", "https://evil.example/", "/machines/A1/" + "x" * 3000]),
                  nasty_text)
texts = st.one_of(st.sampled_from(BAD_TEXT + ["a\x00b", "ok", "x" * 2001, "line one\r\nline two", "\tindented"]),
                  nasty_text, st.text(min_size=1, max_size=50))


def _users(fuzz_plant) -> dict[str, Client]:
    clients = {}
    for name, user in (("operator", fuzz_plant.operator), ("manager", fuzz_plant.manager)):
        client = Client()
        client.force_login(user)
        clients[name] = client
    return clients


@pytest.fixture
def callers(fuzz_plant, admin) -> dict[str, Client]:
    """An administrator, line A's operator and a manager, each logged in."""
    return {"admin": admin, **_users(fuzz_plant)}


@pytest.fixture
def open_alert(fuzz_plant) -> str:
    """An open alert on line B (B1 stopped 12 min), so that an acknowledgement can get past its number."""
    AlertRule.objects.create(name="Seamer stopped", kind=AlertKind.LONG_STOP, threshold=10, machine=fuzz_plant.b1)
    b1_now(stopped_minutes=12)
    alerts.evaluate()
    return str(Alert.objects.get().pk)


def _stop_starts() -> list[str]:
    starts = StateInterval.objects.filter(machine__code="A1").exclude(state=MachineStatus.RUNNING) \
        .values_list("start", flat=True)
    return [start.astimezone(UTC).isoformat() for start in starts]


def _post_form(client: Client, path: str, fields: dict[str, str]):
    """The fields form-encoded as a browser sends them (a lone surrogate as the bytes it would be)."""
    body = "&".join(f"{quoted(name)}={quoted(value)}" for name, value in fields.items())
    return client.generic("POST", path, body, content_type="application/x-www-form-urlencoded")


def _check(response, before: dict[str, int]) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert row_counts() == before, f"a {response.status_code} stored something"


def _fields(data: st.DataObject, fields: dict[str, st.SearchStrategy]) -> dict[str, str]:
    """The form's fields, each maybe left out, plus maybe a field of no name the form knows."""
    drawn = data.draw(st.fixed_dictionaries({}, optional=fields), label="fields")
    extra = data.draw(st.dictionaries(nasty_text, nasty_text, max_size=1), label="extra")
    return {**extra, **drawn}


FORMS = {
    "planning-board": ("/planning/{line}/", {
        "number": order_numbers, "product": st.one_of(st.just("P-1"), nasty_text), "quantity": quantities,
        "machine": machines, "planned_start": wall_clocks, "planned_end": wall_clocks}),
    "planning-order": ("/planning/{line}/orders/WO-1/", {
        "quantity": quantities, "machine": machines, "planned_start": wall_clocks, "planned_end": wall_clocks}),
    "planning-order-move": ("/planning/{line}/orders/WO-1/{move}/", {"csrfmiddlewaretoken": nasty_text}),
    "handover-note": ("/lines/{line}/notes/", {"text": texts}),
    "stop-comment": ("/machines/{machine}/stop-comments/", {"stop_start": st.nothing(), "text": texts,
                                                          "next": nexts}),
    "set_language": ("/i18n/setlang/", {"language": languages, "next": nexts}),
}


@pytest.mark.parametrize("name", FORMS)
@FUZZ
@given(data=st.data())
def test_no_form_gets_a_5xx_and_a_refused_one_stores_nothing(name, data, callers):
    path, fields = FORMS[name]
    if name == "stop-comment":
        starts = _stop_starts()
        fields = {**fields, "stop_start": st.one_of(st.sampled_from(starts), st.sampled_from(starts).map(
            lambda start: start.replace("+", " ")), st.sampled_from(BAD_INSTANTS + GOOD_INSTANTS), nasty_text)}
    caller = data.draw(st.sampled_from(sorted(callers)), label="caller")
    path = path.format(line=quoted(data.draw(st.sampled_from(["A", "B"]), label="line")),
                       machine=quoted(data.draw(st.sampled_from(["A1", "B1"]), label="machine")),
                       move=quoted(data.draw(st.one_of(st.sampled_from(["release", "cancel", "start"]), nasty_text),
                                             label="move")))
    before = row_counts()
    _check(_post_form(callers[caller], path, _fields(data, fields)), before)


# The line screen's buttons post JSON with the session (not an API key): an order's moves, a stop's
# reason and split, scrap, an alert's acknowledgement. As the line's operator, a manager and an admin.
SCREEN_ACTIONS = {
    "order-move": ("/api/v1/work-orders/WO-1/{move}/", {}),
    "reason": ("/api/v1/machines/{machine}/reasons/", {"stop_start": st.nothing(), "split_at": st.nothing(),
                                                       "reason": st.one_of(st.sampled_from(["jam", "meeting"]),
                                                                           nasty_text)}),
    "scrap": ("/api/v1/machines/{machine}/scrap/", {"quantity": st.one_of(st.integers(-1, 10**6), quantities),
                                                    "reason": st.one_of(st.sampled_from(["jam", "mech"]), nasty_text)}),
    "acknowledge": ("/api/v1/alerts/{pk}/acknowledge/", {"note": texts}),
}


@pytest.mark.parametrize("name", SCREEN_ACTIONS)
@FUZZ
@given(data=st.data())
def test_no_screen_action_of_a_session_gets_a_5xx_and_a_refused_one_stores_nothing(name, data, callers, open_alert):
    path, fields = SCREEN_ACTIONS[name]
    if name == "reason":
        starts = st.one_of(st.sampled_from(_stop_starts()), st.sampled_from(BAD_INSTANTS + GOOD_INSTANTS), nasty_text)
        fields = {**fields, "stop_start": starts, "split_at": starts}
    caller = data.draw(st.sampled_from(sorted(callers)), label="caller")
    path = path.format(machine=quoted(data.draw(st.sampled_from(["A1", "B1", "A2"]), label="machine")),
                       move=quoted(data.draw(st.one_of(st.sampled_from(["start", "pause", "resume", "complete"]),
                                                       nasty_text), label="move")),
                       pk=quoted(data.draw(st.one_of(st.sampled_from([open_alert, "0", "-1", "9" * 30]), nasty_text),
                                           label="pk")))
    body = _fields(data, fields)
    before = row_counts()
    response = callers[caller].post(path, json.dumps(body), content_type="application/json")
    _check(response, before)


# --- what fuzzing the forms found, each kept as a named case ------------------------------------------

@pytest.mark.parametrize("text", ["a\x00b", "\x00", "note\x1b[31m", "x\x7fy"])
def test_a_handover_note_with_a_nul_or_control_character_is_a_400_naming_the_text(callers, text):
    response = _post_form(callers["operator"], "/lines/A/notes/", {"text": text})
    assert response.status_code == 400 and "text" in response.content.decode(), response.content
    assert not HandoverNote.objects.exists()


@pytest.mark.parametrize("text", ["a\x00b", "\x00", "note\x1b[31m"])
def test_a_stop_comment_with_a_nul_or_control_character_is_a_400_naming_the_text(callers, text):
    response = _post_form(callers["operator"], "/machines/A1/stop-comments/",
                          {"stop_start": _stop_starts()[0], "text": text})
    assert response.status_code == 400 and "text" in response.content.decode(), response.content
    assert not StopComment.objects.exists()


def test_a_handover_note_keeps_its_line_breaks_and_tabs(callers):
    response = _post_form(callers["operator"], "/lines/A/notes/", {"text": "Filler:\r\n\tcheck the seal"})
    assert response.status_code == 302
    assert HandoverNote.objects.get().text == "Filler:\r\n\tcheck the seal"


@pytest.mark.parametrize("back", ["/machines/A1/\r\nX-A: b", "/machines/A1/\nX-A: b", "/machines/A1/\x00"])
def test_a_stop_comment_going_back_to_a_url_with_a_line_break_adds_no_header(callers, back):
    response = _post_form(callers["operator"], "/machines/A1/stop-comments/",
                          {"stop_start": _stop_starts()[0], "text": "seal changed", "next": back})
    assert response.status_code == 302 and response["Location"].startswith("/machines/A1/")
    assert not {"\r", "\n", "\x00"} & set(response["Location"]) and "X-A" not in response
    assert StopComment.objects.count() == 1
