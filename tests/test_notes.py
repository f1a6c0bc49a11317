"""Hand-over notes (line screen, shift report) and comments on stops (machine page): who may write
them, what is refused, where they show, and their audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from monitoring.models import HandoverNote, StopComment
from tests.histories import A1_STOPS, EARLY, monday_of_a1
from tests.pages import elements, find


def test_an_operator_leaves_a_note_that_the_line_screen_shows(client, plant):
    client.force_login(plant.operator)
    response = client.post("/lines/A/notes/", {"text": "Filler nozzle 3 drips — maintenance informed."})
    assert response.status_code == 302 and response["Location"] == "/lines/A/"
    note = HandoverNote.objects.get()
    assert (note.line, note.author) == (plant.line_a, plant.operator)
    page = client.get("/lines/A/").content.decode()
    shown = find(elements(page), "li", within={"id": "handover"})
    assert any("Filler nozzle 3 drips" in li.text and "op-a" in li.text for li in shown)
    assert find(elements(page), "span", data_field="note-count")[0].text == "1"
    # What the screen fetches every minute: the same list.
    listed = client.get("/lines/A/notes/").content.decode()
    assert 'data-count="1"' in listed and "Filler nozzle 3 drips" in listed
    client.force_login(plant.manager)
    client.post("/lines/A/notes/", {"text": "Second note from the office"})
    assert "Second note from the office" in client.get("/lines/A/notes/").content.decode()


def test_an_operator_of_another_line_may_not_write_its_notes(client, plant):
    client.force_login(plant.operator)
    response = client.post("/lines/B/notes/", {"text": "Not my line"})
    assert response.status_code == 403
    client.force_login(plant.outsider)
    assert client.post("/lines/A/notes/", {"text": "Nobody's note"}).status_code == 403
    assert not HandoverNote.objects.exists()


def test_a_manager_writes_notes_for_any_line(client, plant):
    client.force_login(plant.manager)
    assert client.post("/lines/B/notes/", {"text": "Run B1 slow until the new belt is in."}).status_code == 302
    assert HandoverNote.objects.get().line == plant.line_b


def test_an_empty_or_overlong_note_is_400_and_nothing_is_stored(client, plant):
    client.force_login(plant.operator)
    response = client.post("/lines/A/notes/", {"text": "   "})
    assert response.status_code == 400 and b"the note is empty" in response.content
    response = client.post("/lines/A/notes/", {"text": "x" * 2001})
    assert response.status_code == 400 and b"at most 2000 characters, not 2001" in response.content
    assert client.put("/lines/A/notes/", {"text": "x"}).status_code == 405
    assert not HandoverNote.objects.exists()


def test_the_shift_report_shows_the_notes_written_in_its_shifts(client, plant):
    HandoverNote.objects.create(line=plant.line_a, author=plant.operator, text="Early: changed the glue roll",
                                written=EARLY[0] + timedelta(hours=7))
    HandoverNote.objects.create(line=plant.line_a, author=plant.operator, text="Last week's note",
                                written=EARLY[0] - timedelta(days=7))
    HandoverNote.objects.create(line=plant.line_b, author=plant.manager, text="Line B's note",
                                written=EARLY[0] + timedelta(hours=1))
    client.force_login(plant.manager)
    page = elements(client.get("/reports/shift/", {"line": "A", "start": "2026-01-12", "end": "2026-01-12"}).content)
    texts = [li.text for li in find(page, "li", within={"id": "handover-notes"})]
    assert len(texts) == 1 and "Early: changed the glue roll" in texts[0] and "op-a" in texts[0]


def test_the_line_screen_shows_notes_since_the_last_shift_began_only(client, plant):
    HandoverNote.objects.create(line=plant.line_a, author=plant.operator, text="Three days old",
                                written=timezone.now() - timedelta(days=4))
    HandoverNote.objects.create(line=plant.line_a, author=plant.operator, text="Just now")
    client.force_login(plant.operator)
    page = client.get("/lines/A/").content.decode()
    assert "Just now" in page and "Three days old" not in page


def test_notes_and_comments_are_in_the_audit_trail_with_their_author(client, plant):
    client.force_login(plant.operator)
    client.post("/lines/A/notes/", {"text": "Audited note"})
    entry = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(HandoverNote))
    assert entry.action == LogEntry.Action.CREATE
    assert entry.actor == plant.operator
    assert entry.additional_data["actor"] == "user:op-a"


def _machine_page(client) -> str:
    return client.get("/machines/A1/", {"start": EARLY[0].isoformat(), "end": EARLY[1].isoformat()}).content.decode()


def test_an_operator_comments_on_a_stop_and_the_machine_page_shows_it_beside_the_stop(client, plant):
    monday_of_a1()
    jam_start = A1_STOPS[0][0]
    client.force_login(plant.operator)
    response = client.post("/machines/A1/stop-comments/", {
        "stop_start": jam_start.isoformat(), "text": "Bottle stuck in the star wheel",
        "next": f"/machines/A1/?start={EARLY[0].isoformat()}",
    })
    assert response.status_code == 302 and response["Location"].startswith("/machines/A1/?start=")
    comment = StopComment.objects.get()
    assert (comment.machine, comment.stop_start, comment.author) == (plant.a1, jam_start, plant.operator)
    page = elements(_machine_page(client))
    row = [tr for tr in find(page, "tr") if tr.attrs.get("data-stop") == jam_start.isoformat()]
    assert row and "Bottle stuck in the star wheel" in row[0].text and "Jam" in row[0].text
    other = [tr for tr in find(page, "tr") if tr.attrs.get("data-stop") == A1_STOPS[1][0].isoformat()]
    assert other and "Bottle stuck" not in other[0].text
    entry = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(StopComment))
    assert entry.additional_data["actor"] == "user:op-a"


def test_a_comment_on_no_stop_or_by_someone_else_is_refused(client, plant):
    monday_of_a1()
    client.force_login(plant.operator)
    response = client.post("/machines/A1/stop-comments/", {
        "stop_start": datetime(2026, 1, 12, 6, 5, tzinfo=UTC).isoformat(), "text": "Where?"})
    assert response.status_code == 400 and b"A1 has no stop that began at 2026-01-12T06:05:00+00:00" in response.content
    response = client.post("/machines/A1/stop-comments/", {"stop_start": "yesterday", "text": "When?"})
    assert response.status_code == 400 and b"stop_start" in response.content
    client.force_login(plant.outsider)
    response = client.post("/machines/A1/stop-comments/", {"stop_start": A1_STOPS[0][0].isoformat(), "text": "x"})
    assert response.status_code == 403
    assert not StopComment.objects.exists()


def test_a_manager_may_comment_and_sees_the_form_but_an_operator_of_another_line_may_not(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    assert 'class="comment-form"' in _machine_page(client)
    response = client.post("/machines/A1/stop-comments/", {"stop_start": A1_STOPS[0][0].isoformat(), "text": "ok"})
    assert response.status_code == 302
    from django.contrib.auth.models import Group, User

    from planning.permissions import OPERATORS
    op_b = User.objects.create_user("op-b", password="pw-op-b-12345")
    op_b.groups.add(Group.objects.get(name=OPERATORS))
    plant.line_b.operators.add(op_b)
    client.force_login(op_b)
    response = client.post("/machines/A1/stop-comments/", {"stop_start": A1_STOPS[0][0].isoformat(), "text": "no"})
    assert response.status_code == 403
    assert StopComment.objects.count() == 1


def test_an_admin_finds_and_can_take_back_a_note_or_comment(admin_client, plant):
    note = HandoverNote.objects.create(line=plant.line_a, author=plant.operator, text="Wrong line, sorry")
    page = admin_client.get("/admin/monitoring/handovernote/", {"q": "Wrong line"})
    assert page.status_code == 200 and "Wrong line, sorry" in page.content.decode()
    assert admin_client.post(f"/admin/monitoring/handovernote/{note.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not HandoverNote.objects.exists()
    assert admin_client.get("/admin/monitoring/stopcomment/").status_code == 200
