"""Display filters: money from integer minor units, and instants in the reader's zone.

POLICY.md section 16: instants are UTC; pages show them in the account's time zone (the
one portal/middleware.py activates for the request, UTC when none is) and name it. One
format on every page:
- `localdate`: "31 Mar 2027", the day in the zone, for a day that is all that matters
  (when a payment was made); the page's footer names the zone once.
- `localdatetime`: "31 Mar 2027, 17:00 PDT", with the time and the zone's abbreviation
  (or its offset, "UTC+3", where the zone has no letters for it).
- `instant`: a boundary (a period's end, the next bill), "1 Apr 2027" when it falls at
  the zone's midnight, else as `localdatetime`: a renewal at 00:00 UTC reads "31 Mar 2027,
  17:00 PDT" in Los Angeles, never a bare "1 Apr" nor a "31 Mar" without its zone.
- `utcdate`, `utcdatetime`: always UTC, "1 Apr 2027, 00:00 UTC", for the support console
  (staff work across zones) and the pages that show the stores' own instants.
The day comes first and the month in letters: it reads the same to every owner.
"""

from datetime import UTC, datetime, tzinfo

from django import template
from django.utils import timezone

from camcare.accounts.time_zones import offset_words, zone_info
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
    """A datetime, or an ISO 8601 string from an API-shaped dict, as an aware UTC datetime
    (a naive one is taken as UTC, the zone every instant is stored in)."""
    if value in (None, ""):
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# English names whatever the process locale (strftime's %b follows LC_TIME).
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _zone(zone: str | tzinfo | None) -> tzinfo:
    """The zone to show in: a name, a tzinfo, or None for the request's active zone."""
    if zone is None:
        return timezone.get_current_timezone()
    return zone_info(zone) if isinstance(zone, str) else zone


def in_zone(value, zone: str | tzinfo | None = None) -> datetime | None:
    """The instant as a wall-clock time of `zone` (None: the active zone)."""
    at = as_datetime(value)
    return at.astimezone(_zone(zone)) if at else None


def zone_abbreviation(local: datetime) -> str:
    """ "PDT", "CET", "UTC"; "UTC+3" for a zone whose abbreviation is only a number."""
    name = local.tzname() or ""
    return name if name[:1].isalpha() else offset_words(local.utcoffset())


def format_date(value, zone: str | tzinfo | None = None) -> str:
    """ "31 Mar 2027": the day the instant falls on in `zone` (None: the active zone)."""
    local = in_zone(value, zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}" if local else ""


def format_datetime(value, zone: str | tzinfo | None = None) -> str:
    """ "31 Mar 2027, 17:00 PDT": the day, the time and the zone's abbreviation."""
    local = in_zone(value, zone)
    return f"{format_date(local, local.tzinfo)}, {local:%H:%M} {zone_abbreviation(local)}" if local else ""


def when(value, zone: str | tzinfo | None = None) -> str:
    """A boundary: the date alone when it is the start of that day in the zone, else with
    its time and zone ("16 Mar 2027, 12:00 UTC" for a change made at noon)."""
    local = in_zone(value, zone)
    if local is None:
        return ""
    return format_date(local, local.tzinfo) if (local.hour, local.minute, local.second) == (0, 0, 0) \
        else format_datetime(local, local.tzinfo)


def current_zone_name() -> str:
    """The IANA name of the active zone ("UTC" when none is active)."""
    return getattr(timezone.get_current_timezone(), "key", "UTC")


@register.filter
def localdate(value):
    """ "31 Mar 2027" in the active zone (the page names the zone once)."""
    return format_date(value)


@register.filter
def localdatetime(value):
    """ "31 Mar 2027, 17:00 PDT" in the active zone."""
    return format_datetime(value)


@register.filter
def instant(value):
    """ "1 Apr 2027" at the active zone's midnight, else "31 Mar 2027, 17:00 PDT"."""
    return when(value)


@register.filter
def utcdate(value):
    """ "1 Apr 2027" in UTC whatever the active zone (the console's pages say UTC)."""
    return format_date(value, UTC)


@register.filter
def utcdatetime(value):
    """ "1 Apr 2027, 00:00 UTC" whatever the active zone."""
    return format_datetime(value, UTC)
