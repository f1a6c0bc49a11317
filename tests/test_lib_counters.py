from __future__ import annotations

from monitoring.lib.counters import DeltaKind, counter_delta, max_plausible_parts


def test_it_counts_normally():
    assert counter_delta(100, 130, 1 << 16, 50).parts == 30


def test_it_counts_across_16_bit_rollover():
    delta = counter_delta(65530, 4, 1 << 16, 50)
    assert (delta.kind, delta.parts) == (DeltaKind.ROLLOVER, 10)


def test_it_counts_across_32_bit_rollover():
    delta = counter_delta(4294967295, 0, 1 << 32, 50)
    assert (delta.kind, delta.parts) == (DeltaKind.ROLLOVER, 1)


def test_a_drop_far_from_the_top_is_a_reset_and_counts_from_zero():
    delta = counter_delta(30000, 7, 1 << 16, 50)
    assert (delta.kind, delta.parts) == (DeltaKind.RESET, 7)


def test_an_implausible_jump_is_flagged_not_counted():
    delta = counter_delta(100, 60000, 1 << 16, 50)
    assert (delta.kind, delta.parts, delta.raw_jump) == (DeltaKind.IMPLAUSIBLE, 0, 59900)


def test_plausibility_grows_with_elapsed_time_and_rate():
    assert max_plausible_parts(10, 1.0) == 30 + 10
    assert max_plausible_parts(10, 0.5) == 60 + 10
    assert max_plausible_parts(-5, 1.0) == 10
