"""Money as people read it, from integer minor units (pages, receipts, e-mails), and dates
in words for e-mails."""

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.numbers import format_currency


def format_money(cents: int, currency: str = "USD") -> str:
    """`cents` minor units shown as money ("$12.99"). Decimal is for display only."""
    if cents is None or cents == "":
        return ""
    return _formatted(int(cents), currency or "USD")


# Babel parses its pattern and walks the locale's data on every call (about 100 µs): the
# billing run formats a receipt's amounts per order, and a batch repeats a few prices.
@lru_cache(maxsize=4096)
def _formatted(cents: int, currency: str) -> str:
    return format_currency(Decimal(cents).scaleb(-2), currency, locale="en_US")


# ---------------------------------------------------------------- dates in e-mails
# POLICY.md section 16: dates are shown in the account's time zone and name it, so a bill at
# 00:00 UTC never reads as the day before without saying so. Accounts have no zone of their
# own yet, so callers pass "UTC" until one exists.


# English names whatever the process locale (strftime's %A/%B follow LC_TIME).
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def _in_zone(at: datetime, zone: str) -> datetime:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(zone or "UTC"))


def format_day(at: datetime | None, zone: str = "UTC") -> str:
    """ "Monday 1 March 2027": the day an instant falls on in `zone` (words, no numbers to
    misread as month/day)."""
    if at is None:
        return ""
    local = _in_zone(at, zone)
    return f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"


def format_day_time(at: datetime | None, zone: str = "UTC") -> str:
    """ "Monday 1 March 2027 at 00:00 UTC": the day, the time and the zone's name."""
    if at is None:
        return ""
    return _day_time(at, zone)


@lru_cache(maxsize=4096)  # a function of the instant and the zone; a batch's orders share a few
def _day_time(at: datetime, zone: str) -> str:
    local = _in_zone(at, zone)
    return f"{format_day(local, zone)} at {local:%H:%M} {zone or 'UTC'}"


def format_month(month: int, year: int) -> str:
    """ "March 2027" (a card's expiry month, 1-12)."""
    return f"{_MONTHS[month - 1]} {year}"
