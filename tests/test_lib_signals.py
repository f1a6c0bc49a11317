"""Signal values as sources send them, parsed into the one typed form the pipeline stores."""

from __future__ import annotations

import pytest

from monitoring.lib.signals import SIGNAL_RANK, canonical_text, parse_value


@pytest.mark.parametrize(("raw", "expected"), [
    (True, True), ("true", True), ("ON", True), (" yes ", True), (1, True), ("1", True),
    (False, False), ("false", False), ("off", False), (0, False), ("0", False),
])
def test_running_takes_the_usual_spellings_of_on_and_off(raw, expected):
    assert parse_value("running", raw) is expected


@pytest.mark.parametrize("raw", ["maybe", 2, "", None, 0.5])
def test_running_refuses_what_is_not_on_or_off(raw):
    with pytest.raises(ValueError, match="running must be a boolean"):
        parse_value("running", raw)


def test_a_fault_is_on_or_off_or_a_fault_code():
    assert parse_value("fault", "true") is True
    assert parse_value("fault", False) is False
    assert parse_value("fault", "17") == 17
    assert parse_value("fault", 0) == 0


@pytest.mark.parametrize(("raw", "message"), [
    (-1, "at least 0"), (1.5, "whole number"), ("12a", "whole number"), (True, "whole number"),
    (1 << 64, "64 bits"), (float("nan"), "whole number"),
])
def test_a_counter_is_a_whole_number_that_fits_in_64_bits(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_value("total_count", raw)


def test_a_counter_sent_as_a_float_with_no_fraction_is_taken():
    assert parse_value("good_count", 1234.0) == 1234


def test_packml_states_are_the_18_of_the_standard():
    assert parse_value("packml_state", "6") == 6
    with pytest.raises(ValueError, match="0–17"):
        parse_value("packml_state", 18)


def test_scrap_is_at_least_one_part_and_a_reason_a_short_code():
    assert parse_value("scrap", "3") == 3
    with pytest.raises(ValueError, match="at least 1"):
        parse_value("scrap", 0)
    assert parse_value("reason", "  jam ") == "jam"
    with pytest.raises(ValueError, match="1–40 characters"):
        parse_value("reason", "x" * 41)


def test_an_unknown_signal_is_named_with_the_ones_there_are():
    with pytest.raises(ValueError, match="unknown signal 'speed': expected one of connected, running"):
        parse_value("speed", 3)


def test_the_stored_text_reads_back_as_the_same_value():
    for signal, raw in (("running", "on"), ("fault", 17), ("total_count", "65535"), ("reason", "jam")):
        value = parse_value(signal, raw)
        assert parse_value(signal, canonical_text(value)) == value


def test_within_one_instant_the_state_settles_before_parts_and_reasons():
    assert SIGNAL_RANK["running"] < SIGNAL_RANK["total_count"] < SIGNAL_RANK["reason"]
