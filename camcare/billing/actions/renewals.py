"""Renewals and retries of unpaid bills (POLICY.md section 5), one bill at a time, and the
billing run (batch.py bills a batch at a time with the same rules, bills.py).

Exactly once per (subscription, period): a renewal claims the subscription for the period
that ends at `period_end` (the claim's guard), then reads the plans and the credit it bills
under that claim, so a change committed before the claim is billed and a change after it
is priced in the new period (its quote's version no longer matches).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings

from camcare import clock
from camcare.billing import selectors
from camcare.billing.actions import batch, bill_writer, bills, payments
from camcare.billing.actions.bills import (  # noqa: F401 (the rules' names, as callers know them)
    MAX_ATTEMPTS,
    MIN_SPACING,
    RETRY_AFTER,
    next_attempt_at,
    next_period_terms,
)
from camcare.billing.actions.test_clocks import set_test_clock
from camcare.billing.gateway import GatewayResult
from camcare.billing.models import Channel, Order, Subscription
from camcare.domain.pricing import Status


def _start(payment: payments.Payment, start: Callable, **options) -> None:
    """Step 1 of one bill: its inputs read under the claim, its pending order written."""
    subscription = payment.subscription
    start(payment, bills.load_inputs([subscription])[subscription.pk], **options)
    for order in payment.orders:
        order.save(force_insert=True)


def _apply(payment: payments.Payment, results: dict[int, GatewayResult], settle, *, at: datetime) -> Order:
    """Step 3 of one bill, in payments.finish's transaction (ClaimLost rolls it back)."""
    settlement = settle(payment, bills.result_of(payment, results), at=at)
    bill_writer.write([settlement])
    return settlement.order


# ---------------------------------------------------------------- one bill


def renew(*, subscription_id: int, at: datetime) -> Order | None:
    """Bill the period that starts at the subscription's period end, if `at` reached it.
    Returns the renewal order, or None when there is nothing to bill or another run has it."""
    subscription = Subscription.objects.get(pk=subscription_id)
    if (subscription.status not in bills.RENEWS or subscription.channel == Channel.APP_STORE
            or subscription.period_end > at):
        return None
    claimed, order = payments.run(
        subscription_id, guard={"status": subscription.status, "period_end": subscription.period_end},
        prepare=lambda payment: _start(payment, bills.start_renewal),
        apply=lambda payment, results: _apply(payment, results, bills.settle_renewal, at=at),
    )
    return order if claimed else None


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
        prepare=lambda payment: _start(payment, bills.start_retry, by_owner=by_owner),
        apply=lambda payment, results: _apply(payment, results, bills.settle_retry, at=at),
    )
    return order if claimed else None


def settle_claimed_bill(payment: payments.Payment) -> None:
    """The reconciler's step 3 for a renewal or retry a crash interrupted after step 1: under
    the claim nothing moved, so what it bills is read again exactly as step 1 read it. A
    charge the gateway never saw is made now with its own key (the bill fell due; a billing
    run killed before its gateway calls is no failed attempt of the owner's card)."""
    payment.context = bills.resume_context(payment)
    method = payment.context.inputs.method
    payment.token = method.token if method else None
    results = payments.replay(payment, charge_unseen=True)
    at = clock.now(payment.subscription.account)
    settle = bills.settle_retry if payment.subscription.status == Status.PAST_DUE else bills.settle_renewal
    payments.finish(payment, results, lambda p, r: _apply(p, r, settle, at=at))


# ---------------------------------------------------------------- the billing run


def run_due(*, account, until: datetime, on_test_clock: bool = False,
            before_each: Callable[[datetime], object] | None = None) -> int:
    """Bill, in time order, what fell due for `account` up to `until` (POLICY.md section 5):
    every renewal period that is paid, each as its own order, and one attempt of a failed
    bill (the next is at least a day later), the attempts made at `until`. `on_test_clock`:
    the account's test clock passes through each due instant on its way to `until`, and
    each renewal and attempt is made at its own instant, `before_each(instant)` called just
    before it (the test clock's reminders of that bill). Returns how many ran."""
    on_test_clock = on_test_clock and settings.TEST_CLOCKS and account.test_clock_at is not None
    ran = 0
    for _ in range(10_000):  # a bound: years of monthly periods, never an endless loop
        subscription = selectors.subscription_or_none(account)
        if subscription is None or subscription.channel == Channel.APP_STORE:
            break
        if subscription.status in bills.RENEWS and subscription.period_end <= until:
            when, step = subscription.period_end, renew
        elif subscription.status == Status.PAST_DUE and subscription.next_retry_at and subscription.next_retry_at <= until:
            when, step = subscription.next_retry_at, retry_unpaid_bill
        else:
            break
        if on_test_clock:
            if before_each is not None:
                before_each(when)
            set_test_clock(account, when)
        if step(subscription_id=subscription.pk, at=when if on_test_clock else until) is None:
            break  # claimed by a run in flight (or a crash the reconciler settles): not ours
        ran += 1
    return ran


def run_billing(*, at: datetime, limit: int | None = None, batch_size: int = batch.BATCH_SIZE,
                threads: int | None = None) -> int:
    """The billing job, in this process: everything due up to `at` for every subscription,
    a batch at a time (batch.py; idempotent: what another run or a change has claimed is
    left to it). Returns how many bills ran. tasks.fan_out runs the same batches on
    `db_worker` processes."""
    return batch.run_billing(at=at, limit=limit, batch_size=batch_size, threads=threads)
