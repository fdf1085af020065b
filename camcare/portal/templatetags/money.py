"""Display filters: money from integer minor units, instants as UTC dates.

One date format on every page: "1 Apr 2027", and with a time "1 Apr 2027, 00:00 UTC"
(the day first and the month in letters reads the same to every owner)."""

from datetime import UTC, datetime

from django import template

from camcare.display import format_money

register = template.Library()


@register.filter
def money(cents, currency="USD"):
    return format_money(cents, currency)


@register.filter
def signed_money(cents, currency="USD"):
    """ "+$3.19" / "−$3.19" for signed movements such as credit added or used."""
    if cents is None or cents == "":
        return ""
    sign = "−" if int(cents) < 0 else "+"
    return sign + format_money(abs(int(cents)), currency)


def as_datetime(value) -> datetime | None:
    """A datetime, or an ISO 8601 string from an API-shaped dict, as an aware datetime."""
    if value in (None, ""):
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def format_date(value) -> str:
    at = as_datetime(value)
    return f"{at.day} {at:%b} {at.year}" if at else ""


def format_datetime(value) -> str:
    at = as_datetime(value)
    return f"{format_date(at)}, {at:%H:%M} UTC" if at else ""


@register.filter
def utcdate(value):
    """ "1 Mar 2027" (the instant is UTC; the page says so where the time matters)."""
    return format_date(value)


@register.filter
def utcdatetime(value):
    """ "1 Mar 2027, 14:05 UTC"."""
    return format_datetime(value)


def when(value) -> str:
    """A date, with its time only when it is not midnight (a change made at 14:05)."""
    at = as_datetime(value)
    if at is None:
        return ""
    return format_date(at) if (at.hour, at.minute, at.second) == (0, 0, 0) else format_datetime(at)


@register.filter
def instant(value):
    """ "11 Mar 2027", or "16 Mar 2027, 12:00 UTC" for an instant that is not midnight."""
    return when(value)
