"""Billing periods: cycles added to an anchor, with month-end clamping.

POLICY.md section 3: periods are [anchor + k cycles, anchor + (k+1) cycles), and the
month arithmetic always clamps from the anchor's day, never from the previous
clamped date (anchor Jan 31 -> Feb 28, Mar 31, Apr 30).
All instants are timezone-aware UTC datetimes with whole seconds.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache


class Cycle(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        return 1 if self is Cycle.MONTHLY else 12


def add_months(anchor: datetime, months: int) -> datetime:
    """`anchor` moved by whole months, the day clamped to the target month's last day."""
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def boundary(anchor: datetime, cycle: Cycle, k: int) -> datetime:
    """The start of period k (k = 0 is the period that starts at the anchor)."""
    return add_months(anchor, cycle.months * k)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime  # exclusive

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end


def period_at(anchor: datetime, cycle: Cycle, t: datetime) -> Period:
    """The period of the subscription anchored at `anchor` that contains `t` (t >= anchor)."""
    # Cached: the billing run asks for the same few periods for every subscription of a
    # batch. Keyed by the zones too: equal instants in two zones clamp months differently.
    return _period_at(anchor, anchor.tzinfo, cycle, t, t.tzinfo)


@lru_cache(maxsize=4096)
def _period_at(anchor: datetime, _anchor_zone: object, cycle: Cycle, t: datetime, _zone: object) -> Period:
    if t < anchor:
        raise ValueError("an instant before the anchor has no period")
    # Estimate k from the month difference, then step to the exact period: clamping can
    # make a boundary fall a few days earlier than the naive month count suggests.
    months = (t.year - anchor.year) * 12 + (t.month - anchor.month)
    k = max(0, months // cycle.months)
    while boundary(anchor, cycle, k) > t:
        k -= 1
    while boundary(anchor, cycle, k + 1) <= t:
        k += 1
    return Period(boundary(anchor, cycle, k), boundary(anchor, cycle, k + 1))


def window_start(at: datetime, history_days: int) -> datetime:
    """The cut-off of a video-history window of `history_days` days at `at` (POLICY.md
    section 6): a clip recorded before it is outside the window."""
    return at - timedelta(days=history_days)


def whole_seconds(t: datetime) -> datetime:
    """`t` in UTC, truncated to whole seconds (the precision of every stored instant)."""
    if t.tzinfo is None:
        raise ValueError("naive datetimes are not instants; use UTC-aware datetimes")
    return t.astimezone(UTC).replace(microsecond=0)


@lru_cache(maxsize=4096)  # a function of the instant alone; a batch repeats a few
def iso_z(t: datetime) -> str:
    """ISO 8601 in UTC with whole seconds and `Z` (the API's format)."""
    return whole_seconds(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with an explicit offset (Z or +hh:mm), to UTC whole seconds."""
    value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    return whole_seconds(value)
