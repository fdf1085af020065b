"""The account's time zone (POLICY.md section 16): an IANA name, "UTC" unless chosen.

Instants stay UTC everywhere they are stored or sent; the zone only says how pages and
e-mails show them. Every way a zone comes in (the API, the portal's sign-up and account
page, the model's own validation in the admin) goes through `clean_time_zone`, so what
one of them accepts the others accept too."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from functools import cache, lru_cache

from django.core.exceptions import ValidationError

from camcare import clock

DEFAULT = "UTC"
MAX_LENGTH = 64  # the longest IANA name is 32 characters ("America/Argentina/ComodRivadavia")

# In the tz database's list but no place's clock: "Factory" reads "-00" on purpose.
NOT_A_PLACE = frozenset({"Factory", "localtime", "posixrules"})
# What a browser may call UTC itself; stored as "UTC", the one name the pages show for it.
UTC_ALIASES = frozenset({"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu"})
# The regions of the canonical "Area/Location" names, the groups of the portal's select.
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
           "Indian", "Pacific")


class UnknownTimeZone(ValueError):
    """Not an IANA time zone name this server knows."""


@cache
def known_names() -> frozenset[str]:
    """Every zone the server's tz database has (the process reads it once)."""
    return frozenset(zoneinfo.available_timezones()) - NOT_A_PLACE


def clean_time_zone(name: object) -> str:
    """`name` as it is stored: an IANA name this server knows, UTC's aliases as "UTC".
    Raises UnknownTimeZone for anything else (names are case-sensitive, as in the database)."""
    text = name.strip() if isinstance(name, str) else ""
    if text in UTC_ALIASES:
        return DEFAULT
    if text not in known_names():
        shown = text if len(text) <= MAX_LENGTH else text[:MAX_LENGTH] + "…"
        raise UnknownTimeZone(f"'{shown}' is not a time zone name: give an IANA name such as "
                              "'America/New_York', 'Europe/Paris' or 'UTC'.")
    return text


def validate_time_zone(value) -> None:
    """The model field's validator (the admin's forms run it), in Django's terms."""
    try:
        clean_time_zone(value)
    except UnknownTimeZone as exc:
        raise ValidationError(str(exc), code="unknown_time_zone") from exc


def zone_or_utc(name: object) -> str:
    """A zone a browser sent, where a missing or unknown one is no error: UTC then."""
    try:
        return clean_time_zone(name)
    except UnknownTimeZone:
        return DEFAULT


def zone_of(account) -> str:
    """The name of the zone `account` reads dates in; UTC for none or for a name the tz
    database of this server no longer has (a stored zone must never stop a page or a
    notice from rendering)."""
    return zone_or_utc(getattr(account, "time_zone", None) or DEFAULT)


@lru_cache(maxsize=1024)
def zone_info(name: str) -> zoneinfo.ZoneInfo:
    """The ZoneInfo of a name, UTC for an unknown one (see zone_of)."""
    return zoneinfo.ZoneInfo(zone_or_utc(name))


# ---------------------------------------------------------------- the portal's select


def offset_words(offset: timedelta | None) -> str:
    """ "UTC", "UTC+2", "UTC-3:30": an offset from UTC as people write it."""
    minutes = round((offset or timedelta()).total_seconds() / 60)
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _label(name: str, now: datetime) -> str:
    """ "Los Angeles (UTC-7)": the place, and its offset from UTC now."""
    place = name.split("/", 1)[-1].replace("_", " ").replace("/", " / ")
    return f"{place} ({offset_words(now.astimezone(zone_info(name)).utcoffset())})"


def grouped_choices(current: str = DEFAULT, now: datetime | None = None) -> list:
    """The zones to choose from, as a Django select's grouped choices: "UTC" first, then
    each region's places sorted by name, with their offset from UTC at `now` (real time by
    default). The other names of the database (old aliases like "US/Pacific") are left
    out of the list but accepted; the account's current zone is always in it."""
    now = now or clock.real_now()
    by_region: dict[str, list[tuple[str, str]]] = {region: [] for region in REGIONS}
    for name in sorted(known_names()):
        region = name.split("/", 1)[0]
        if region in by_region and "/" in name:
            by_region[region].append((name, _label(name, now)))
    groups: list = [(DEFAULT, "UTC (Coordinated Universal Time)")]
    listed = {DEFAULT} | {name for places in by_region.values() for name, _ in places}
    if current not in listed:
        groups.append(("Other", [(current, f"{current} ({offset_words(now.astimezone(zone_info(current)).utcoffset())})")]))
    groups += [(region, places) for region, places in by_region.items() if places]
    return groups
