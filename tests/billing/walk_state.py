"""The random walk's model state (tests/billing/walks.py): what it tracks of the account
and of each step, and the constants of the rules it checks against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from camcare.audit.events import Event
from camcare.billing import selectors
from camcare.billing.models import (
    LedgerEntry,
    Order,
    SandboxCharge,
    SandboxRefund,
    TrialUse,
)
from camcare.cameras import holds
from camcare.cameras.models import Camera, Clip
from camcare.catalog import get_catalog

CAMERAS = 4
DAY = timedelta(days=1)
HOLD = timedelta(days=holds.HOLD_DAYS)
STATUSES = {"none", "active", "past_due", "trialing"}
DECLINING = {"tok_chargeDeclined", "tok_insufficientFunds"}
CHANGES = {"target", "cancel", "remove", "trial"}
ADVANCES = {"advance", "until"}
HOLDING = {Event.LAPSED_TO_FREE.value, Event.TRIAL_ENDED_UNPAID.value}
TO_FREE = HOLDING | {Event.STOPPED.value}
RETRY_DAYS = [0, 1, 3, 7]  # a bill's four attempts, days after its period start (section 5)


def counts() -> tuple:
    return (Order.objects.count(), LedgerEntry.objects.count(), SandboxCharge.objects.count(),
            SandboxRefund.objects.count())


def footprint(account) -> tuple:
    """What a replayed API call must leave as it was."""
    subscription = selectors.subscription_or_none(account)
    return (counts(), sorted(Camera.objects.filter(account=account).values_list("pk", flat=True)),
            subscription.version if subscription else 0, Clip.objects.count(), TrialUse.objects.count())


def days_of(plan: str) -> int:
    return get_catalog()[plan].history_days


@dataclass
class Tracked:
    """A clip of the model: its camera (it follows a replacement), its start, its hold."""

    camera: str
    recorded: datetime
    held: datetime | None = None


@dataclass(frozen=True)
class Seen:
    """The account as a step found or left it."""

    now: datetime
    summary: dict
    counts: tuple
    card: str | None
    version: int
    lines: dict  # {(plan, camera or None): (pk, paid, credited)} of the lines in force
    period_end: datetime | None
    next_retry: datetime | None
    last_order: int
    last_audit: int
    clips: dict  # {clip id: (camera, recorded, held)} of the model
    had_paid: bool  # the model: the account has had a paid line or a trial

    @property
    def status(self) -> str:
        return self.summary["status"]

    @property
    def cameras(self) -> dict:
        return self.summary["cameras"]

    def state(self) -> tuple:
        """Everything a refused call must leave as it was (money, plans, period, schedule)."""
        s = self.summary
        return (s["status"], s["cycle"], s["current_period_start"], s["current_period_end"], s["cameras"],
                s["credit_balance"], s["scheduled_change"], s["trial_end"], s["next_bill"], s["price"],
                self.version, self.lines, self.next_retry)


@dataclass
class Done:
    """What a step did, for the checks."""

    result: dict | None = None  # R of an executed change or stop
    refused: str | None = None
    cycle: str | None = None  # the cycle a change asked for
    target: dict = field(default_factory=dict)  # the complete {camera: plan} a change asked for
    trial: bool = False
    removed: str | None = None
    replaced: tuple[str, str] | None = None
    to: datetime | None = None
