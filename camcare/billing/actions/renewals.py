"""Renewals and retries of unpaid bills (POLICY.md section 5), and the billing run.

Exactly once per (subscription, period): a renewal claims the subscription for the period
that ends at `period_end` (the claim's guard), then reads the plans and the credit it bills
under that claim, so a change committed before the claim is billed and a change after it
is priced in the new period (its quote's version no longer matches).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.billing import selectors
from camcare.billing.actions import payments
from camcare.billing.actions.test_clocks import set_test_clock
from camcare.billing.emails import record_receipt
from camcare.billing.gateway import GatewayResult
from camcare.billing.ledger import change_entries, post
from camcare.billing.models import (
    Book,
    Channel,
    Order,
    OrderKind,
    Purpose,
    Subscription,
    SubscriptionLine,
)
from camcare.cameras import erasure
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.domain.catalog import FREE
from camcare.domain.periods import Cycle, Period, iso_z, period_at, window_start
from camcare.domain.pricing import PlanState, Status, lines_of, renewal_bill

# POLICY.md section 5: a bill has at most four attempts, at the period start and then these
# offsets after it; an attempt is never sooner than MIN_SPACING after the previous one, so a
# late run makes one attempt of a failed bill, never several in a row.
RETRY_AFTER = (timedelta(days=1), timedelta(days=3), timedelta(days=7))
MAX_ATTEMPTS = 1 + len(RETRY_AFTER)
MIN_SPACING = timedelta(days=1)


def next_period_terms(subscription) -> tuple[Cycle, datetime, Period, dict]:
    """(cycle, anchor, period, {line: price}) of the period that starts at the period end:
    a scheduled switch applies first and re-anchors there; prices are the catalog's now."""
    start = subscription.period_end
    cycle = Cycle(subscription.scheduled_cycle or subscription.cycle)
    anchor = start if subscription.scheduled_cycle else subscription.anchor
    prices = lines_of(PlanState(cycle, selectors.current_plans(subscription.account)), get_catalog())
    return cycle, anchor, period_at(anchor, cycle, start), prices


def _bill_order(payment: payments.Payment, *, amount: int, credit_used: int, period_start: datetime,
                attempt: str, description: str) -> Order:
    """The pending charge of a renewal or retry: the card part, with the credit used beside it."""
    subscription = payment.subscription
    method = selectors.payment_method_of(subscription.account)
    if amount and method is not None:
        payment.token = method.token
    return payments.pending_order(
        payment, kind=OrderKind.CHARGE, purpose=Purpose.RENEWAL, amount=amount, credit_used=credit_used,
        description=description, created_at=clock.now(subscription.account),
        period_start=period_start,
        gateway_key=f"renewal:{subscription.pk}:{iso_z(period_start)}:{attempt}" if amount else None,
        card_brand=method.brand if method else "", card_last4=method.last4 if method else "",
    )


# ---------------------------------------------------------------- renewal


def renew(*, subscription_id: int, at: datetime) -> Order | None:
    """Bill the period that starts at the subscription's period end, if `at` reached it.
    Returns the renewal order, or None when there is nothing to bill or another run has it."""
    subscription = Subscription.objects.get(pk=subscription_id)
    if subscription.status != Status.ACTIVE or subscription.channel == Channel.APP_STORE or subscription.period_end > at:
        return None
    claimed, order = payments.run(
        subscription_id, guard={"status": Status.ACTIVE, "period_end": subscription.period_end},
        prepare=_prepare_renewal, apply=lambda payment, results: _apply_renewal(payment, results, at=at),
    )
    return order if claimed else None


def _prepare_renewal(payment: payments.Payment) -> None:
    subscription = payment.subscription
    terms = next_period_terms(subscription)
    cycle, _, period, prices = terms
    credit_used, card = renewal_bill(sum(prices.values()), selectors.credit_balance(subscription.account))
    _bill_order(payment, amount=card, credit_used=credit_used, period_start=period.start, attempt="1",
                description=f"Renewal {iso_z(period.start)[:10]} to {iso_z(period.end)[:10]} ({cycle.value})")
    payment.context = terms


def _apply_renewal(payment: payments.Payment, results: dict[int, GatewayResult], *, at: datetime) -> Order:
    """Step 3 of a renewal; `at` is when the attempt was made (the spacing of retries counts
    from it), the period's start is when the bill is dated."""
    subscription = payment.subscription
    account = subscription.account
    cycle, anchor, period, prices = payment.context or next_period_terms(subscription)
    order = payment.orders[0]
    result = results.get(order.pk, payments.ABANDONED)
    paid = result.succeeded
    fields = {"cycle": cycle.value, "anchor": anchor, "period_start": period.start, "period_end": period.end,
              "scheduled_cycle": ""}
    if paid:
        fields.update(status=Status.ACTIVE, failed_attempts=0, next_retry_at=None)
    else:
        fields.update(status=Status.PAST_DUE, failed_attempts=1, next_retry_at=next_attempt_at(period.start, 1, at))
    payments.release(payment, **fields)
    SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=True).update(ended_at=period.start)
    SubscriptionLine.objects.bulk_create(
        SubscriptionLine(subscription=subscription, plan=key.plan, camera_key=key.camera or "", cycle=cycle.value,
                         unit_price=price, paid=price if paid else 0, period_start=period.start, started_at=period.start)
        for key, price in prices.items()
    )
    price = sum(prices.values())
    if not paid:
        order.credit_used = 0  # all or nothing: an unpaid renewal uses no credit either
        order.save(update_fields=["credit_used"])
    payments.settle(order, result)
    if paid:
        entries = change_entries(account, added=price, credits=0, credit_used=order.credit_used, credit_added=0,
                                 card=order.amount, refund=0)
    else:
        entries = [(Book.RECEIVABLE, account, price), (Book.SALES, None, -price)]  # the bill is owed
    post(at=period.start, currency=subscription.currency, memo=order.description, order=order, entries=entries)
    audit(actor=None, account=account, action=Event.RENEWED if paid else Event.RENEWAL_FAILED,
          at=period.start, order_id=order.order_id, amount=price)
    record_receipt(order)
    return order


# ---------------------------------------------------------------- retries of an unpaid bill


def next_attempt_at(period_start: datetime, attempts: int, last_attempt: datetime) -> datetime | None:
    """When the next attempt of a bill falls due after `attempts` failed ones, the last made
    at `last_attempt`; None when none is left (the subscription lapses)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return max(period_start + RETRY_AFTER[attempts - 1], last_attempt + MIN_SPACING)


def retry_unpaid_bill(*, subscription_id: int, at: datetime, by_owner: bool = False) -> Order | None:
    """Charge the unpaid bill of a past_due subscription again: a scheduled retry, or, with
    `by_owner`, the attempt made at once when the owner saves a card, which neither counts
    towards the four nor moves the next scheduled one. After the last scheduled failure
    every camera moves to free."""
    subscription = Subscription.objects.get(pk=subscription_id)
    if subscription.status != Status.PAST_DUE:
        return None
    claimed, order = payments.run(
        subscription_id, guard={"status": Status.PAST_DUE, "failed_attempts": subscription.failed_attempts},
        prepare=lambda payment: _prepare_retry(payment, by_owner=by_owner),
        apply=lambda payment, results: _apply_retry(payment, results, at=at),
    )
    return order if claimed else None


def _prepare_retry(payment: payments.Payment, *, by_owner: bool) -> None:
    subscription = payment.subscription
    due = selectors.receivable_balance(subscription.account)
    credit_used, card = renewal_bill(due, selectors.credit_balance(subscription.account))
    method = selectors.payment_method_of(subscription.account)
    # The owner's attempt is keyed by the card just saved (a new id at every save), so
    # saving the same form twice is one attempt, and a scheduled retry never collides.
    attempt = f"card-{method.id}" if by_owner and method else str(subscription.failed_attempts + 1)
    label = "with the card just saved" if by_owner else f"attempt {subscription.failed_attempts + 1}"
    _bill_order(payment, amount=card, credit_used=credit_used, period_start=subscription.period_start,
                attempt=attempt,
                description=f"Payment of the unpaid bill of {iso_z(subscription.period_start)[:10]} ({label})")
    payment.context = (due, by_owner)


def _apply_retry(payment: payments.Payment, results: dict[int, GatewayResult], *, at: datetime) -> Order:
    subscription = payment.subscription
    account = subscription.account
    due, by_owner = payment.context or (selectors.receivable_balance(account), "card-" in payment.orders[0].gateway_key)
    order = payment.orders[0]
    result = results.get(order.pk, payments.ABANDONED)
    if result.succeeded:
        payments.release(payment, status=Status.ACTIVE, failed_attempts=0, next_retry_at=None)
        payments.settle(order, result)
        SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=True).update(paid=F("unit_price"))
        post(at=at, currency=subscription.currency, memo=order.description, order=order, entries=[
            (Book.RECEIVABLE, account, -due),
            (Book.CUSTOMER_CREDIT, account, order.credit_used),
            (Book.GATEWAY, None, order.amount),
        ])
        audit(actor=None, account=account, action=Event.UNPAID_BILL_PAID, at=at, order_id=order.order_id)
        record_receipt(order)
        return order
    attempts = subscription.failed_attempts + (0 if by_owner else 1)
    retry_at = subscription.next_retry_at if by_owner else next_attempt_at(subscription.period_start, attempts, at)
    if retry_at is None:
        _lapse_to_free(payment, order, due=due, at=at)
    elif by_owner:  # the owner's own attempt: the schedule of the four stays as it was
        payments.release(payment, changed=False)
    else:
        payments.release(payment, failed_attempts=attempts, next_retry_at=retry_at)
    order.credit_used = 0  # all or nothing: a failed attempt uses no credit either
    order.save(update_fields=["credit_used"])
    payments.settle(order, result)
    if retry_at is not None:
        audit(actor=None, account=account, action=Event.RETRY_FAILED, at=at, order_id=order.order_id,
              attempts=attempts, by_owner=by_owner)
    return order


def _lapse_to_free(payment: payments.Payment, order: Order, *, due: int, at: datetime) -> None:
    """The last retry failed: every camera to free (with erasure) and the unpaid period voided."""
    subscription = payment.subscription
    account = subscription.account
    catalog = get_catalog()
    old = selectors.current_plans(account)
    payments.release(payment, status=Status.NONE, anchor=None, period_start=None, period_end=None,
                     scheduled_cycle="", failed_attempts=0, next_retry_at=None)
    SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=True).update(ended_at=at)
    Camera.objects.filter(account=account).exclude(plan=FREE).update(plan=FREE)
    post(at=at, currency=subscription.currency, memo="Unpaid period voided after the last failed retry", order=order,
         entries=[(Book.RECEIVABLE, account, -due), (Book.SALES, None, due)])
    audit(actor=None, account=account, action=Event.LAPSED_TO_FREE, at=at, order_id=order.order_id,
          old={"cameras": old}, new={"cameras": dict.fromkeys(old, FREE)})
    cutoff = window_start(at, catalog[FREE].history_days)
    shrinking = [camera for camera, plan in old.items() if catalog[plan].history_days > catalog[FREE].history_days]

    def erase_all() -> None:
        for camera in shrinking:
            erasure.erase_clips_before(camera, cutoff)

    transaction.on_commit(erase_all)


def settle_claimed_bill(payment: payments.Payment) -> None:
    """The reconciler's step 3 for a renewal or retry a crash interrupted after step 1: under
    the claim nothing moved, so what it bills is read again exactly as step 1 read it."""
    results = payments.replay(payment)
    at = clock.now(payment.subscription.account)
    if payment.subscription.status == Status.PAST_DUE:
        payments.finish(payment, results, lambda p, r: _apply_retry(p, r, at=at))
    else:
        payments.finish(payment, results, lambda p, r: _apply_renewal(p, r, at=at))


# ---------------------------------------------------------------- the billing run


def run_due(*, account, until: datetime, on_test_clock: bool = False) -> int:
    """Bill, in time order, what fell due for `account` up to `until` (POLICY.md section 5):
    every renewal period that is paid, each as its own order, and one attempt of a failed
    bill (the next is at least a day later), the attempts made at `until`. `on_test_clock`:
    the account's test clock passes through each due instant on its way to `until`, and
    each renewal and attempt is made at its own instant. Returns how many ran."""
    on_test_clock = on_test_clock and settings.TEST_CLOCKS and account.test_clock_at is not None
    ran = 0
    for _ in range(10_000):  # a bound: years of monthly periods, never an endless loop
        subscription = selectors.subscription_or_none(account)
        if subscription is None or subscription.channel == Channel.APP_STORE:
            break
        if subscription.status == Status.ACTIVE and subscription.period_end <= until:
            when, step = subscription.period_end, renew
        elif subscription.status == Status.PAST_DUE and subscription.next_retry_at and subscription.next_retry_at <= until:
            when, step = subscription.next_retry_at, retry_unpaid_bill
        else:
            break
        if on_test_clock:
            set_test_clock(account, when)
        if step(subscription_id=subscription.pk, at=when if on_test_clock else until) is None:
            break  # claimed by a run in flight (or a crash the reconciler settles): not ours
        ran += 1
    return ran


def run_billing(*, at: datetime, limit: int | None = None) -> int:
    """The billing job: everything due up to `at` for every subscription (idempotent: what
    another run or a change has claimed is left to it). Returns how many bills ran."""
    ran = 0
    for subscription in selectors.due_subscriptions(at).select_related("account").order_by("period_end")[:limit]:
        ran += run_due(account=subscription.account, until=at)
    return ran
