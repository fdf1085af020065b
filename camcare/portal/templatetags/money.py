"""Display filters: money from integer minor units, instants as UTC dates."""

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
    return f"{at:%b} {at.day}, {at.year}" if at else ""


def format_datetime(value) -> str:
    at = as_datetime(value)
    return f"{format_date(at)}, {at:%H:%M} UTC" if at else ""


@register.filter
def utcdate(value):
    """ "Mar 1, 2027" (the instant is UTC; the page says so where the time matters)."""
    return format_date(value)


@register.filter
def utcdatetime(value):
    """ "Mar 1, 2027, 14:05 UTC"."""
    return format_datetime(value)
