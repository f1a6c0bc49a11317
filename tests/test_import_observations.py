"""manage.py import_observations: counts, line numbers of bad rows, all-or-nothing, stdin."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import CommandError, call_command

from monitoring.models import Observation, StateInterval

GOOD = """ts,machine,signal,value
2026-01-12T08:00:00+01:00,A1,running,true
2026-01-12T08:00:30+01:00,A1,total_count,10
2026-01-12T08:01:30+01:00,A1,total_count,70
"""
BAD = GOOD + """2026-01-12T08:02:00,A1,running,false
2026-01-12T08:02:00+01:00,A9,running,false
not-a-time,A1,running,false
2026-01-12T08:03:00+01:00,A1,running,maybe
2026-01-12T08:04:00+01:00,A1
"""


def run(path, *args) -> str:
    out = io.StringIO()
    call_command("import_observations", str(path), *args, stdout=out)
    return out.getvalue()


def test_it_imports_and_reports_rows_read_and_applied(plant, tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(GOOD)
    output = run(path)
    assert "rows read: 3" in output and "applied: 3" in output and "rejected: 0" in output
    assert Observation.objects.count() == 3
    assert StateInterval.objects.get(machine=plant.a1).state == "running"


def test_importing_the_same_file_twice_applies_nothing_new(plant, tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(GOOD)
    run(path)
    output = run(path)
    assert "applied: 0" in output and "already stored (skipped): 3" in output
    assert Observation.objects.count() == 3


def test_one_bad_row_means_nothing_is_applied_and_every_bad_row_is_named(plant, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD)
    out = io.StringIO()
    with pytest.raises(CommandError, match="5 bad row"):
        call_command("import_observations", str(path), stdout=out)
    report = out.getvalue()
    assert "line 5: ts '2026-01-12T08:02:00' has no UTC offset" in report
    assert "line 6: unknown machine 'A9'" in report
    assert "line 7: ts 'not-a-time' is not an ISO 8601 date-time" in report
    assert "line 8: running must be a boolean (true/false or 1/0), got 'maybe'" in report
    assert "line 9: expected 4 fields (ts,machine,signal,value), got 2" in report
    assert Observation.objects.count() == 0


def test_skip_bad_applies_the_good_rows_and_lists_the_bad_ones(plant, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD)
    output = run(path, "--skip-bad")
    assert "rows read: 8" in output and "applied: 3" in output and "rejected: 5" in output
    assert "line 6: unknown machine 'A9'" in output
    assert Observation.objects.count() == 3


def test_a_wrong_header_is_refused(plant, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("time,machine,signal,value\n")
    with pytest.raises(CommandError, match="header must be ts,machine,signal,value"):
        run(path)


def test_dash_reads_standard_input(plant, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GOOD.encode())))
    output = run("-")
    assert "applied: 3" in output


SCRAP = GOOD + """2026-01-12T08:02:00+01:00,A1,scrap,60
2026-01-12T08:03:00+01:00,A1,scrap,1
"""


def test_scrap_beyond_the_good_parts_of_the_shift_is_a_bad_row(plant, tmp_path):
    # 60 parts counted by 08:01:30 (the file's own counters): 60 scrap take them all, one more would be -1.
    path = tmp_path / "scrap.csv"
    path.write_text(SCRAP)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("import_observations", str(path), stdout=out)
    assert "line 6: A1 has 0 good parts since the shift began (2026-01-12 06:00)" in out.getvalue()
    assert Observation.objects.count() == 0
    output = run(path, "--skip-bad")
    assert "applied: 4" in output and "rejected: 1" in output and "line 6: A1 has 0 good parts" in output
    assert list(Observation.objects.filter(signal="scrap").values_list("value", flat=True)) == ["60"]


def test_rows_that_cannot_be_are_named_by_their_line_and_the_good_ones_applied(plant, tmp_path):
    # Latin-1 text, a line too long to be an observation, times no plant has, NUL and control characters.
    path = tmp_path / "mixed.csv"
    path.write_bytes(GOOD.encode() + "2026-01-12T08:02:00+01:00,A1,reason,Bouchon cassé\n".encode("latin-1") + (
        "2026-01-12T08:02:00+01:00,A1,reason," + "x" * 5000 + "\n"
        "9999-12-31T23:59:59-01:00,A1,running,true\n"
        "1999-12-31T23:59:59+00:00,A1,running,true\n"
        "2999-01-01T00:00:00+00:00,A1,running,true\n"
        "2026-01-12T08:03:00+01:00,A\x001,running,true\n"
        "2026-01-12T08:03:00+01:00,A1,reason,j\x1bam\n"
        "2026-01-12T08:03:00+01:00,A1,running,false\n").encode())
    output = run(path, "--skip-bad")
    assert "rows read: 11" in output and "applied: 4" in output and "rejected: 7" in output
    assert "line 5: not UTF-8 (byte 0xe9 at byte 49 of the line): save the file as UTF-8" in output
    assert "line 6: the line is longer than 4096 bytes" in output
    assert "line 7: ts 9999-12-31T23:59:59-01:00 is not between 1971 and 2999" in output
    assert "line 8: ts 1999-12-31T23:59:59+00:00 is before 2000-01-01 (OBSERVATIONS_NOT_BEFORE)" in output
    assert "line 9: ts 2999-01-01T00:00:00+00:00 lies in the future" in output
    assert "line 10: machine holds a NUL character" in output
    assert "line 11: value holds the control character \\u001b" in output
    assert Observation.objects.count() == 4


@pytest.mark.parametrize(("content", "message"), [
    (GOOD.encode("utf-16"), "line 1: the file is UTF-16 or UTF-32 text: save it as UTF-8"),
    (GOOD.encode("utf-16-le"), "line 1: the file is UTF-16 or UTF-32 text: save it as UTF-8"),
    (b"ts,machine,signal,value\x00\n" + GOOD.encode().split(b"\n", 1)[1], "line 1: the header holds a NUL character"),
    (GOOD.encode() + b'2026-01-12T08:02:00+01:00,A1,reason,"' + (b"x" * 1000 + b"\n") * 200 + b'"\n',
     "field larger than field limit"),
])
def test_a_file_that_cannot_be_read_is_refused_with_why_not_a_traceback(plant, tmp_path, content, message):
    path = tmp_path / "unreadable.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run(path)
    assert Observation.objects.count() == 0
