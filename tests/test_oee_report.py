from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.histories import day_csv


def test_it_prints_the_days_shifts_per_machine(plant, tmp_path):
    path = tmp_path / "day.csv"
    path.write_text(day_csv())
    call_command("import_observations", str(path), stdout=io.StringIO())
    out = io.StringIO()
    call_command("oee_report", "--line", "A", "--date", "2026-01-12", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("A Line A — 2026-01-12 (Europe/Berlin)")
    early = next(line for line in lines if line.startswith("A1") and "Early" in line)
    # The same figures as the API test computes by hand: A 93.3 %, P 79.8 %, Q 99.8 %, OEE 74.3 %.
    assert early.split()[2:] == ["06:00", "14:00", "7.50h", "7.00h", "93.3%", "79.8%", "99.8%", "74.3%",
                                 "20112", "20062"]
    assert sum(1 for line in lines if line.startswith(("A1", "A2"))) == 4  # two machines × two shifts


def test_bad_arguments_are_named(plant):
    with pytest.raises(CommandError, match="--date 'monday'"):
        call_command("oee_report", "--line", "A", "--date", "monday")
    with pytest.raises(CommandError, match="--line 'Z': no such line"):
        call_command("oee_report", "--line", "Z", "--date", "2026-01-12")
