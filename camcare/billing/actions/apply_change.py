"""Step 3 of an owner's change (payments.py): the change itself, its orders, its ledger
posting and its audit row, in one transaction; erasure, receipts and the plan-changed
notice after the commit. A new paid subscription also settles the clips a lapse held
(POLICY.md section 6, camcare.cameras.holds)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.billing import selectors
from camcare.billing.actions import payments, trials
from camcare.billing.emails import record_plan_changed, record_receipt
from camcare.billing.gateway import GatewayResult
from camcare.billing.ledger import Book, change_entries, post
from camcare.billing.models import (
    Channel,
    Order,
    OrderKind,
    OrderStatus,
    Purpose,
    Quote,
    SubscriptionLine,
)
from camcare.cameras import erasure, holds
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.domain.order_ids import new_order_id
from camcare.domain.periods import iso_z
from camcare.domain.pricing import Case, LineKind, Outcome, Status

log = logging.getLogger("camcare.billing")

CASE_LABELS = {
    Case.SUBSCRIBE: "New subscription",
    Case.CANCEL: "Cancellation",
    Case.TO_ANNUAL: "Switch to annual billing",
    Case.TRIAL: "Free trial",
}


@dataclass(frozen=True)
class Declined:
    """The card refused the change's charge: the attempt is kept as a failed order and
    nothing else changed (the quote stays valid: the version is not bumped)."""

    order: Order
    decline_code: str
    message: str


def describe(outcome: Outcome, account) -> str:
    """One line for the order and the ledger: what the change added and removed."""
    names = dict(Camera.objects.filter(account=account).values_list("id", "name"))
    catalog = get_catalog()

    def line_text(line) -> str:
        plan = catalog[line.key.plan].name
        where = f" for {names.get(line.key.camera, 'a removed camera')}" if line.key.camera else ""
        return f"{plan} {line.key.cycle.value}{where}"

    parts = []
    for kind, verb in ((LineKind.CHARGE, "added"), (LineKind.CREDIT, "removed")):
        texts = [line_text(line) for line in outcome.lines if line.kind == kind]
        if texts:
            parts.append(f"{verb} " + ", ".join(texts))
    label = CASE_LABELS.get(outcome.case, "Plan change")
    return (label + ": " + "; ".join(parts))[:200] if parts else label


def erasures_of(outcome: Outcome, account=None) -> list[dict]:
    """What the change erases (POLICY.md section 6): each shrinking camera, its clips, the
    cut-off; and, for a new paid period of `account` during a hold, each camera's held clips
    outside the new windows (`held`: they are hidden, so there is nothing to download)."""
    erasures = [
        {"camera": s.camera, "clips": erasure.count_clips_before(s.camera, s.cutoff), "recorded_before": iso_z(s.cutoff),
         "held": False}
        for s in outcome.shrinks
    ]
    if account is not None and starts_paid_period(outcome):
        windows = holds.new_windows(dict(outcome.state.cameras), outcome.at)
        released = holds.release_preview(account, windows=windows, at=outcome.at,
                                         camera_ids=list(outcome.state.cameras))  # every camera of it
        erasures += [{"camera": camera, "clips": erased, "recorded_before": iso_z(windows[camera]), "held": True}
                     for camera, (_, erased) in sorted(released.items()) if erased and camera in windows]
    return erasures


def apply_change(payment: payments.Payment, results: dict[int, GatewayResult], *, quote: Quote,
                 outcome: Outcome, actor) -> Declined | tuple[list[Order], list[dict]]:
    charge = next((o for o in payment.orders if o.kind == OrderKind.CHARGE), None)
    if charge is not None and not results.get(charge.pk, payments.ABANDONED).succeeded:
        return _decline(payment, charge, results.get(charge.pk, payments.ABANDONED), actor)
    subscription = payment.subscription
    account = subscription.account
    old = {"cycle": subscription.cycle, "cameras": selectors.current_plans(account)}
    payments.release(payment, **_subscription_fields_after(outcome))
    Quote.objects.filter(pk=quote.pk).update(executed_at=outcome.at)
    erasures = erasures_of(outcome, account)  # counted before the change commits, erased after
    _apply_lines(subscription, outcome)
    for camera, plan in outcome.state.cameras.items():
        Camera.objects.filter(account=account, id=camera).exclude(plan=plan).update(plan=plan)
    description = describe(outcome, account)
    orders = [payments.settle(order, results.get(order.pk, payments.ABANDONED)) for order in payment.orders]
    failed_refunds = sum(o.amount for o in orders if o.kind == OrderKind.REFUND and o.status == OrderStatus.FAILED)
    credit_added = outcome.credit_added + failed_refunds  # what the card could not take back
    orders = _zero_charge(account, quote, outcome, orders, description) + orders
    orders += _credit_order(account, quote, outcome, credit_added, description)
    _post(account, outcome, orders, description, credit_added=credit_added, refund=outcome.refund - failed_refunds)
    audit(actor=actor, account=account, action=Event(f"subscription.{outcome.case.value}"), at=outcome.at,
          quote=quote.id, net=outcome.net, orders=[o.order_id for o in orders],
          old=old, new={"cycle": outcome.state.cycle.value, "cameras": dict(outcome.state.cameras)})
    transaction.on_commit(lambda: _erase(outcome))
    _settle_holds(account, outcome)
    if outcome.period is not None:  # a paid line or a trial: no trial for these any more
        trials.mark_state_used(account, outcome.state.cameras, at=outcome.at, trial=outcome.case is Case.TRIAL)
    for order in orders:
        record_receipt(order)
    # Only here, after the change is applied: a declined change (_decline) changed nothing.
    record_plan_changed(account, quote=quote, outcome=outcome, old=old, orders=orders, erasures=erasures)
    return orders, erasures


def _decline(payment: payments.Payment, charge: Order, result: GatewayResult, actor) -> Declined:
    payments.release(payment, changed=False)
    for order in payment.orders:  # anything after the declined charge was never attempted
        payments.settle(order, result)
    audit(actor=actor, account=charge.account, action=Event.CHANGE_PAYMENT_FAILED, at=charge.created_at,
          order_id=charge.order_id, decline_code=result.decline_code)
    return Declined(charge, result.decline_code, result.message)


def _post(account, outcome: Outcome, orders: list[Order], description: str, *, credit_added: int, refund: int) -> None:
    added = sum(line.amount for line in outcome.lines if line.kind is LineKind.CHARGE)
    credits = sum(line.amount for line in outcome.lines if line.kind is LineKind.CREDIT)
    entries = change_entries(account, added=added, credits=credits, credit_used=outcome.credit_used,
                             credit_added=credit_added, card=outcome.charge_now, refund=refund)
    if outcome.voids_unpaid_period:
        unpaid = selectors.receivable_balance(account)
        entries += [(Book.RECEIVABLE, account, -unpaid), (Book.SALES, None, unpaid)]
    post(at=outcome.at, currency=outcome.currency, memo=description, order=orders[0] if orders else None, entries=entries)


def _subscription_fields_after(outcome: Outcome) -> dict:
    if outcome.period is None:  # cancelled (or never paid): every camera on free
        # The next paid line starts a new web subscription (an import's channel ends here).
        return {"status": Status.NONE, "anchor": None, "period_start": None, "period_end": None,
                "scheduled_cycle": "", "scheduled_stop": False, "failed_attempts": 0, "next_retry_at": None,
                "channel": Channel.WEB, "store": ""}
    fields = {
        "cycle": outcome.state.cycle.value,
        "anchor": outcome.anchor,
        "period_start": outcome.period.start,
        "period_end": outcome.period.end,
        "scheduled_cycle": outcome.scheduled_cycle.value if outcome.scheduled_cycle else "",
        "scheduled_stop": outcome.scheduled_stop,  # kept through a change, replaced by a switch
    }
    if outcome.case in (Case.SUBSCRIBE, Case.TO_ANNUAL):
        fields.update(status=Status.ACTIVE, failed_attempts=0, next_retry_at=None)
    elif outcome.case is Case.TRIAL:
        fields.update(status=Status.TRIALING, failed_attempts=0, next_retry_at=None)
    return fields


def _apply_lines(subscription, outcome: Outcome) -> None:
    at = outcome.at
    current = {selectors.held_line(line).key: line for line in selectors.active_lines(subscription)}
    for priced in outcome.lines:
        if priced.kind is LineKind.CREDIT:
            line = current.pop(priced.key)
            SubscriptionLine.objects.filter(pk=line.pk).update(credited=F("credited") + priced.amount, ended_at=at)
    kept = {held.key for held in outcome.new_lines}
    for key, line in current.items():
        if key not in kept:  # e.g. a past_due cancel: the unpaid lines end, nothing credited
            SubscriptionLine.objects.filter(pk=line.pk).update(ended_at=at)
    period_start = outcome.period.start if outcome.period else at
    SubscriptionLine.objects.bulk_create(
        SubscriptionLine(subscription=subscription, plan=held.key.plan, camera_key=held.key.camera or "",
                         cycle=held.key.cycle.value, unit_price=held.unit_price, paid=held.paid,
                         credited=held.credited, period_start=period_start, started_at=at)
        for held in outcome.new_lines if held.key not in current
    )


def _zero_charge(account, quote, outcome: Outcome, orders: list[Order], description: str) -> list[Order]:
    """A paid change that credit covered (balance or removed lines): a charge of 0 to the card,
    so the change has its Order ID and its receipt like any other."""
    if any(o.kind == OrderKind.CHARGE for o in orders) or not outcome.lines:
        return []
    if outcome.trial_end is not None:  # a trial, or a change in one: nothing is charged, no order
        return []
    if outcome.case is Case.CANCEL or outcome.net < 0:
        return []
    return [Order.objects.create(
        order_id=new_order_id(), account=account, kind=OrderKind.CHARGE, status=OrderStatus.SUCCEEDED,
        purpose=Purpose.CHANGE, amount=0, credit_used=outcome.credit_used, currency=outcome.currency,
        description=description, created_at=outcome.at, settled_at=clock.real_now(),
        period_start=outcome.period.start if outcome.period else None, quote=quote,
    )]


def _credit_order(account, quote, outcome: Outcome, credit_added: int, description: str) -> list[Order]:
    if credit_added <= 0:
        return []
    return [Order.objects.create(
        order_id=new_order_id(), account=account, kind=OrderKind.CREDIT, status=OrderStatus.SUCCEEDED,
        purpose=Purpose.CHANGE, amount=credit_added, currency=outcome.currency,
        description=f"Credit: {description}"[:200], created_at=outcome.at,
        settled_at=clock.real_now(), quote=quote,
    )]


def starts_paid_period(outcome: Outcome) -> bool:
    """A paid period starts with this change: a new subscription from no paid line, charged
    (to the card or from credit; its step 3 runs only once the charge succeeded). Only
    such a change ends a hold early (POLICY.md section 6). A trial is no paid period (and
    never follows a hold: an account with one has had a paid line): Case.TRIAL is not here."""
    return outcome.case is Case.SUBSCRIBE and outcome.period is not None


def _settle_holds(account, outcome: Outcome) -> None:
    """In the change's transaction, so that a rolled-back step 3 restores nothing: held
    clips inside the new windows come back, the rest are tombstoned; their files are
    erased after the commit (the sweep finishes them if that fails)."""
    if not starts_paid_period(outcome):
        return
    _, tombstoned = holds.settle_holds(account, windows=holds.new_windows(dict(outcome.state.cameras), outcome.at),
                                       at=outcome.at)
    if tombstoned:
        transaction.on_commit(lambda: _finish_released(account))


def _finish_released(account) -> None:
    try:
        holds.finish_released(account)
    except Exception:  # the sweep finishes tombstoned clips
        log.exception("erasure of the held clips of %s failed; the retention sweep will finish it", account.pk)


def _erase(outcome: Outcome) -> None:
    """After commit: clips outside the new windows are erased with the quote's cut-offs."""
    for shrink in outcome.shrinks:
        try:
            erasure.erase_clips_before(shrink.camera, shrink.cutoff)
        except Exception:  # the sweep finishes what a failure here leaves behind
            log.exception("erasure for camera %s failed; the retention sweep will finish it", shrink.camera)
