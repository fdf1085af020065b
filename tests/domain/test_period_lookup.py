"""Finding the period that contains an instant (POLICY.md section 3): the right period, in
a constant number of steps however old the anchor, even where month-end clamping moves a
boundary before the naive month count."""

from datetime import UTC, datetime

import pytest

from camcare.domain import periods
from camcare.domain.periods import Cycle, Period, period_at


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def boundary_calls(monkeypatch):
    """Counts the boundaries period_at computes: each is one step of its search."""
    calls = []
    original = periods.boundary

    def counting(anchor, cycle, k):
        calls.append(k)
        return original(anchor, cycle, k)

    monkeypatch.setattr(periods, "boundary", counting)
    return calls


def test_it_steps_back_when_clamping_puts_the_boundary_after_the_instant():
    # Anchor Jan 31 12:00: the February boundary is Feb 28 12:00, so Feb 28 06:00 is still
    # in the January period although the month count says February.
    assert period_at(utc(2027, 1, 31, 12), Cycle.MONTHLY, utc(2027, 2, 28, 6)) == Period(
        utc(2027, 1, 31, 12), utc(2027, 2, 28, 12))


def test_it_steps_back_one_period_ten_years_on():
    assert period_at(utc(2027, 1, 31, 12), Cycle.MONTHLY, utc(2037, 2, 28, 6)) == Period(
        utc(2037, 1, 31, 12), utc(2037, 2, 28, 12))


def test_it_steps_back_one_year_before_an_annual_anniversary():
    assert period_at(utc(2027, 6, 15), Cycle.ANNUAL, utc(2031, 6, 14, 23, 59, 59)) == Period(
        utc(2030, 6, 15), utc(2031, 6, 15))


# The search costs a few boundaries: a check of the estimate from the month count, one of
# the next boundary, and the period's two ends; never a walk from the anchor, whose cost
# would grow with the subscription's age. A step back (clamping) costs one more.
def test_it_finds_a_period_ten_years_on_in_four_boundaries(boundary_calls):
    period = period_at(utc(2027, 3, 1), Cycle.MONTHLY, utc(2037, 8, 20, 15))
    assert period == Period(utc(2037, 8, 1), utc(2037, 9, 1))
    assert len(boundary_calls) <= 4


def test_it_finds_an_annual_period_in_four_boundaries(boundary_calls):
    period = period_at(utc(2027, 3, 1), Cycle.ANNUAL, utc(2037, 1, 20))
    assert period == Period(utc(2036, 3, 1), utc(2037, 3, 1))
    assert len(boundary_calls) <= 4


def test_it_finds_the_first_period_without_a_step(boundary_calls):
    period = period_at(utc(2027, 3, 1), Cycle.MONTHLY, utc(2027, 3, 20))
    assert period == Period(utc(2027, 3, 1), utc(2027, 4, 1))
    assert len(boundary_calls) <= 4


def test_it_takes_a_boundary_instant_without_a_step(boundary_calls):
    period = period_at(utc(2027, 3, 1), Cycle.MONTHLY, utc(2027, 7, 1))
    assert period == Period(utc(2027, 7, 1), utc(2027, 8, 1))
    assert len(boundary_calls) <= 4


def test_it_steps_back_exactly_once_where_clamping_moved_the_boundary(boundary_calls):
    period = period_at(utc(2027, 1, 31, 12), Cycle.MONTHLY, utc(2037, 2, 28, 6))
    assert period == Period(utc(2037, 1, 31, 12), utc(2037, 2, 28, 12))
    assert len(boundary_calls) <= 5
