"""The rules of a bill (POLICY.md section 5): what a renewal, or a retry of an unpaid bill,
charges, and what its outcome changes. They live here once, for both ways a bill runs:
one at a time (renewals.renew / retry_unpaid_bill, from a change, a test clock or the
reconciler) and a batch at a time (batch.py, the billing run). Either way:

  step 1, under the claim: `load_inputs` reads what the bill is decided from, then
     `start_renewal` / `start_retry` make its pending order (not saved: the caller writes
     one, or a batch's in one INSERT);
  step 3: `settle_renewal` / `settle_retry` turn the gateway's answer into a Settlement,
     which bill_writer.write applies for one bill or a batch alike.

A scheduled stop (POLICY.md section 13) is the renewal's other outcome: at the period end
nothing is billed (step 1 writes no order), and step 3 moves every camera to free, ends the
lines and erases the clips outside the free window (`settle_renewal` -> `_stop`).

A free trial's end (section 12) is billed as a renewal: its period end is the anchor, and
the first period is charged there, credit first. With no card for what the credit leaves,
the trial ends unpaid instead: no order, every camera to free and the clips outside the
free window held (`_trial_ended_unpaid`). Step 1 writes no order for either, so a crash
before step 3 leaves a claim with nothing pending, which the reconciler releases and the
next run carries out.

Renewals are exactly once per (subscription, period): a renewal bills the period that
starts at the claimed subscription's period end, its gateway key names that period, and
its step 3 moves the period on under the same claim.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Sum

from camcare import clock
from camcare.audit.events import Event
from camcare.billing import selectors
from camcare.billing.actions import payments
from camcare.billing.actions.bill_writer import Settlement
from camcare.billing.actions.rows import among
from camcare.billing.emails import (
    record_lapsed,
    record_payment_failed,
    record_receipt,
    record_stopped,
    record_trial_ended,
)
from camcare.billing.gateway import GatewayResult
from camcare.billing.ledger import change_entries
from camcare.billing.models import (
    Book,
    Channel,
    LedgerEntry,
    Order,
    OrderKind,
    PaymentMethod,
    Purpose,
)
from camcare.cameras import holds
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.domain.catalog import FREE
from camcare.domain.periods import Cycle, Period, iso_z, period_at, window_start
from camcare.domain.pricing import PlanState, Status, lines_of, renewal_bill

# A bill has at most four attempts, at the period start and then these offsets after it;
# an attempt is never sooner than MIN_SPACING after the previous one, so a late run makes
# one attempt of a failed bill, never several in a row.
RETRY_AFTER = (timedelta(days=1), timedelta(days=3), timedelta(days=7))
MAX_ATTEMPTS = 1 + len(RETRY_AFTER)
MIN_SPACING = timedelta(days=1)
# The statuses whose period end bills the next period (a trial's end bills the first).
RENEWS = (Status.ACTIVE, Status.TRIALING)
VOID_MEMO = "Unpaid period voided after the last failed retry"


@dataclass(frozen=True)
class Card:
    """The saved card's part in a bill (read as values: a batch reads hundreds)."""

    id: str
    token: str
    brand: str
    last4: str


@dataclass(frozen=True)
class BillInputs:
    """What one account's bill is decided from, read under the claim (nothing else changes
    them while it holds: every other write to money waits for `claimed_by = ""`)."""

    plans: dict[str, str]  # camera id -> plan code
    credit: int  # the credit balance, minor units >= 0
    receivable: int  # the unpaid bill of a past_due subscription, minor units >= 0
    method: Card | None  # the saved card


@dataclass(frozen=True)
class RenewalContext:
    """What step 1 of a renewal decided, for its step 3."""

    terms: tuple[Cycle, datetime, Period, dict]  # next_period_terms
    inputs: BillInputs


@dataclass(frozen=True)
class StopContext:
    """Step 1 of a renewal found the stop scheduled: nothing to bill, the stop at step 3."""

    inputs: BillInputs


@dataclass(frozen=True)
class TrialUnpaidContext:
    """Step 1 at a trial's end found no card for what the credit leaves of the first bill:
    the trial ends unpaid at step 3, nothing billed."""

    inputs: BillInputs


@dataclass(frozen=True)
class RetryContext:
    """What step 1 of a retry decided, for its step 3."""

    due: int  # minor units of the unpaid bill
    by_owner: bool  # the owner's attempt when saving a card: outside the four
    inputs: BillInputs


def load_inputs(subscriptions) -> dict[int, BillInputs]:
    """{subscription id: BillInputs} of many subscriptions in four queries (the plans, the
    two ledger balances, the cards): the selectors' definitions, for a batch at once."""
    account_ids = among(Camera, "account", [subscription.account_id for subscription in subscriptions])
    plans: dict[object, dict[str, str]] = defaultdict(dict)
    for account_id, camera_id, plan in Camera.objects.filter(account_id__in=account_ids).values_list(
            "account_id", "id", "plan"):
        plans[account_id][camera_id] = plan
    books: dict[tuple[object, str], int] = defaultdict(int)
    totals = (LedgerEntry.objects.filter(account_id__in=account_ids, book__in=[Book.CUSTOMER_CREDIT, Book.RECEIVABLE])
              .order_by().values_list("account_id", "book").annotate(total=Sum("amount")))
    for account_id, book, total in totals:
        books[account_id, book] = total or 0
    methods = {account_id: Card(pk, token, brand, last4) for pk, account_id, token, brand, last4 in
               PaymentMethod.objects.filter(account_id__in=account_ids).values_list(
                   "pk", "account_id", "token", "brand", "last4")}
    return {
        subscription.pk: BillInputs(
            plans=plans[subscription.account_id],
            credit=-books[subscription.account_id, Book.CUSTOMER_CREDIT],
            receivable=books[subscription.account_id, Book.RECEIVABLE],
            method=methods.get(subscription.account_id),
        )
        for subscription in subscriptions
    }


def next_period_terms(subscription, plans: dict[str, str] | None = None, catalog=None) -> tuple[Cycle, datetime, Period, dict]:
    """(cycle, anchor, period, {line: price}) of the period that starts at the period end:
    a scheduled switch applies first and re-anchors there; prices are the catalog's now.
    `plans` = the account's cameras' plans, read now when not given; `catalog` the one in
    force, read now when not given (a batch reads it once)."""
    start = subscription.period_end
    cycle = Cycle(subscription.scheduled_cycle or subscription.cycle)
    anchor = start if subscription.scheduled_cycle else subscription.anchor
    if plans is None:
        plans = selectors.current_plans(subscription.account)
    prices = lines_of(PlanState(cycle, plans), catalog or get_catalog())
    return cycle, anchor, period_at(anchor, cycle, start), prices


def next_attempt_at(period_start: datetime, attempts: int, last_attempt: datetime) -> datetime | None:
    """When the next attempt of a bill falls due after `attempts` failed ones, the last made
    at `last_attempt`; None when none is left (the subscription lapses)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return max(period_start + RETRY_AFTER[attempts - 1], last_attempt + MIN_SPACING)


def _bill_order(payment: payments.Payment, method: Card | None, *, amount: int, credit_used: int,
                period_start: datetime, attempt: str, description: str) -> Order:
    """The pending charge of a renewal or retry: the card part, with the credit used beside
    it. Its gateway key names the subscription, the period and the attempt (section 10)."""
    subscription = payment.subscription
    if amount and method is not None:
        payment.token = method.token
    return payments.new_order(
        payment, kind=OrderKind.CHARGE, purpose=Purpose.RENEWAL, amount=amount, credit_used=credit_used,
        description=description, created_at=clock.now(subscription.account), period_start=period_start,
        gateway_key=f"renewal:{subscription.pk}:{iso_z(period_start)}:{attempt}" if amount else None,
        card_brand=method.brand if method else "", card_last4=method.last4 if method else "",
    )


# ---------------------------------------------------------------- renewal


def renewal_context(subscription, inputs: BillInputs, catalog=None
                    ) -> RenewalContext | StopContext | TrialUnpaidContext:
    """What the period end of `subscription` does: the stop when scheduled; the end of an
    unpaid trial when no card pays what the credit leaves; else the next period billed."""
    if subscription.scheduled_stop:
        return StopContext(inputs)
    terms = next_period_terms(subscription, inputs.plans, catalog)
    if subscription.status == Status.TRIALING and inputs.method is None:
        _, card = renewal_bill(sum(terms[3].values()), inputs.credit)
        if card > 0:
            return TrialUnpaidContext(inputs)
    return RenewalContext(terms, inputs)


def start_renewal(payment: payments.Payment, inputs: BillInputs, *, catalog=None) -> Order | None:
    """Step 1 of a renewal: the next period at the state's price, the credit first; with the
    stop scheduled or a trial ending unpaid, no order at all (nothing is billed)."""
    context = renewal_context(payment.subscription, inputs, catalog)
    payment.context = context
    if not isinstance(context, RenewalContext):
        return None
    cycle, _, period, prices = context.terms
    credit_used, card = renewal_bill(sum(prices.values()), inputs.credit)
    what = "First period after the free trial" if payment.subscription.status == Status.TRIALING else "Renewal"
    return _bill_order(payment, inputs.method, amount=card, credit_used=credit_used, period_start=period.start,
                       attempt="1",
                       description=f"{what} {iso_z(period.start)[:10]} to {iso_z(period.end)[:10]} ({cycle.value})")


def settle_renewal(payment: payments.Payment, result: GatewayResult, *, at: datetime) -> Settlement:
    """Step 3 of a renewal; `at` is when the attempt was made (the spacing of retries counts
    from it), the period's start is when the bill is dated. Paid: the new period with its
    lines paid. Not paid: the new period all the same, its lines unpaid, the bill owed
    (receivable) and past_due; all or nothing, so no credit is used either."""
    subscription = payment.subscription
    account = subscription.account
    context = payment.context or resume_context(payment)
    if isinstance(context, StopContext):
        return _stop(payment, context)
    if isinstance(context, TrialUnpaidContext):
        return _trial_ended_unpaid(payment, context)
    cycle, anchor, period, prices = context.terms
    order = payment.orders[0]
    paid = result.succeeded
    fields = {"cycle": cycle.value, "anchor": anchor, "period_start": period.start, "period_end": period.end,
              "scheduled_cycle": "", "scheduled_stop": False}
    if paid:
        fields.update(status=Status.ACTIVE, failed_attempts=0, next_retry_at=None)
    else:
        fields.update(status=Status.PAST_DUE, failed_attempts=1, next_retry_at=next_attempt_at(period.start, 1, at))
        order.credit_used = 0
    payments.mark_settled(order, result)
    price = sum(prices.values())
    if paid:
        entries = change_entries(account, added=price, credits=0, credit_used=order.credit_used, credit_added=0,
                                 card=order.amount, refund=0)
    else:
        entries = [(Book.RECEIVABLE, account, price), (Book.SALES, None, -price)]  # the bill is owed
    settlement = Settlement(
        payment, order, fields, end_lines_at=period.start,
        new_lines=[{"plan": key.plan, "camera_key": key.camera or "", "cycle": cycle.value, "unit_price": line_price,
                    "paid": line_price if paid else 0, "period_start": period.start, "started_at": period.start}
                   for key, line_price in prices.items()],
        postings=[(period.start, order.description, entries)],
        audits=[(Event.RENEWED if paid else Event.RENEWAL_FAILED, period.start,
                 {"order_id": order.order_id, "amount": price})],
    )
    if paid:
        settlement.notices.append(lambda: record_receipt(order))
    else:
        settlement.notices.append(lambda: record_payment_failed(order, next_attempt_at=fields["next_retry_at"]))
    return settlement


def _stop(payment: payments.Payment, context: StopContext) -> Settlement:
    """The scheduled stop at the period end: nothing billed, every camera to free, the lines
    ended, and the clips outside the free window erased, not held (section 6: the owner
    chose this, and the notice before it warned), with the cut-off at the stop's instant."""
    subscription = payment.subscription
    at = subscription.period_end
    old = context.inputs.plans
    days = get_catalog().history_days
    free_days = days[FREE]
    cutoff = window_start(at, free_days)
    erase = [(camera, cutoff) for camera, plan in old.items() if days.get(plan, free_days) > free_days]
    fields = {"status": Status.NONE, "anchor": None, "period_start": None, "period_end": None,
              "scheduled_cycle": "", "scheduled_stop": False, "failed_attempts": 0, "next_retry_at": None,
              "channel": Channel.WEB, "store": ""}
    account = subscription.account
    return Settlement(
        payment, None, fields, end_lines_at=at, to_free=True, erase=erase,
        audits=[(Event.STOPPED, at, {"old": {"cameras": old}, "new": {"cameras": dict.fromkeys(old, FREE)},
                                     "erased_before": iso_z(cutoff), "cameras_erased": [c for c, _ in erase]})],
        notices=[lambda: record_stopped(account, subscription_id=subscription.pk, at=at, old=old)],
    )


def _trial_ended_unpaid(payment: payments.Payment, context: TrialUnpaidContext) -> Settlement:
    """A trial ended with no card to pay the first bill (section 12): nothing billed or
    owed, every camera to free, the lines ended and the clips outside the free window held
    for 14 days, as at a lapse (section 6): a new subscription within the hold brings back
    what its plan covers. Saving a card later charges nothing."""
    account = payment.subscription.account
    at = payment.subscription.period_end
    old = context.inputs.plans
    moved = {camera: plan for camera, plan in old.items() if plan != FREE}
    fields = {"status": Status.NONE, "anchor": None, "period_start": None, "period_end": None,
              "scheduled_cycle": "", "scheduled_stop": False, "failed_attempts": 0, "next_retry_at": None}
    held_until = at + timedelta(days=holds.HOLD_DAYS)
    return Settlement(
        payment, None, fields, end_lines_at=at, to_free=True, hold=(old, at),
        audits=[(Event.TRIAL_ENDED_UNPAID, at, {"old": {"cameras": old}, "new": {"cameras": dict.fromkeys(old, FREE)},
                                                 "held_until": iso_z(held_until)})],
        notices=[lambda: record_trial_ended(account, at=at, moved=moved, held_until=held_until)],
    )


def result_of(payment: payments.Payment, results: dict[int, GatewayResult]) -> GatewayResult:
    """The gateway's answer to a bill's order; a stop has none (nothing was called)."""
    if not payment.orders:
        return payments.NOT_CALLED
    return results.get(payment.orders[0].pk, payments.ABANDONED)


# ---------------------------------------------------------------- retries of an unpaid bill


def start_retry(payment: payments.Payment, inputs: BillInputs, *, by_owner: bool = False, catalog=None) -> Order:
    """Step 1 of a retry: the unpaid bill again, the credit first. The owner's attempt (when
    saving a card) is keyed by the card just saved (a new id at every save), so saving the
    same form twice is one attempt, and a scheduled retry never collides with it."""
    subscription = payment.subscription
    due = inputs.receivable
    credit_used, card = renewal_bill(due, inputs.credit)
    method = inputs.method
    attempt = f"card-{method.id}" if by_owner and method else str(subscription.failed_attempts + 1)
    label = "with the card just saved" if by_owner else f"attempt {subscription.failed_attempts + 1}"
    payment.context = RetryContext(due, by_owner, inputs)
    return _bill_order(payment, method, amount=card, credit_used=credit_used, period_start=subscription.period_start,
                       attempt=attempt,
                       description=f"Payment of the unpaid bill of {iso_z(subscription.period_start)[:10]} ({label})")


def settle_retry(payment: payments.Payment, result: GatewayResult, *, at: datetime) -> Settlement:
    """Step 3 of a retry: paid, the period's lines are paid and the receivable cleared; not
    paid, one more failed attempt (the owner's is not counted and moves nothing), and after
    the last one the lapse."""
    subscription = payment.subscription
    account = subscription.account
    context = payment.context or resume_context(payment)
    order = payment.orders[0]
    if result.succeeded:
        payments.mark_settled(order, result)
        settlement = Settlement(
            payment, order, {"status": Status.ACTIVE, "failed_attempts": 0, "next_retry_at": None}, pay_lines=True,
            postings=[(at, order.description, [(Book.RECEIVABLE, account, -context.due),
                                               (Book.CUSTOMER_CREDIT, account, order.credit_used),
                                               (Book.GATEWAY, None, order.amount)])],
            audits=[(Event.UNPAID_BILL_PAID, at, {"order_id": order.order_id})],
        )
        settlement.notices.append(lambda: record_receipt(order))
        return settlement
    by_owner = context.by_owner
    attempts = subscription.failed_attempts + (0 if by_owner else 1)
    retry_at = subscription.next_retry_at if by_owner else next_attempt_at(subscription.period_start, attempts, at)
    order.credit_used = 0  # all or nothing: a failed attempt uses no credit either
    payments.mark_settled(order, result)
    if retry_at is None:
        settlement = _lapse(payment, order, due=context.due, at=at)
    elif by_owner:  # the owner's own attempt: the schedule of the four stays as it was
        settlement = Settlement(payment, order, {}, changed=False)
    else:
        settlement = Settlement(payment, order, {"failed_attempts": attempts, "next_retry_at": retry_at})
    if retry_at is not None:
        settlement.audits.append((Event.RETRY_FAILED, at, {"order_id": order.order_id, "attempts": attempts,
                                                           "by_owner": by_owner}))
    settlement.notices.insert(0, lambda: record_payment_failed(order, next_attempt_at=retry_at))
    return settlement


def _lapse(payment: payments.Payment, order: Order, *, due: int, at: datetime) -> Settlement:
    """The last attempt failed: every camera to free, the unpaid period voided (nothing owed),
    the clips outside the free window held for 14 days, not erased (section 6): the owner
    did not choose this, and a new paid period within the hold brings them back."""
    account = payment.subscription.account
    old = selectors.current_plans(account)  # rare: one query per lapse, read at step 3 as before
    fields = {"status": Status.NONE, "anchor": None, "period_start": None, "period_end": None,
              "scheduled_cycle": "", "scheduled_stop": False, "failed_attempts": 0, "next_retry_at": None}
    moved = {camera: plan for camera, plan in old.items() if plan != FREE}
    held_until = at + timedelta(days=holds.HOLD_DAYS)
    return Settlement(
        payment, order, fields, end_lines_at=at, to_free=True,
        postings=[(at, VOID_MEMO, [(Book.RECEIVABLE, account, -due), (Book.SALES, None, due)])],
        audits=[(Event.LAPSED_TO_FREE, at, {"order_id": order.order_id, "old": {"cameras": old},
                                            "new": {"cameras": dict.fromkeys(old, FREE)}})],
        hold=(old, at),
        notices=[lambda: record_lapsed(account, order=order, at=at, moved=moved, held_until=held_until)],
    )


def resume_context(payment: payments.Payment) -> RenewalContext | RetryContext:
    """The context of a claim a crash left behind (the reconciler): under the claim nothing
    moved, so what it bills is read again exactly as step 1 read it."""
    subscription = payment.subscription
    inputs = load_inputs([subscription])[subscription.pk]
    if subscription.status == Status.PAST_DUE:
        by_owner = "card-" in (payment.orders[0].gateway_key or "")
        return RetryContext(inputs.receivable, by_owner, inputs)
    # A claim with a pending order is a renewal's: a stop or an unpaid trial end writes no
    # order, so the reconciler releases its claim and the next run carries it out.
    return RenewalContext(next_period_terms(subscription, inputs.plans), inputs)
