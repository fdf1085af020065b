"""Billing periods and month-end clamping (POLICY.md section 3)."""

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camcare.domain.periods import (
    Cycle,
    Period,
    add_months,
    boundary,
    iso_z,
    parse_instant,
    period_at,
    whole_seconds,
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_it_clamps_monthly_boundaries_from_the_anchor_day():
    anchor = utc(2027, 1, 31, 8, 30, 15)
    assert [boundary(anchor, Cycle.MONTHLY, k) for k in range(5)] == [
        utc(2027, 1, 31, 8, 30, 15),
        utc(2027, 2, 28, 8, 30, 15),
        utc(2027, 3, 31, 8, 30, 15),  # from the anchor's 31st, not from Feb 28
        utc(2027, 4, 30, 8, 30, 15),
        utc(2027, 5, 31, 8, 30, 15),
    ]


def test_it_clamps_to_february_29_in_a_leap_year():
    anchor = utc(2028, 1, 31)
    assert boundary(anchor, Cycle.MONTHLY, 1) == utc(2028, 2, 29)
    assert boundary(anchor, Cycle.MONTHLY, 2) == utc(2028, 3, 31)


def test_it_clamps_an_annual_february_29_anchor_to_february_28():
    anchor = utc(2028, 2, 29, 12)
    assert [boundary(anchor, Cycle.ANNUAL, k) for k in range(5)] == [
        utc(2028, 2, 29, 12), utc(2029, 2, 28, 12), utc(2030, 2, 28, 12), utc(2031, 2, 28, 12),
        utc(2032, 2, 29, 12),
    ]


def test_it_crosses_year_ends_and_goes_backwards():
    assert add_months(utc(2027, 12, 31), 2) == utc(2028, 2, 29)
    assert add_months(utc(2027, 3, 31), -1) == utc(2027, 2, 28)
    assert add_months(utc(2027, 1, 15), -12) == utc(2026, 1, 15)


def test_it_finds_the_periods_of_the_worked_examples():
    march = period_at(utc(2027, 3, 1), Cycle.MONTHLY, utc(2027, 3, 11))
    assert (march.start, march.end, march.seconds) == (utc(2027, 3, 1), utc(2027, 4, 1), 31 * 86400)
    april = period_at(utc(2027, 3, 1), Cycle.MONTHLY, utc(2027, 4, 11))
    assert (april.start, april.end, april.seconds) == (utc(2027, 4, 1), utc(2027, 5, 1), 30 * 86400)
    year = period_at(utc(2027, 1, 10), Cycle.ANNUAL, utc(2027, 4, 20))
    assert (year.start, year.end, year.seconds) == (utc(2027, 1, 10), utc(2028, 1, 10), 365 * 86400)


def test_it_puts_a_boundary_instant_in_the_period_it_starts():
    period = period_at(utc(2027, 1, 31), Cycle.MONTHLY, utc(2027, 2, 28))
    assert period == Period(utc(2027, 2, 28), utc(2027, 3, 31))
    assert period.contains(utc(2027, 2, 28)) and not period.contains(utc(2027, 3, 31))


def test_it_refuses_an_instant_before_the_anchor():
    with pytest.raises(ValueError):
        period_at(utc(2027, 3, 1), Cycle.MONTHLY, utc(2027, 2, 28, 23, 59, 59))


anchors = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31)).map(
    lambda t: t.replace(microsecond=0, tzinfo=UTC)
)


@given(anchors, st.sampled_from(list(Cycle)), st.integers(0, 40 * 366 * 86400))
def test_it_finds_the_period_containing_any_instant(anchor, cycle, offset):
    t = anchor + timedelta(seconds=offset)
    period = period_at(anchor, cycle, t)
    assert period.start <= t < period.end
    # Both ends are boundaries of the anchor, and no boundary lies strictly inside.
    k = next(k for k in range(0, 12 * 41) if boundary(anchor, cycle, k) == period.start)
    assert period.end == boundary(anchor, cycle, k + 1)
    for edge in (period.start, period.end):
        assert edge.day == min(anchor.day, calendar.monthrange(edge.year, edge.month)[1])
        assert edge.time() == anchor.time()


@given(anchors, st.integers(0, 600))
def test_it_never_drifts_from_the_anchor_day(anchor, months):
    moved = add_months(anchor, months)
    assert (moved.year * 12 + moved.month) - (anchor.year * 12 + anchor.month) == months
    assert moved.day == min(anchor.day, calendar.monthrange(moved.year, moved.month)[1])


def test_it_writes_and_reads_instants_in_utc_whole_seconds():
    t = datetime(2027, 3, 11, 1, 2, 3, 999_999, tzinfo=timezone(timedelta(hours=1)))
    assert whole_seconds(t) == utc(2027, 3, 11, 0, 2, 3)
    assert iso_z(t) == "2027-03-11T00:02:03Z"
    assert parse_instant("2027-03-11T01:02:03+01:00") == utc(2027, 3, 11, 0, 2, 3)
    assert parse_instant("2027-03-11T00:02:03z") == utc(2027, 3, 11, 0, 2, 3)


def test_it_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        whole_seconds(datetime(2027, 3, 11))
    with pytest.raises(ValueError):
        parse_instant("2027-03-11T00:00:00")
