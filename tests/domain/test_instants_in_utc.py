"""Every instant is UTC (POLICY.md section 3), whatever the server's local time zone: a
server started with TZ set to somewhere else must not store or send local times."""

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from camcare.domain.periods import iso_z, parse_instant, whole_seconds


@pytest.fixture
def local_zone_far_from_utc(monkeypatch):
    """The process's local time zone at UTC+13 (a POSIX TZ string: no tz database needed)."""
    monkeypatch.setenv("TZ", "NZDT-13")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_it_converts_to_utc_not_to_the_local_zone(local_zone_far_from_utc):
    assert time.localtime(0).tm_hour == 13  # the local zone is in force
    t = datetime(2027, 3, 11, 1, 2, 3, 456, tzinfo=timezone(timedelta(hours=-5)))
    converted = whole_seconds(t)
    assert converted.tzinfo is UTC
    assert (converted.hour, converted.microsecond, converted.utcoffset()) == (6, 0, timedelta(0))


def test_it_writes_and_reads_utc_under_a_local_zone(local_zone_far_from_utc):
    assert iso_z(datetime(2027, 3, 11, 1, 2, 3, tzinfo=timezone(timedelta(hours=-5)))) == "2027-03-11T06:02:03Z"
    assert parse_instant("2027-03-11T23:30:00+13:00") == datetime(2027, 3, 11, 10, 30, tzinfo=UTC)
    assert parse_instant("2027-03-11T23:30:00+13:00").tzinfo is UTC
