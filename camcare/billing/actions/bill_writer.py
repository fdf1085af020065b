"""Step 3's writes of settled bills (renewals and retries of unpaid bills): one bill or a
batch of them, in a fixed number of statements whatever their number, inside the caller's
transaction. What to write is decided in bills.py (a Settlement per bill); this module
only writes it, so the single path and the billing run's batches write the same rows.

The order of the writes is the one of a single step 3: the release of every claim first
(payments.release_many: ClaimLost, and nothing written, when any claim is gone), then the
lines (the open ones end before the new ones start), the orders, the ledger, the audit
log, the cameras of a lapse and the notices; erasures run after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import F

from camcare.audit.events import Event, audit_row
from camcare.audit.models import AuditEvent
from camcare.billing.actions import payments
from camcare.billing.actions.rows import column, insert_rows, update_each
from camcare.billing.ledger import posting_rows
from camcare.billing.models import LedgerEntry, Order, SubscriptionLine
from camcare.cameras import erasure, holds
from camcare.cameras.models import Camera
from camcare.domain.catalog import FREE

log = logging.getLogger("camcare.billing")

ROWS = 500  # ids per IN (...) of one statement
ORDER_FIELDS = [*payments.SETTLED_FIELDS, "credit_used"]  # credit_used: 0 when not paid

Entries = list[tuple[str, object, int]]  # (book, customer account or None, signed minor units)


@dataclass
class Settlement:
    """What step 3 of one bill writes (decided by bills.settle_renewal / settle_retry)."""

    payment: payments.Payment
    order: Order | None  # its fields set by payments.mark_settled; written here. None: a stop
    fields: dict  # the subscription's fields written with the release of the claim
    changed: bool = True  # bump the version: every open quote is stale
    end_lines_at: datetime | None = None  # the open lines end at this instant
    pay_lines: bool = False  # the open lines are paid in full (the unpaid bill was paid)
    new_lines: list[dict] = field(default_factory=list)  # SubscriptionLine fields of the new period's
    postings: list[tuple[datetime, str, Entries]] = field(default_factory=list)  # (at, memo, entries)
    audits: list[tuple[Event, datetime, dict]] = field(default_factory=list)  # (action, at, detail)
    to_free: bool = False  # every camera of the account moves to free (the lapse)
    hold: tuple[dict[str, str], datetime] | None = None  # the lapse: (plans before it, its instant)
    notices: list[Callable[[], None]] = field(default_factory=list)  # emails.record_* of this bill
    erase: list[tuple[str, datetime]] = field(default_factory=list)  # a stop: (camera, cut-off), after commit

    @property
    def subscription_id(self) -> int:
        return self.payment.subscription.pk


def write(settlements: list[Settlement]) -> None:
    """Write every settlement, in the caller's transaction (see the module's docstring)."""
    if not settlements:
        return
    payments.release_many([(s.payment, s.fields, s.changed) for s in settlements])
    _end_lines(settlements)
    _pay_lines(settlements)
    insert_rows(SubscriptionLine, [{**line, "subscription_id": s.subscription_id} for s in settlements
                                   for line in s.new_lines])
    _settle_orders(settlements)
    insert_rows(LedgerEntry, [row for s in settlements for row in _ledger_rows(s)])
    insert_rows(AuditEvent, [row for s in settlements for row in _audit_rows(s)])
    lapsed = [s.payment.subscription.account_id for s in settlements if s.to_free]
    if lapsed:
        Camera.objects.filter(account_id__in=lapsed).exclude(plan=FREE).update(plan=FREE)
    for settlement in settlements:
        if settlement.hold is not None:  # in this transaction: no sweep between free and the hold
            old_plans, at = settlement.hold
            holds.hold_after_lapse(settlement.payment.subscription.account, old_plans=old_plans, at=at)
    for settlement in settlements:
        for record in settlement.notices:
            record()
    erasures = [item for settlement in settlements for item in settlement.erase]
    if erasures:
        transaction.on_commit(lambda: _erase(erasures))


def _erase(erasures: list[tuple[str, datetime]]) -> None:
    """After commit: the clips a stop erases (the retention sweep finishes what fails)."""
    for camera, cutoff in erasures:
        try:
            erasure.erase_clips_before(camera, cutoff)
        except Exception:
            log.exception("erasure for camera %s failed; the retention sweep will finish it", camera)


def chunks(items: list, size: int = ROWS):
    """`items` in slices of at most `size`: the rows of one statement."""
    return (items[start:start + size] for start in range(0, len(items), size))


def _end_lines(settlements: list[Settlement]) -> None:
    """Each subscription's open lines end at its own instant."""
    update_each(SubscriptionLine, set_fields=["ended_at"], where_fields=["subscription"],
                rows=[(s.end_lines_at, s.subscription_id) for s in settlements if s.end_lines_at is not None],
                where_sql=f"{column(SubscriptionLine, 'ended_at')} IS NULL")


def _settle_orders(settlements: list[Settlement]) -> None:
    update_each(Order, set_fields=ORDER_FIELDS, where_fields=["id"],
                rows=[(*(getattr(s.order, name) for name in ORDER_FIELDS), s.order.pk) for s in settlements
                      if s.order is not None])


def _pay_lines(settlements: list[Settlement]) -> None:
    paying = [s.subscription_id for s in settlements if s.pay_lines]
    for chunk in chunks(paying):
        SubscriptionLine.objects.filter(subscription_id__in=chunk, ended_at__isnull=True).update(paid=F("unit_price"))


def _ledger_rows(settlement: Settlement) -> list[dict]:
    """ledger.post's rows of each posting, for one bulk INSERT."""
    subscription = settlement.payment.subscription
    return [row for at, memo, entries in settlement.postings
            for row in posting_rows(at=at, currency=subscription.currency, memo=memo, order=settlement.order,
                                    entries=entries)]


def _audit_rows(settlement: Settlement) -> list[dict]:
    """audit()'s rows: the billing run acts for nobody (actor None)."""
    account = settlement.payment.subscription.account
    return [audit_row(actor=None, account=account, action=action, at=at, detail=detail)
            for action, at, detail in settlement.audits]

