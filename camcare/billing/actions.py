"""Every write to billing state (POLICY.md; ARCHITECTURE.md "Money and concurrency").

A paid change or renewal is three steps, and no transaction is held across the gateway:
  1. in a short transaction, claim the subscription (conditional UPDATE on `version` and
     `claimed_by`) and write the pending order(s) with deterministic gateway keys;
  2. call the gateway;
  3. in a short transaction, apply the change, post the ledger, settle the orders.
A crash between 2 and 3 leaves the claim and the pending orders; `reconcile_pending`
settles them by asking the gateway about their keys.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from camcare import clock
from camcare.audit.events import audit
from camcare.billing import selectors
from camcare.billing.emails import send_receipt
from camcare.billing.errors import BillingRefusal
from camcare.billing.gateway import GatewayResult, get_gateway
from camcare.billing.ledger import change_entries, post
from camcare.billing.models import (
    Book,
    Order,
    OrderStatus,
    PaymentMethod,
    Quote,
    Subscription,
    SubscriptionLine,
)
from camcare.billing.outcomes import ChangeResult, outcome_from_json, outcome_to_json
from camcare.cameras import erasure
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.domain.catalog import FREE
from camcare.domain.order_ids import new_order_id
from camcare.domain.periods import Cycle, Period, add_months, iso_z, period_at
from camcare.domain.pricing import (
    Case,
    ChangeRefused,
    Outcome,
    PlanState,
    Status,
    lines_of,
    price_change,
    renewal_bill,
    validate_state,
)

log = logging.getLogger("camcare.billing")

QUOTE_TTL = timedelta(minutes=10)  # of the account's clock (POLICY.md section 9)
RETRY_AFTER = (timedelta(days=1), timedelta(days=3), timedelta(days=7))  # from the period start
STALE_CLAIM = timedelta(minutes=10)  # real time after which the reconciler settles a claim

STORE_STEPS = {
    "apple": [
        "On your iPhone or iPad, open Settings and tap your name.",
        "Tap Subscriptions, then camcare.",
        "Tap Cancel Subscription (or choose another plan there).",
    ],
    "google": [
        "Open the Google Play Store app and tap your profile picture.",
        "Tap Payments & subscriptions, then Subscriptions, then camcare.",
        "Tap Cancel subscription (or change the plan there).",
    ],
}
STORE_NAMES = {"apple": "the App Store", "google": "Google Play"}


# ---------------------------------------------------------------- helpers


def _subscription(account) -> Subscription:
    subscription = Subscription.objects.filter(account=account).first()
    if subscription is not None:
        return subscription
    try:
        with transaction.atomic():
            return Subscription.objects.create(account=account, currency=get_catalog().currency)
    except IntegrityError:  # created concurrently
        return Subscription.objects.get(account=account)


def _refuse_if_store(subscription: Subscription) -> None:
    if subscription.channel != "app_store" or subscription.status == Status.NONE:
        return
    store = subscription.store or "apple"
    raise BillingRefusal(
        "managed_in_app_store",
        f"This subscription was bought in the camcare app through {STORE_NAMES.get(store, 'an app store')}; "
        f"change or cancel it there.",
        extra={"store": store, "steps": STORE_STEPS.get(store, [])},
    )


def _resolve_target(account, cameras, cycle) -> tuple[dict[str, str], Cycle | None]:
    """The complete target {camera: plan} and the requested cycle; 422 refusals first."""
    if cameras is None:
        cameras = {}
    if not isinstance(cameras, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in cameras.items()):
        raise BillingRefusal("invalid_state", "`cameras` must map camera ids to plan codes.")
    current = selectors.current_plans(account)
    unknown = sorted(set(cameras) - set(current))
    if unknown:
        raise BillingRefusal("unknown_camera", f"No such camera on this account: {unknown[0]}.")
    if cycle is not None and cycle not in {c.value for c in Cycle}:
        raise BillingRefusal("invalid_cycle", "`cycle` must be 'monthly' or 'annual'.")
    catalog = get_catalog()
    for code in cameras.values():
        if code not in catalog:
            raise BillingRefusal("unknown_plan", f"There is no plan {code!r}.")
    target = {**current, **cameras}
    try:  # here, so a 422 comes before the 409s (API.md's order); the cycle does not matter
        validate_state(PlanState(Cycle.MONTHLY, target), catalog)
    except ChangeRefused as refused:
        raise BillingRefusal(refused.code, refused.message) from refused
    return target, Cycle(cycle) if cycle else None


def _price(account, subscription, target: dict[str, str], requested_cycle: Cycle | None, at: datetime) -> Outcome:
    snapshot = selectors.snapshot(account, subscription)
    try:
        return price_change(snapshot, target, requested_cycle, at, get_catalog())
    except ChangeRefused as refused:
        raise BillingRefusal(refused.code, refused.message) from refused


def _erasures(outcome: Outcome) -> list[dict]:
    return [
        {"camera": s.camera, "clips": erasure.count_clips_before(s.camera, s.cutoff), "recorded_before": iso_z(s.cutoff)}
        for s in outcome.shrinks
    ]


def _target_json(target: dict[str, str], requested_cycle: Cycle | None) -> dict:
    return {"cameras": dict(sorted(target.items())), "cycle": requested_cycle.value if requested_cycle else None}


def _describe(outcome: Outcome, account) -> str:
    names = dict(Camera.objects.filter(account=account).values_list("id", "name"))
    catalog = get_catalog()

    def line_text(line) -> str:
        plan = catalog[line.key.plan].name
        where = f" for {names.get(line.key.camera, 'a removed camera')}" if line.key.camera else ""
        return f"{plan} {line.key.cycle.value}{where}"

    added = [line_text(line) for line in outcome.lines if line.kind == "charge"]
    removed = [line_text(line) for line in outcome.lines if line.kind == "credit"]
    label = {
        Case.SUBSCRIBE: "New subscription",
        Case.CANCEL: "Cancellation",
        Case.UPGRADE: "Plan change",
        Case.DOWNGRADE: "Plan change",
        Case.TO_ANNUAL: "Switch to annual billing",
    }.get(outcome.case, "Plan change")
    parts = []
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    return (label + ": " + "; ".join(parts))[:200] if parts else label


# ---------------------------------------------------------------- preview and change


def _priced_now(account, cameras, cycle) -> tuple[Subscription | None, dict[str, str], Cycle | None, Outcome]:
    """Price a move to the desired state at the account's now; writes nothing but what fell
    due before now (a renewal the billing job has not run yet)."""
    subscription = selectors.subscription_or_none(account)
    target, requested_cycle = _resolve_target(account, cameras, cycle)
    at = clock.now(account)
    if subscription is not None:
        _refuse_if_store(subscription)
        subscription = _settle_due(account, subscription, at)
    return subscription, target, requested_cycle, _price(account, subscription, target, requested_cycle, at)


def _record_quote(account, subscription, target, requested_cycle, outcome: Outcome) -> tuple[Quote, Subscription]:
    subscription = subscription or _subscription(account)
    quote = Quote.objects.create(
        account=account, version=subscription.version, at=outcome.at,
        target=_target_json(target, requested_cycle), outcome=outcome_to_json(outcome), created_at=outcome.at,
    )
    return quote, subscription


def preview_change(*, account, cameras: dict | None = None, cycle: str | None = None, actor) -> ChangeResult:
    """Price a move to the desired state and store a quote; commits nothing else."""
    subscription, target, requested_cycle, outcome = _priced_now(account, cameras, cycle)
    quote, _ = _record_quote(account, subscription, target, requested_cycle, outcome)
    return ChangeResult(outcome, _erasures(outcome), quote_id=quote.id)


def _settle_due(account, subscription, at: datetime) -> Subscription:
    """Run a renewal or retry that fell due before `at` but that the billing job has not run
    yet, so that a change is always priced inside the period that contains `at`."""
    if subscription.status == Status.NONE or subscription.period_end > at:
        return subscription
    run_due(account=account, until=at)
    if settings.TEST_CLOCKS and account.test_clock_at is not None:
        _set_test_clock(account, at)  # run_due moved it to each due instant on the way
    subscription = Subscription.objects.get(pk=subscription.pk)
    if subscription.status != Status.NONE and subscription.period_end <= at:
        raise BillingRefusal("change_in_progress", "This subscription is being renewed; try again in a moment.")
    return subscription


def _all_free(account) -> dict[str, str]:
    return {camera: FREE for camera in selectors.current_plans(account)}


def preview_cancel(*, account, actor) -> ChangeResult:
    return preview_change(account=account, cameras=_all_free(account), actor=actor)


def cancel_subscription(*, account, quote_id: str | None = None, actor) -> ChangeResult:
    cameras = None if quote_id else _all_free(account)
    if quote_id is not None:
        quote = Quote.objects.filter(id=quote_id, account=account).first()
        if quote is not None and any(plan != FREE for plan in quote.target["cameras"].values()):
            raise BillingRefusal("quote_stale", "That quote is not for a cancellation; preview the cancellation again.")
    return change_plan(account=account, cameras=cameras, quote_id=quote_id, actor=actor)


def _stale_quote() -> BillingRefusal:
    return BillingRefusal("quote_stale", "The price shown has changed or expired; review the new preview and confirm again.")


def _usable_quote(account, subscription, quote_id: str, cameras, cycle) -> Quote:
    """The quote, if it may still be executed (POLICY.md section 9), else quote_stale."""
    if cameras is not None or cycle is not None:
        target, requested_cycle = _resolve_target(account, cameras, cycle)
    if subscription is None:  # no quote was ever made for this account
        raise _stale_quote()
    _refuse_if_store(subscription)
    quote = Quote.objects.filter(id=str(quote_id), account=account).first()
    if subscription.status == Status.PAST_DUE and quote is not None:
        # API.md orders past_due before quote_stale: a change of priced lines is refused as
        # past_due whatever the quote's age (pricing raises it; a cancel is let through).
        _price(account, subscription, quote.target["cameras"], _cycle_or_none(quote.target["cycle"]), clock.now(account))
    stale = (
        quote is None
        or quote.executed_at is not None
        or quote.version != subscription.version
        or clock.now(account) - quote.at > QUOTE_TTL
        or clock.now(account) < quote.at
        or ((cameras is not None or cycle is not None) and quote.target != _target_json(target, requested_cycle))
    )
    if stale:
        raise _stale_quote()
    return quote


def _cycle_or_none(value: str | None) -> Cycle | None:
    return Cycle(value) if value else None


def change_plan(*, account, cameras: dict | None = None, cycle: str | None = None,
                quote_id: str | None = None, actor) -> ChangeResult:
    """Move the account to the desired state (POLICY.md section 4) and return what it cost.

    With a quote, exactly the quoted amounts are applied; without one, the change is
    priced now (and a quote recorded), which is the same code path.
    """
    if quote_id is None:
        subscription, target, requested_cycle, outcome = _priced_now(account, cameras, cycle)
        _card_for(account, outcome)  # a change that needs a card is refused before any write
        quote, subscription = _record_quote(account, subscription, target, requested_cycle, outcome)
    else:
        subscription = selectors.subscription_or_none(account)
        quote = _usable_quote(account, subscription, quote_id, cameras, cycle)
        outcome = outcome_from_json(quote.outcome)
    return _execute(account, subscription, quote, outcome, actor)


def _card_for(account, outcome: Outcome) -> PaymentMethod | None:
    """The card a change charges, or None when it charges nothing; refused without one."""
    if outcome.charge_now <= 0 or not outcome.changes_anything:
        return None
    method = selectors.payment_method_of(account)
    if method is None:
        raise BillingRefusal("payment_method_required", "Add a card first: this change needs a payment now.")
    return method


def _execute(account, subscription, quote: Quote, outcome: Outcome, actor) -> ChangeResult:
    if not outcome.changes_anything:
        return ChangeResult(outcome, [], quote_id=quote.id, subscription=selectors.subscription_summary(account))
    method = _card_for(account, outcome)
    if outcome.charge_now == 0 and outcome.refund == 0:
        with transaction.atomic():
            orders, erasures = _apply_change(account, subscription, quote, outcome, actor, claim=None, refund_results={})
    else:
        claim, charge_order, refund_orders = _claim_for_change(account, subscription, quote, outcome, method)
        gateway = get_gateway()
        if charge_order is not None:
            result = gateway.charge(token=method.token, amount=charge_order.amount,
                                    currency=charge_order.currency, idempotency_key=charge_order.gateway_key)
            if not result.succeeded:
                _fail_charge(subscription, charge_order, result, actor)
                raise BillingRefusal(
                    "payment_failed",
                    f"{result.message or 'The card was declined.'} Nothing was changed.",
                    extra={"order_id": charge_order.order_id, "decline_code": result.decline_code},
                )
            Order.objects.filter(pk=charge_order.pk).update(gateway_ref=result.reference)
        refund_results = _call_refunds(gateway, refund_orders)
        with transaction.atomic():
            orders, erasures = _apply_change(account, subscription, quote, outcome, actor, claim=claim, refund_results=refund_results)
    _after_commit(orders, outcome)
    return ChangeResult(outcome, erasures, quote_id=quote.id, orders=orders, subscription=selectors.subscription_summary(account))


def _claim_for_change(account, subscription, quote, outcome, method):
    """Step 1: claim the subscription and write the pending orders (one short transaction)."""
    at = outcome.at
    currency = outcome.currency
    description = _describe(outcome, account)
    with transaction.atomic():
        claim = new_order_id()
        claimed = Subscription.objects.filter(pk=subscription.pk, version=quote.version, claimed_by="").update(
            claimed_by=claim, claimed_at=clock.real_now()
        )
        if not claimed:
            current = Subscription.objects.get(pk=subscription.pk)
            if current.version != quote.version:
                raise BillingRefusal("quote_stale", "The subscription changed meanwhile; review the new preview.")
            raise BillingRefusal("change_in_progress", "Another change to this subscription is in progress; try again in a moment.")
        charge_order = None
        if outcome.charge_now > 0:
            attempt = Order.objects.filter(quote=quote, kind="charge").count() + 1
            charge_order = Order.objects.create(
                order_id=claim, account=account, kind="charge", status=OrderStatus.PENDING, purpose="change",
                amount=outcome.charge_now, credit_used=outcome.credit_used, currency=currency,
                description=description, created_at=at, period_start=outcome.period.start if outcome.period else None,
                quote=quote, gateway_key=f"change:{quote.id}:{method.id}:{attempt}",
                card_brand=method.brand, card_last4=method.last4,
            )
        refund_orders = []
        for index, (charge_id, amount) in enumerate(outcome.refunds):
            charge = Order.objects.get(order_id=charge_id, account=account)
            refund_orders.append(Order.objects.create(
                order_id=claim if (charge_order is None and index == 0) else new_order_id(),
                account=account, kind="refund", status=OrderStatus.PENDING, purpose="change",
                amount=amount, currency=currency, refers_to=charge, description=f"Refund: {description}"[:200],
                created_at=at, period_start=subscription.period_start, quote=quote,
                gateway_key=f"refund:{quote.id}:{charge.order_id}", card_brand=charge.card_brand, card_last4=charge.card_last4,
            ))
    return claim, charge_order, refund_orders


def _call_refunds(gateway, refund_orders) -> dict[int, GatewayResult]:
    """Step 2 for refunds: each returns money to the charge it refers to."""
    results = {}
    for order in refund_orders:
        results[order.pk] = gateway.refund(
            charge_reference=order.refers_to.gateway_ref, amount=order.amount, idempotency_key=order.gateway_key
        )
    return results


def _fail_charge(subscription, order: Order, result: GatewayResult, actor) -> None:
    """A declined change: the attempt is kept as a failed order; nothing else changes and the
    quote stays valid (the version is not bumped)."""
    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(
            status=OrderStatus.FAILED, settled_at=clock.real_now(), gateway_ref=result.reference,
            failure_code=result.decline_code[:40], failure_message=result.message[:200],
        )
        Subscription.objects.filter(pk=subscription.pk, claimed_by=order.order_id).update(claimed_by="", claimed_at=None)
        audit(actor=actor, account=order.account, action="change.payment_failed", at=order.created_at,
              order_id=order.order_id, decline_code=result.decline_code)


def _apply_change(account, subscription, quote, outcome: Outcome, actor, *, claim: str | None, refund_results) -> tuple[list[Order], list[dict]]:
    """Step 3: the change itself, its orders and ledger posting, in the caller's transaction."""
    at = outcome.at
    fields = _subscription_fields_after(outcome, subscription)
    guard = {"claimed_by": claim} if claim else {"version": quote.version, "claimed_by": ""}
    if not Subscription.objects.filter(pk=subscription.pk, **guard).update(version=F("version") + 1, claimed_by="", claimed_at=None, **fields):
        raise BillingRefusal("quote_stale", "The subscription changed meanwhile; review the new preview.")
    if not Quote.objects.filter(pk=quote.pk, executed_at__isnull=True).update(executed_at=at):
        raise BillingRefusal("quote_stale", "This change was already made.")
    erasures = _erasures(outcome)  # counted before the change commits, erased after
    _apply_lines(subscription, outcome)
    for camera, plan in outcome.state.cameras.items():
        Camera.objects.filter(account=account, id=camera).exclude(plan=plan).update(plan=plan)
    description = _describe(outcome, account)
    orders = _settle_change_orders(account, quote, outcome, claim, refund_results, description)
    failed_refunds = sum(o.amount for o in orders if o.kind == "refund" and o.status == OrderStatus.FAILED)
    refund_paid = outcome.refund - failed_refunds
    credit_added = outcome.credit_added + failed_refunds  # what the card could not take back
    orders += _credit_order(account, quote, outcome, credit_added, description)
    added = sum(line.amount for line in outcome.lines if line.kind == "charge")
    credits = sum(line.amount for line in outcome.lines if line.kind == "credit")
    entries = change_entries(account, added=added, credits=credits, credit_used=outcome.credit_used,
                             credit_added=credit_added, card=outcome.charge_now, refund=refund_paid)
    if outcome.voids_unpaid_period:
        unpaid = selectors.receivable_balance(account)
        entries += [(Book.RECEIVABLE, account, -unpaid), (Book.SALES, None, unpaid)]
    main = orders[0] if orders else None
    post(at=at, currency=outcome.currency, memo=description, order=main, entries=entries)
    audit(actor=actor, account=account, action=f"subscription.{outcome.case.value}", at=at,
          quote=quote.id, net=outcome.net, orders=[o.order_id for o in orders])
    transaction.on_commit(lambda: _erase(outcome))
    return orders, erasures


def _subscription_fields_after(outcome: Outcome, subscription) -> dict:
    if outcome.period is None:  # cancelled (or never paid): every camera on free
        # The next paid line starts a new web subscription (an import's channel ends here).
        return {"status": Status.NONE, "anchor": None, "period_start": None, "period_end": None,
                "scheduled_cycle": "", "failed_attempts": 0, "next_retry_at": None, "channel": "web", "store": ""}
    fields = {
        "cycle": outcome.state.cycle.value,
        "anchor": outcome.anchor,
        "period_start": outcome.period.start,
        "period_end": outcome.period.end,
        "scheduled_cycle": outcome.scheduled_cycle.value if outcome.scheduled_cycle else "",
    }
    if outcome.case in (Case.SUBSCRIBE, Case.TO_ANNUAL):
        fields.update(status=Status.ACTIVE, failed_attempts=0, next_retry_at=None)
    return fields


def _apply_lines(subscription, outcome: Outcome) -> None:
    at = outcome.at
    current = {selectors.held_line(line).key: line for line in selectors.active_lines(subscription)}
    for priced in outcome.lines:
        if priced.kind == "credit":
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


def _settle_change_orders(account, quote, outcome: Outcome, claim, refund_results, description: str) -> list[Order]:
    """The charge (card part, possibly 0) of a paid change and the refunds, settled."""
    orders = []
    now = clock.real_now()
    if claim is not None:
        for order in Order.objects.filter(quote=quote, status=OrderStatus.PENDING).order_by("id"):
            result = refund_results.get(order.pk) if order.kind == "refund" else None
            failed = result is not None and not result.succeeded
            Order.objects.filter(pk=order.pk).update(
                status=OrderStatus.FAILED if failed else OrderStatus.SUCCEEDED, settled_at=now,
                gateway_ref=result.reference if result else order.gateway_ref,
                failure_code=result.decline_code if failed else "", failure_message=result.message[:200] if failed else "",
            )
            order.refresh_from_db()
            orders.append(order)
    has_charge = any(o.kind == "charge" for o in orders)
    priced = bool(outcome.lines)
    if not has_charge and priced and outcome.case is not Case.CANCEL and outcome.net >= 0:
        # A paid change covered by credit (balance or removed lines): a charge of 0 to the card.
        orders.insert(0, Order.objects.create(
            order_id=new_order_id(), account=account, kind="charge", status=OrderStatus.SUCCEEDED,
            purpose="change", amount=0, credit_used=outcome.credit_used, currency=outcome.currency,
            description=description, created_at=outcome.at, settled_at=now,
            period_start=outcome.period.start if outcome.period else None, quote=quote,
        ))
    return orders


def _credit_order(account, quote, outcome: Outcome, credit_added: int, description: str) -> list[Order]:
    if credit_added <= 0:
        return []
    return [Order.objects.create(
        order_id=new_order_id(), account=account, kind="credit", status=OrderStatus.SUCCEEDED,
        purpose="change", amount=credit_added, currency=outcome.currency,
        description=f"Credit: {description}"[:200], created_at=outcome.at,
        settled_at=clock.real_now(), quote=quote,
    )]


def _erase(outcome: Outcome) -> None:
    """After commit: clips outside the new windows are erased with the quote's cut-offs."""
    for shrink in outcome.shrinks:
        try:
            erasure.erase_clips_before(shrink.camera, shrink.cutoff)
        except Exception:  # the sweep finishes what a failure here leaves behind
            log.exception("erasure for camera %s failed; the retention sweep will finish it", shrink.camera)


def _after_commit(orders: list[Order], outcome: Outcome) -> None:
    for order in orders:
        if order.status == OrderStatus.SUCCEEDED and (order.amount or order.credit_used):
            transaction.on_commit(lambda order=order: send_receipt(order))


# ---------------------------------------------------------------- other owner actions


def drop_scheduled_change(*, account, actor) -> None:
    subscription = _subscription(account)
    _refuse_if_store(subscription)
    with transaction.atomic():
        dropped = Subscription.objects.filter(pk=subscription.pk, claimed_by="").exclude(scheduled_cycle="").update(
            scheduled_cycle="", version=F("version") + 1
        )
        if dropped:
            audit(actor=actor, account=account, action="subscription.scheduled_change_dropped", at=clock.now(account))


def save_payment_method(*, account, token: str, actor) -> PaymentMethod:
    """Save the card (replacing the old one); a past_due bill is retried at once."""
    card = get_gateway().card_for(token) if isinstance(token, str) else None
    if card is None:
        raise BillingRefusal("invalid_card_token", "That card token is not valid; use tok_visa, tok_chargeDeclined or tok_insufficientFunds in the sandbox.")
    with transaction.atomic():
        PaymentMethod.objects.filter(account=account).delete()
        method = PaymentMethod.objects.create(account=account, token=token, brand=card.brand, last4=card.last4,
                                              created_at=clock.now(account))
        audit(actor=actor, account=account, action="payment_method.saved", brand=card.brand, last4=card.last4)
    subscription = selectors.subscription_or_none(account)
    if subscription is not None and subscription.status == Status.PAST_DUE:
        retry_unpaid_bill(subscription_id=subscription.pk, at=clock.now(account))
    return method


def remove_camera(*, account, camera: Camera, actor) -> ChangeResult:
    """The camera leaves the account: its paid line is removed as a change (credit or refund
    by POLICY.md), then the camera and all its clips are erased."""
    subscription = _subscription(account)
    plan = selectors.current_plans(account).get(camera.id, FREE)  # the stored plan, not a stale copy
    if plan == FREE and subscription.channel == "app_store":
        # No line pays for the camera, so its leaving is no change of the store's
        # subscription (POLICY.md section 4 refuses only cameras such a subscription pays for).
        result = _unchanged(account, subscription)
    else:
        _refuse_if_store(subscription)
        result = change_plan(account=account, cameras={camera.id: FREE}, actor=actor)
    with transaction.atomic():
        audit(actor=actor, account=account, action="camera.removed", camera=camera.id, serial=camera.serial)
    erasure.erase_camera(camera.id)
    result.subscription = selectors.subscription_summary(account)  # without the erased camera
    return result


def _unchanged(account, subscription) -> ChangeResult:
    """The result R of a call that changes nothing billed (no quote: nothing to confirm)."""
    state = PlanState(Cycle(subscription.cycle), selectors.current_plans(account))
    outcome = Outcome(
        case=Case.NOTHING, at=clock.now(account), currency=subscription.currency, lines=(), net=0,
        charge_now=0, credit_used=0, credit_added=0, refund=0, refunds=(), state=state, anchor=None,
        period=None, new_lines=(), scheduled_cycle=None, next_bill=None,
    )
    return ChangeResult(outcome, [])


# ---------------------------------------------------------------- renewals and retries


def _renewal_order(account, subscription, *, order_id, amount, credit_used, period_start, attempt, method, description, status):
    return Order.objects.create(
        order_id=order_id, account=account, kind="charge", status=status, purpose="renewal",
        amount=amount, credit_used=credit_used, currency=subscription.currency, description=description,
        created_at=clock.now(account), period_start=period_start,
        gateway_key=f"renewal:{subscription.pk}:{iso_z(period_start)}:{attempt}" if amount else None,
        card_brand=method.brand if method else "", card_last4=method.last4 if method else "",
    )


def _charge_card(account, order: Order) -> GatewayResult:
    method = selectors.payment_method_of(account)
    if method is None:
        return GatewayResult(False, "", "no_payment_method", "No card is saved.")
    return get_gateway().charge(token=method.token, amount=order.amount, currency=order.currency,
                                idempotency_key=order.gateway_key)


def _next_period_terms(subscription) -> tuple[Cycle, datetime, Period, dict]:
    """(cycle, anchor, period, {line: price}) of the period that starts at the period end:
    a scheduled switch applies first and re-anchors there; prices are the catalog's now."""
    start = subscription.period_end
    cycle = Cycle(subscription.scheduled_cycle or subscription.cycle)
    anchor = start if subscription.scheduled_cycle else subscription.anchor
    prices = lines_of(PlanState(cycle, selectors.current_plans(subscription.account)), get_catalog())
    return cycle, anchor, period_at(anchor, cycle, start), prices


def renew(*, subscription_id: int, at: datetime) -> Order | None:
    """Bill the period that starts at the subscription's period end, if `at` reached it.

    Exactly once per (subscription, period): the claim and the order's unique gateway key
    make a second or concurrent run a no-op. Returns the renewal order, or None.
    """
    subscription = Subscription.objects.select_related("account").get(pk=subscription_id)
    if subscription.status != Status.ACTIVE or subscription.channel == "app_store" or subscription.period_end > at:
        return None
    account = subscription.account
    start = subscription.period_end
    cycle, anchor, period, prices = _next_period_terms(subscription)
    price = sum(prices.values())
    credit_used, card = renewal_bill(price, selectors.credit_balance(account))
    method = selectors.payment_method_of(account)
    description = f"Renewal {iso_z(period.start)[:10]} to {iso_z(period.end)[:10]} ({cycle.value})"
    with transaction.atomic():
        claim = new_order_id()
        if not Subscription.objects.filter(pk=subscription.pk, period_end=start, claimed_by="", status=Status.ACTIVE).update(
            claimed_by=claim, claimed_at=clock.real_now()
        ):
            return None
        order = _renewal_order(account, subscription, order_id=claim, amount=card, credit_used=credit_used,
                               period_start=start, attempt=1, method=method, description=description,
                               status=OrderStatus.PENDING if card else OrderStatus.SUCCEEDED)
    result = _charge_card(account, order) if card else GatewayResult(True, "")
    with transaction.atomic():
        _apply_renewal(subscription, order, result, period=period, cycle=cycle, anchor=anchor, prices=prices)
    return order


def _apply_renewal(subscription, order: Order, result: GatewayResult, *, period: Period, cycle: Cycle, anchor, prices) -> None:
    account = subscription.account
    at = period.start
    paid = result.succeeded
    fields = {"cycle": cycle.value, "anchor": anchor, "period_start": period.start, "period_end": period.end,
              "scheduled_cycle": "", "claimed_by": "", "claimed_at": None, "version": F("version") + 1}
    if paid:
        fields.update(status=Status.ACTIVE, failed_attempts=0, next_retry_at=None)
    else:
        fields.update(status=Status.PAST_DUE, failed_attempts=1, next_retry_at=period.start + RETRY_AFTER[0])
    if not Subscription.objects.filter(pk=subscription.pk, claimed_by=order.order_id).update(**fields):
        return  # settled by someone else (the reconciler)
    SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=True).update(ended_at=at)
    SubscriptionLine.objects.bulk_create(
        SubscriptionLine(subscription=subscription, plan=key.plan, camera_key=key.camera or "", cycle=cycle.value,
                         unit_price=price, paid=price if paid else 0, period_start=period.start, started_at=at)
        for key, price in prices.items()
    )
    price = sum(prices.values())
    _settle_order(order, result)
    if paid:
        entries = change_entries(account, added=price, credits=0, credit_used=order.credit_used, credit_added=0,
                                 card=order.amount, refund=0)
    else:
        # All or nothing: no credit is used by an unpaid renewal; the bill becomes a receivable.
        Order.objects.filter(pk=order.pk).update(credit_used=0)
        order.credit_used = 0
        entries = [(Book.RECEIVABLE, account, price), (Book.SALES, None, -price)]
    post(at=at, currency=subscription.currency, memo=order.description, order=order, entries=entries)
    audit(actor=None, account=account, action="subscription.renewed" if paid else "subscription.renewal_failed",
          at=at, order_id=order.order_id, amount=price)
    if paid and (order.amount or order.credit_used):
        transaction.on_commit(lambda: send_receipt(order))


def _settle_order(order: Order, result: GatewayResult) -> None:
    order.status = OrderStatus.SUCCEEDED if result.succeeded else OrderStatus.FAILED
    order.settled_at = clock.real_now()
    order.gateway_ref = result.reference or order.gateway_ref
    order.failure_code = "" if result.succeeded else result.decline_code[:40]
    order.failure_message = "" if result.succeeded else result.message[:200]
    order.save(update_fields=["status", "settled_at", "gateway_ref", "failure_code", "failure_message"])


def _next_retry(subscription, after: datetime) -> datetime | None:
    for offset in RETRY_AFTER:
        when = subscription.period_start + offset
        if when > after:
            return when
    return None


def retry_unpaid_bill(*, subscription_id: int, at: datetime) -> Order | None:
    """Charge the unpaid bill of a past_due subscription again (a scheduled retry, or at once
    when the owner saves a card). After the last failure, every camera moves to free."""
    subscription = Subscription.objects.select_related("account").get(pk=subscription_id)
    if subscription.status != Status.PAST_DUE:
        return None
    account = subscription.account
    due = selectors.receivable_balance(account)
    credit_used, card = renewal_bill(due, selectors.credit_balance(account))
    attempt = subscription.failed_attempts + 1
    method = selectors.payment_method_of(account)
    with transaction.atomic():
        claim = new_order_id()
        if not Subscription.objects.filter(pk=subscription.pk, status=Status.PAST_DUE, claimed_by="",
                                           failed_attempts=subscription.failed_attempts).update(claimed_by=claim, claimed_at=clock.real_now()):
            return None
        order = _renewal_order(account, subscription, order_id=claim, amount=card, credit_used=credit_used,
                               period_start=subscription.period_start, attempt=attempt, method=method,
                               description=f"Payment of the unpaid bill of {iso_z(subscription.period_start)[:10]} (attempt {attempt})",
                               status=OrderStatus.PENDING if card else OrderStatus.SUCCEEDED)
    result = _charge_card(account, order) if card else GatewayResult(True, "")
    with transaction.atomic():
        _apply_retry(subscription, order, result, due=due, at=at)
    return order


def _apply_retry(subscription, order: Order, result: GatewayResult, *, due: int, at: datetime) -> None:
    account = subscription.account
    _settle_order(order, result)
    if result.succeeded:
        if not Subscription.objects.filter(pk=subscription.pk, claimed_by=order.order_id).update(
            status=Status.ACTIVE, failed_attempts=0, next_retry_at=None, claimed_by="", claimed_at=None,
            version=F("version") + 1,
        ):
            return
        SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=True).update(paid=F("unit_price"))
        post(at=at, currency=subscription.currency, memo=order.description, order=order, entries=[
            (Book.RECEIVABLE, account, -due),
            (Book.CUSTOMER_CREDIT, account, order.credit_used),
            (Book.GATEWAY, None, order.amount),
        ])
        audit(actor=None, account=account, action="subscription.unpaid_bill_paid", at=at, order_id=order.order_id)
        transaction.on_commit(lambda: send_receipt(order))
        return
    Order.objects.filter(pk=order.pk).update(credit_used=0)
    next_retry = _next_retry(subscription, at)
    if next_retry is not None:
        Subscription.objects.filter(pk=subscription.pk, claimed_by=order.order_id).update(
            failed_attempts=F("failed_attempts") + 1, next_retry_at=next_retry, claimed_by="", claimed_at=None,
            version=F("version") + 1,
        )
        audit(actor=None, account=account, action="subscription.retry_failed", at=at, order_id=order.order_id)
        return
    _lapse_to_free(subscription, order, due=due, at=at)


def _lapse_to_free(subscription, order: Order, *, due: int, at: datetime) -> None:
    """The last retry failed: every camera to free (with erasure) and the unpaid period voided."""
    account = subscription.account
    catalog = get_catalog()
    old = selectors.current_plans(account)
    if not Subscription.objects.filter(pk=subscription.pk, claimed_by=order.order_id).update(
        status=Status.NONE, anchor=None, period_start=None, period_end=None, scheduled_cycle="",
        failed_attempts=0, next_retry_at=None, claimed_by="", claimed_at=None, version=F("version") + 1,
    ):
        return
    SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=True).update(ended_at=at)
    Camera.objects.filter(account=account).exclude(plan=FREE).update(plan=FREE)
    post(at=at, currency=subscription.currency, memo="Unpaid period voided after the last failed retry", order=order,
         entries=[(Book.RECEIVABLE, account, -due), (Book.SALES, None, due)])
    audit(actor=None, account=account, action="subscription.lapsed_to_free", at=at, order_id=order.order_id)
    cutoff = at - timedelta(days=catalog[FREE].history_days)
    shrinking = [camera for camera, plan in old.items() if catalog[plan].history_days > catalog[FREE].history_days]

    def erase_all() -> None:
        for camera in shrinking:
            erasure.erase_clips_before(camera, cutoff)

    transaction.on_commit(erase_all)


def run_due(*, account, until: datetime) -> int:
    """Run, in time order, each renewal and retry of `account` due up to `until`, each at
    its own instant (the account's test clock is moved to it). Returns how many ran."""
    ran = 0
    for _ in range(10_000):  # a bound: years of monthly periods, never an endless loop
        subscription = selectors.subscription_or_none(account)
        if subscription is None or subscription.channel == "app_store":
            break
        if subscription.status == Status.ACTIVE and subscription.period_end <= until:
            when, step = subscription.period_end, renew
        elif subscription.status == Status.PAST_DUE and subscription.next_retry_at and subscription.next_retry_at <= until:
            when, step = subscription.next_retry_at, retry_unpaid_bill
        else:
            break
        if settings.TEST_CLOCKS and account.test_clock_at is not None:
            _set_test_clock(account, when)
        if step(subscription_id=subscription.pk, at=when) is None:
            break  # claimed by a run in flight (or a crash the reconciler settles): not ours
        ran += 1
    return ran


def _set_test_clock(account, at: datetime) -> None:
    account.test_clock_at = at
    type(account).objects.filter(pk=account.pk).update(test_clock_at=at)


def advance_test_clock(*, account, to: datetime, actor) -> datetime:
    """Freeze the account's clock at `to`, running everything due on the way (API.md)."""
    if not settings.TEST_CLOCKS:
        raise BillingRefusal("invalid_time", "Test clocks are off on this server.")
    if to < clock.now(account):
        raise BillingRefusal("invalid_time", "A test clock only moves forward.")
    _set_test_clock(account, clock.now(account))
    run_due(account=account, until=to)
    _set_test_clock(account, to)
    _erase_aged_clips(account, to)
    audit(actor=actor, account=account, action="test_clock.advanced", at=to, to=iso_z(to))
    return to


def _erase_aged_clips(account, at: datetime) -> None:
    """The retention sweep of one account at `at` (clips older than each camera's window)."""
    catalog = get_catalog()
    for camera, plan in selectors.current_plans(account).items():
        erasure.erase_clips_before(camera, at - timedelta(days=catalog[plan].history_days))


def run_billing(*, at: datetime, limit: int | None = None) -> int:
    """Renew and retry every subscription due at `at` (the billing job; idempotent)."""
    ran = 0
    for subscription in selectors.due_subscriptions(at).order_by("period_end")[:limit]:
        if subscription.status == Status.ACTIVE:
            ran += bool(renew(subscription_id=subscription.pk, at=at))
        else:
            ran += bool(retry_unpaid_bill(subscription_id=subscription.pk, at=at))
    return ran


# ---------------------------------------------------------------- reconciler


def reconcile_pending(*, older_than: timedelta = STALE_CLAIM) -> int:
    """Settle what a crash left between the gateway call and the final transaction.

    For each subscription claimed longer than `older_than` ago, ask the gateway about the
    claim's orders by their idempotency keys: a charge it never saw failed; refunds are
    replayed (the same key cannot refund twice); then the change or renewal is applied.
    """
    cutoff = clock.real_now() - older_than
    settled = 0
    for subscription in Subscription.objects.exclude(claimed_by="").filter(claimed_at__lte=cutoff):
        main = Order.objects.filter(order_id=subscription.claimed_by).first()
        if main is None:
            Subscription.objects.filter(pk=subscription.pk, claimed_by=subscription.claimed_by).update(claimed_by="", claimed_at=None)
            continue
        if main.purpose == "change":
            _reconcile_change(subscription, main)
        else:
            _reconcile_renewal(subscription, main)
        settled += 1
    return settled


def _reconcile_change(subscription, main: Order) -> None:
    gateway = get_gateway()
    quote = main.quote
    outcome = outcome_from_json(quote.outcome)
    account = subscription.account
    charge = Order.objects.filter(quote=quote, kind="charge", status=OrderStatus.PENDING).first()
    if charge is not None:
        result = gateway.lookup_charge(charge.gateway_key) or GatewayResult(False, "", "abandoned", "The payment did not complete.")
        if not result.succeeded:
            _fail_charge(subscription, charge, result, actor=None)
            return
        Order.objects.filter(pk=charge.pk).update(gateway_ref=result.reference)
    refunds = list(Order.objects.filter(quote=quote, kind="refund", status=OrderStatus.PENDING).select_related("refers_to"))
    refund_results = _call_refunds(gateway, refunds)
    with transaction.atomic():
        orders, _ = _apply_change(account, subscription, quote, outcome, None, claim=main.order_id, refund_results=refund_results)
    _after_commit(orders, outcome)


def _reconcile_renewal(subscription, order: Order) -> None:
    if order.amount == 0:  # the credit balance paid it all: the gateway was never asked
        result = GatewayResult(True, "")
    else:
        result = get_gateway().lookup_charge(order.gateway_key) if order.gateway_key else None
        result = result or GatewayResult(False, "", "abandoned", "The payment did not complete.")
    account = subscription.account
    with transaction.atomic():
        if subscription.status == Status.PAST_DUE:
            _apply_retry(subscription, order, result, due=selectors.receivable_balance(account), at=clock.now(account))
            return
        cycle, anchor, period, prices = _next_period_terms(subscription)
        _apply_renewal(subscription, order, result, period=period, cycle=cycle, anchor=anchor, prices=prices)


# ---------------------------------------------------------------- imports and support


def import_store_subscription(*, account, channel: str, plan: str, camera_ids: list[str], period_end: datetime,
                              store: str = "", cycle: str = "monthly", actor=None) -> Subscription:
    """A subscription bought outside the web portal (API.md): `app_store` ones are shown and
    refused on the web; `legacy_app` ones behave like web ones from here on.
    The money was taken by the store or the old app, so no order or ledger entry is written;
    a legacy line counts as paid for its period (its unused part is credited on change)."""
    catalog = get_catalog()
    if channel not in ("app_store", "legacy_app"):
        raise BillingRefusal("invalid_state", "channel must be app_store or legacy_app")
    if channel == "app_store" and store not in STORE_STEPS:
        raise BillingRefusal("invalid_state", "an app_store subscription needs store apple or google")
    if plan not in catalog or plan == FREE:
        raise BillingRefusal("unknown_plan", f"There is no paid plan {plan!r}.")
    owned = set(Camera.objects.filter(account=account, id__in=camera_ids).values_list("id", flat=True))
    if not camera_ids or owned != set(camera_ids):
        raise BillingRefusal("unknown_camera", "Every camera must belong to the account.")
    cycle_value = Cycle(cycle)
    target = {**selectors.current_plans(account), **dict.fromkeys(camera_ids, plan)}
    state = PlanState(cycle_value, target)
    try:
        validate_state(state, catalog)
    except ChangeRefused as refused:
        raise BillingRefusal(refused.code, refused.message) from refused
    period_start = add_months(period_end, -cycle_value.months)
    subscription = _subscription(account)
    with transaction.atomic():
        if not Subscription.objects.filter(pk=subscription.pk, status=Status.NONE, claimed_by="").update(
            channel=channel, store=store if channel == "app_store" else "", status=Status.ACTIVE, cycle=cycle_value.value,
            anchor=period_start, period_start=period_start, period_end=period_end, scheduled_cycle="",
            version=F("version") + 1,
        ):
            raise BillingRefusal("invalid_state", "The account already has a paid subscription.")
        for camera in camera_ids:
            Camera.objects.filter(pk=camera).update(plan=plan)
        SubscriptionLine.objects.bulk_create(
            SubscriptionLine(subscription=subscription, plan=key.plan, camera_key=key.camera or "", cycle=key.cycle.value,
                             unit_price=price, paid=price if channel == "legacy_app" else 0,
                             period_start=period_start, started_at=period_start)
            for key, price in lines_of(state, catalog).items()
        )
        audit(actor=actor, account=account, action="subscription.imported", channel=channel, store=store,
              plan=plan, cameras=camera_ids, period_end=iso_z(period_end))
    return Subscription.objects.get(pk=subscription.pk)


def issue_support_credit(*, account, amount: int, reason: str, actor) -> Order:
    """Support adds credit to the balance (goodwill), with the reason, audited."""
    if type(amount) is not int or amount <= 0 or not reason.strip():
        raise BillingRefusal("invalid_amount", "A credit needs a positive amount in cents and a reason.")
    subscription = _subscription(account)
    at = clock.now(account)
    with transaction.atomic():
        order = Order.objects.create(
            order_id=new_order_id(), account=account, kind="credit", status=OrderStatus.SUCCEEDED, purpose="support",
            amount=amount, currency=subscription.currency, description="Credit from support", created_at=at,
            settled_at=clock.real_now(), reason=reason.strip(),
        )
        post(at=at, currency=subscription.currency, memo=f"Support credit: {reason.strip()}", order=order,
             entries=[(Book.ADJUSTMENTS, None, amount), (Book.CUSTOMER_CREDIT, account, -amount)])
        Subscription.objects.filter(pk=subscription.pk).update(version=F("version") + 1)
        audit(actor=actor, account=account, action="support.credit", order_id=order.order_id, amount=amount, reason=reason.strip())
    return order


def issue_support_refund(*, charge: Order, amount: int, reason: str, actor) -> Order:
    """Support refunds part or all of a charge to the card, capped at what is left of it."""
    account = charge.account
    if type(amount) is not int or amount <= 0 or not reason.strip():
        raise BillingRefusal("invalid_amount", "A refund needs a positive amount in cents and a reason.")
    if amount > selectors.refundable_of(charge):
        raise BillingRefusal("invalid_amount", f"At most {selectors.refundable_of(charge)} cents of {charge.order_id} can be refunded.")
    at = clock.now(account)
    with transaction.atomic():
        attempt = charge.refunds.count() + 1
        order = Order.objects.create(
            order_id=new_order_id(), account=account, kind="refund", status=OrderStatus.PENDING, purpose="support",
            amount=amount, currency=charge.currency, refers_to=charge, description=f"Refund from support of {charge.order_id}",
            created_at=at, reason=reason.strip(), gateway_key=f"support-refund:{charge.order_id}:{attempt}",
            card_brand=charge.card_brand, card_last4=charge.card_last4,
        )
    result = get_gateway().refund(charge_reference=charge.gateway_ref, amount=amount, idempotency_key=order.gateway_key)
    with transaction.atomic():
        _settle_order(order, result)
        if result.succeeded:
            post(at=at, currency=charge.currency, memo=f"Support refund: {reason.strip()}", order=order,
                 entries=[(Book.ADJUSTMENTS, None, amount), (Book.GATEWAY, None, -amount)])
            Subscription.objects.filter(account=account).update(version=F("version") + 1)
        audit(actor=actor, account=account, action="support.refund", order_id=order.order_id,
              refers_to=charge.order_id, amount=amount, reason=reason.strip(), succeeded=result.succeeded)
    if not result.succeeded:
        raise BillingRefusal("payment_failed", result.message or "The gateway refused the refund.", extra={"order_id": order.order_id})
    transaction.on_commit(lambda: send_receipt(order))
    return order
