"""Observation files under bad input: `manage.py import_observations` and the CSV body of the ingest API.

A file it cannot read at all is one clear error naming the line; a row it cannot take is rejected
with its line and what was wrong; never a traceback, and without --skip-bad nothing of a file with
a bad row is stored.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.models import Observation
from tests.fuzz.conftest import row_counts
from tests.fuzz.inputs import BAD_INSTANTS, BAD_NUMBERS, BAD_TEXT, nasty_text

pytestmark = pytest.mark.django_db

HEADER = "ts,machine,signal,value\n"
GOOD_ROWS = ["2026-01-12T09:00:00Z,A2,running,true\n", "2026-01-12T09:01:00Z,A2,total_count,10\n",
             "2026-01-12T09:02:00Z,A2,total_count,70\n"]


def import_file(path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_observations", str(path), *args, stdout=out)
    return out.getvalue()


def refused(path, *args: str) -> tuple[str, str]:
    """(the command's error, its report) for a file it must refuse."""
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_observations", str(path), *args, stdout=out)
    return str(error.value), out.getvalue()


def test_a_latin_1_file_has_each_line_that_is_not_utf8_rejected_with_its_number(fuzz_plant, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + GOOD_ROWS[0] + "2026-01-12T09:01:00Z,A2,reason,Störung\n" + GOOD_ROWS[2])
                     .encode("latin-1"))
    error, report = refused(path)
    assert "1 bad row(s): nothing applied" in error
    assert "line 3: not UTF-8 (byte 0xf6 at byte 34 of the line): save the file as UTF-8" in report
    assert not Observation.objects.filter(machine=fuzz_plant.a2).exists()
    output = import_file(path, "--skip-bad")
    assert "applied: 2" in output and "rejected: 1" in output


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_utf16_file_is_refused_as_a_whole_with_what_to_do(fuzz_plant, tmp_path, encoding):
    path = tmp_path / "utf16.csv"
    path.write_bytes((HEADER + "".join(GOOD_ROWS)).encode(encoding))
    error, _ = refused(path)
    assert error == "line 1: the file is UTF-16 or UTF-32 text: save it as UTF-8 (CSV UTF-8)"


def test_a_huge_line_is_a_rejected_row_and_the_next_lines_still_read(fuzz_plant, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes((HEADER + GOOD_ROWS[0] + "2026-01-12T09:01:00Z,A2,reason," + "x" * 1_000_000 + "\n"
                      + GOOD_ROWS[2]).encode())
    output = import_file(path, "--skip-bad")
    assert "line 3: the line is longer than 4096 bytes: no observation is" in output
    assert "applied: 2" in output


def test_a_quoted_field_over_128_kb_refuses_the_file_at_its_line(fuzz_plant, tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_bytes((HEADER + GOOD_ROWS[0] + '2026-01-12T09:01:00Z,A2,reason,"' + "x\n" * 70_000 + '"\n').encode())
    error, _ = refused(path)
    assert error.startswith("line ") and "field larger than field limit" in error
    assert not Observation.objects.filter(machine=fuzz_plant.a2).exists()


@pytest.mark.parametrize("row, message", [
    ("2026-01-12T09:01:00Z,A\x002,running,true", "machine holds a NUL character"),
    ("2026-01-12T09:01:00Z,A2,reason,jam\x00", "value holds a NUL character"),
    ("2026-01-12T09:01:00Z,A2,running,\x1b[1m", "value holds the control character \\u001b"),
    ("2026-02-30T09:01:00Z,A2,running,true", "ts '2026-02-30T09:01:00Z' is not an ISO 8601 date-time"),
    ("0001-01-01T00:00:00+01:00,A2,running,true", "ts 0001-01-01T00:00:00+01:00 is not between 1971 and 2999"),
    ("2026-01-12T09:01:00Z,A2,total_count,٣", "total_count must be a whole number, got '٣'"),
    ("2026-01-12T09:01:00Z,A2,total_count,1e999", "total_count must be a whole number, got '1e999'"),
])
def test_a_bad_row_is_rejected_with_its_line_and_the_field_and_the_rest_stored(fuzz_plant, tmp_path, row, message):
    path = tmp_path / "bad.csv"
    path.write_bytes((HEADER + GOOD_ROWS[0] + row + "\n" + GOOD_ROWS[2]).encode())
    output = import_file(path, "--skip-bad")
    assert f"line 3: {message}" in output, output
    assert "applied: 2" in output
    assert Observation.objects.filter(machine=fuzz_plant.a2).count() == 2


# --- hypothesis: files of good, bad and broken rows in any encoding ----------------------------------

cells = st.one_of(st.sampled_from(BAD_INSTANTS + BAD_NUMBERS + BAD_TEXT), nasty_text)
rows = st.one_of(
    st.sampled_from(GOOD_ROWS),
    st.lists(cells, min_size=1, max_size=5).map(lambda fields: ",".join(fields) + "\n"),
    st.tuples(st.sampled_from(["running", "total_count", "reason", "fault", "scrap"]), cells).map(
        lambda pair: f"2026-01-12T09:0{len(pair[1]) % 10}:00Z,A2,{pair[0]},{pair[1]}\n"),
)
files = st.tuples(
    st.sampled_from([HEADER, HEADER, "\ufeff" + HEADER, "time,machine,signal,value\n", ""]),
    st.lists(rows, max_size=8),
    st.sampled_from(["utf-8", "utf-8", "latin-1", "cp1252", "utf-16"]),
    st.binary(max_size=20),
).map(lambda parts: (parts[0] + "".join(parts[1])).encode(parts[2], "surrogatepass" if parts[2].startswith("utf")
                                                                      else "replace") + parts[3])

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(content=files, skip_bad=st.booleans())
def test_import_observations_never_tracebacks_and_stores_all_or_nothing(fuzz_plant, tmp_path_factory, content,
                                                                         skip_bad):
    path = tmp_path_factory.mktemp("csv") / "fuzz.csv"
    path.write_bytes(content)
    before = row_counts()
    try:
        output = import_file(path, *(["--skip-bad"] if skip_bad else []))
    except CommandError:
        assert row_counts() == before
        return
    applied = int(output.split("applied: ")[1].split("\n")[0])
    assert Observation.objects.count() - before["monitoring.Observation"] == applied


@FUZZ
@given(content=files)
def test_the_ingest_api_never_answers_a_5xx_to_a_csv_body(erp, content):
    before = row_counts()
    response = erp.generic("POST", "/api/v1/observations/", content, content_type="text/csv")
    assert response.status_code < 500
    if response.status_code >= 400:
        assert row_counts() == before
    else:
        assert Observation.objects.count() - before["monitoring.Observation"] == response.json()["applied"]
