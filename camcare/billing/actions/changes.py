"""An owner's changes (POLICY.md sections 4 and 9): preview, change, cancel, drop the scheduled
change, remove a camera. Every change is "move to this desired state", priced by the domain
core, recorded as a quote and executed through the payment sequence (payments.py).

Price what you claimed: the subscription row is read (its version) before anything the
price depends on, and the claim checks that version; every committed change of state or
money bumps it, so a price read from a state that moved on can never be executed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.billing import selectors
from camcare.billing.actions import payments, trials
from camcare.billing.actions.apply_change import Declined, apply_change, describe, erasures_of
from camcare.billing.actions.common import as_refusal, refuse_if_store, subscription_for
from camcare.billing.actions.test_clocks import set_test_clock
from camcare.billing.channels import is_store_managed
from camcare.billing.errors import BillingRefusal, change_in_progress, stale_quote
from camcare.billing.models import OrderKind, PaymentMethod, Purpose, Quote, Subscription
from camcare.billing.outcomes import ChangeResult, outcome_from_json, outcome_to_json
from camcare.cameras import erasure
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.domain.catalog import FREE
from camcare.domain.periods import Cycle
from camcare.domain.pricing import (
    Case,
    Outcome,
    PlanState,
    Status,
    can_refund,
    price_change,
    unchanged,
    validate_state,
)

QUOTE_TTL = timedelta(minutes=10)  # of the account's clock (POLICY.md section 9)


# ---------------------------------------------------------------- pricing


def _resolve_target(account, cameras, cycle, current: dict[str, str] | None = None, catalog=None,
                    ) -> tuple[dict[str, str], Cycle | None]:
    """The complete target {camera: plan} and the requested cycle; 422 refusals first.
    `current` is the account's plans and `catalog` the catalog when the caller has read them."""
    if cameras is None:
        cameras = {}
    if not isinstance(cameras, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in cameras.items()):
        raise BillingRefusal("invalid_state", "`cameras` must map camera ids to plan codes.")
    if current is None:
        current = selectors.current_plans(account)
    unknown = sorted(set(cameras) - set(current))
    if unknown:
        raise BillingRefusal("unknown_camera", f"No such camera on this account: {unknown[0]}.")
    if cycle is not None and cycle not in {c.value for c in Cycle}:
        raise BillingRefusal("invalid_cycle", "`cycle` must be 'monthly' or 'annual'.")
    catalog = catalog or get_catalog()
    for code in cameras.values():
        if code not in catalog:
            raise BillingRefusal("unknown_plan", f"There is no plan {code!r}.")
    target = {**current, **cameras}
    with as_refusal():  # here, so a 422 comes before the 409s (API.md's order)
        validate_state(PlanState(Cycle.MONTHLY, target), catalog)
    return target, Cycle(cycle) if cycle else None


def _price(account, subscription, target: dict[str, str], requested_cycle: Cycle | None, at: datetime) -> Outcome:
    with as_refusal():
        return price_change(selectors.snapshot(account, subscription), target, requested_cycle, at, get_catalog())


def _settle_due(account, subscription: Subscription, at: datetime) -> bool:
    """Run a renewal or retry that fell due before `at` but that the billing job has not run
    yet, so that a change is always priced inside the period that holds `at`. True if
    anything ran (the caller reads the subscription again)."""
    if subscription.status == Status.NONE or subscription.period_end > at:
        return False
    from camcare.billing.actions.renewals import run_due  # renewals bill; changes ride on them

    on_test_clock = settings.TEST_CLOCKS and account.test_clock_at is not None
    run_due(account=account, until=at, on_test_clock=on_test_clock)
    if on_test_clock:
        set_test_clock(account, at)  # run_due moved it to each due instant on the way
    fresh = Subscription.objects.get(pk=subscription.pk)
    if fresh.status != Status.NONE and fresh.period_end <= at:
        raise BillingRefusal("change_in_progress", "This subscription is being renewed; try again in a moment.")
    return True


def _subscription_and_balance(account) -> tuple[Subscription, int]:
    """The subscription row (created when missing: see subscription_for) and the credit
    balance in minor units, read together in one statement when the row exists."""
    found = selectors.subscription_with_credit(account)
    if found is not None:
        return found
    return subscription_for(account), selectors.credit_balance(account)


def _priced_now(account, cameras, cycle, *, cancel: bool = False, trial: bool = False,
                ) -> tuple[Subscription, dict[str, str], Cycle | None, Outcome]:
    """Price a move to the desired state (cancel: every camera on free; trial: as the free
    trial, when the account may still have it) at the account's now. Writes nothing but
    the subscription row and what fell due before now.

    Reads, in this order: the subscription row with the credit balance (its version first:
    see the module's docstring), the account's plans once (for the target and the snapshot),
    the held lines, and the period's card payments only when the target can refund."""
    # The row first, then the instant: a change committed before the row was read started
    # its period at or before its own instant, so `at` is never before the period read
    # (read the other way, a first subscription committed in between could start after `at`).
    subscription, balance = _subscription_and_balance(account)
    at = clock.now(account)
    catalog = get_catalog()  # one catalog for the target and the price, read after the version
    current = selectors.current_plans(account)
    target, requested_cycle = _resolve_target(account, _all_free(current) if cancel else cameras, cycle, current,
                                              catalog)
    refuse_if_store(subscription)
    if _settle_due(account, subscription, at):
        subscription, balance = _subscription_and_balance(account)
        current = selectors.current_plans(account)
        target, requested_cycle = _resolve_target(account, _all_free(current) if cancel else cameras, cycle,
                                                  current, catalog)
    snapshot = selectors.snapshot_of(subscription, current, balance, card_payments=can_refund(target, catalog))
    with as_refusal():
        outcome = price_change(snapshot, target, requested_cycle, at, catalog, trial=trial)
    if outcome.case is Case.TRIAL:
        trials.refuse_unavailable_trial(account, target)
    return subscription, target, requested_cycle, outcome


def _target_json(target: dict[str, str], requested_cycle: Cycle | None, trial: bool = False) -> dict:
    """What a quote was asked for; "trial" only when asked (quotes made before trials match)."""
    body = {"cameras": dict(sorted(target.items())), "cycle": requested_cycle.value if requested_cycle else None}
    if trial:
        body["trial"] = True
    return body


def _record_quote(account, subscription, target, requested_cycle, outcome: Outcome, trial: bool = False) -> Quote:
    # Built as the ORM builds a row it read (positional, every field given): Model.__init__
    # with keywords costs about a tenth of a preview.
    values = {"id": _QUOTE_ID(), "account_id": account.pk, "version": subscription.version, "at": outcome.at,
              "target": _target_json(target, requested_cycle, trial), "outcome": outcome_to_json(outcome),
              "created_at": outcome.at, "executed_at": None}
    quote = Quote(*[values[field.attname] for field in _QUOTE_FIELDS])
    quote.account = account  # the instance at hand, as Quote(account=account) would cache it
    return _insert_quote(quote)


_QUOTE_FIELDS = Quote._meta.concrete_fields
_QUOTE_ID = Quote._meta.pk.get_default  # a new quote's id (ids.quote_id)
_INSERT_QUOTE_SQL = (
    f"INSERT INTO {connection.ops.quote_name(Quote._meta.db_table)} "
    f"({', '.join(connection.ops.quote_name(field.column) for field in _QUOTE_FIELDS)}) "
    f"VALUES ({', '.join(['%s'] * len(_QUOTE_FIELDS))})"
)


def _insert_quote(quote: Quote) -> Quote:
    """quote.save() of a new quote as one plain INSERT: every preview stores one, and the
    ORM's insert compiler costs about three times the statement. Each value is prepared by
    its field, as the ORM does (JSON, instants in UTC); Quote has no save signals to skip."""
    params = [field.get_db_prep_save(field.pre_save(quote, add=True), connection) for field in _QUOTE_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_QUOTE_SQL, params)
    quote._state.adding, quote._state.db = False, connection.alias  # saved, as save() leaves it
    return quote


# ---------------------------------------------------------------- preview and change


def preview_change(*, account, cameras: dict | None = None, cycle: str | None = None, trial: bool = False,
                   actor) -> ChangeResult:
    """Price a move to the desired state and store a quote; commits nothing else."""
    return _preview(account, cameras, cycle, trial=trial)


def _preview(account, cameras, cycle, *, cancel: bool = False, trial: bool = False) -> ChangeResult:
    subscription, target, requested_cycle, outcome = _priced_now(account, cameras, cycle, cancel=cancel, trial=trial)
    quote = _record_quote(account, subscription, target, requested_cycle, outcome, trial)
    return ChangeResult(outcome, erasures_of(outcome, account), quote_id=quote.id)


def _all_free(current: dict[str, str]) -> dict[str, str]:
    return dict.fromkeys(current, FREE)


def preview_cancel(*, account, actor) -> ChangeResult:
    return _preview(account, None, None, cancel=True)


def cancel_subscription(*, account, quote_id: str | None = None, actor) -> ChangeResult:
    if quote_id is not None:
        quote = Quote.objects.filter(id=quote_id, account=account).first()
        if quote is not None and any(plan != FREE for plan in quote.target["cameras"].values()):
            raise stale_quote("That quote is not for a cancellation; preview the cancellation again.")
    return _change(account, None, None, quote_id, actor, cancel=quote_id is None)


def _usable_quote(account, subscription, quote_id: str, cameras, cycle, trial: bool = False) -> Quote:
    """The quote, if it may still be executed (POLICY.md section 9), else quote_stale."""
    if cameras is not None or cycle is not None:
        target, requested_cycle = _resolve_target(account, cameras, cycle)
    if subscription is None:  # no quote was ever made for this account
        raise stale_quote()
    refuse_if_store(subscription)
    quote = Quote.objects.filter(id=str(quote_id), account=account).first()
    now = clock.now(account)
    if subscription.status == Status.PAST_DUE and quote is not None:
        # API.md orders past_due before quote_stale: a change of priced lines is refused as
        # past_due whatever the quote's age (pricing raises it; a cancel is let through).
        cycle_value = quote.target["cycle"]
        _price(account, subscription, quote.target["cameras"], Cycle(cycle_value) if cycle_value else None, now)
    stale = (
        quote is None
        or quote.executed_at is not None
        or quote.version != subscription.version
        or not quote.at <= now <= quote.at + QUOTE_TTL
        or ((cameras is not None or cycle is not None) and quote.target != _target_json(target, requested_cycle, trial))
        or (trial and not quote.target.get("trial"))
        # The target names every camera of the account when priced: a camera removed since
        # (a free one's removal moves no money, so no version) or added is another state.
        or set(quote.target["cameras"]) != set(selectors.current_plans(account))
    )
    if stale:
        raise stale_quote()
    return quote


def change_plan(*, account, cameras: dict | None = None, cycle: str | None = None,
                quote_id: str | None = None, trial: bool = False, actor) -> ChangeResult:
    """Move the account to the desired state (POLICY.md section 4) and return what it cost.

    With a quote, exactly the quoted amounts are applied; without one, the change is
    priced now (and a quote recorded), which is the same code path. `trial`: start it as
    the free trial (section 12), refused with trial_not_available when it may not be had.
    """
    return _change(account, cameras, cycle, quote_id, actor, trial=trial)


def _change(account, cameras, cycle, quote_id, actor, *, cancel: bool = False, trial: bool = False) -> ChangeResult:
    if quote_id is None:
        subscription, target, requested_cycle, outcome = _priced_now(account, cameras, cycle, cancel=cancel,
                                                                     trial=trial)
        _card_for(account, outcome)  # a change that needs a card is refused before any write
        quote = _record_quote(account, subscription, target, requested_cycle, outcome, trial)
    else:
        subscription = selectors.subscription_or_none(account)
        quote = _usable_quote(account, subscription, quote_id, cameras, cycle, trial)
        outcome = outcome_from_json(quote.outcome)
        if outcome.case is Case.TRIAL:  # what used it up since the preview (see trials.py)
            trials.refuse_unavailable_trial(account, dict(outcome.state.cameras))
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
    claimed, result = payments.run(
        subscription.pk, guard={"version": quote.version},
        prepare=lambda payment: _prepare_change(payment, quote, outcome, method),
        apply=lambda payment, results: apply_change(payment, results, quote=quote, outcome=outcome, actor=actor),
    )
    if not claimed:
        if Subscription.objects.filter(pk=subscription.pk, version=quote.version).exists():
            raise change_in_progress()
        raise stale_quote("The subscription changed meanwhile; review the new preview.")
    if isinstance(result, Declined):
        raise BillingRefusal(
            "payment_failed", f"{result.message or 'The card was declined.'} Nothing was changed.",
            extra={"order_id": result.order.order_id, "decline_code": result.decline_code},
        )
    orders, erasures = result
    return ChangeResult(outcome, erasures, quote_id=quote.id, orders=orders,
                        subscription=selectors.subscription_summary(account))


def _prepare_change(payment: payments.Payment, quote: Quote, outcome: Outcome, method) -> None:
    """Step 1 of a change: the pending charge (the card part) and refunds it quoted."""
    account = payment.subscription.account
    description = describe(outcome, account)
    if outcome.charge_now > 0:
        attempt = quote.orders.filter(kind=OrderKind.CHARGE).count() + 1  # a declined quote may be retried
        payments.pending_order(
            payment, kind=OrderKind.CHARGE, purpose=Purpose.CHANGE, amount=outcome.charge_now,
            credit_used=outcome.credit_used, description=description, created_at=outcome.at,
            period_start=outcome.period.start if outcome.period else None, quote=quote,
            gateway_key=f"change:{quote.id}:{method.id}:{attempt}", card_brand=method.brand, card_last4=method.last4,
        )
        payment.token = method.token
    for charge_id, amount in outcome.refunds:
        charge = account.orders.get(order_id=charge_id)
        payments.pending_order(
            payment, kind=OrderKind.REFUND, purpose=Purpose.CHANGE, amount=amount, refers_to=charge,
            description=f"Refund: {description}"[:200], created_at=outcome.at,
            period_start=payment.subscription.period_start, quote=quote,
            gateway_key=f"refund:{quote.id}:{charge.order_id}", card_brand=charge.card_brand, card_last4=charge.card_last4,
        )


def settle_claimed_change(payment: payments.Payment) -> None:
    """The reconciler's step 3 for a change a crash interrupted after step 1."""
    quote = payment.orders[0].quote
    payments.finish(payment, payments.replay(payment),
                    lambda p, results: apply_change(p, results, quote=quote, outcome=outcome_from_json(quote.outcome), actor=None))


# ---------------------------------------------------------------- other owner actions


def drop_scheduled_change(*, account, actor) -> None:
    """Drop the scheduled change of either kind (the cycle switch or the stop); nothing
    changes when none is scheduled."""
    subscription = subscription_for(account)
    refuse_if_store(subscription)
    guard = {"scheduled_stop": True} if subscription.scheduled_stop else {"scheduled_cycle__gt": ""}
    claimed, _ = payments.run(
        subscription.pk, guard=guard,
        prepare=lambda payment: None,
        apply=lambda payment, results: _drop(payment, actor),
    )
    if not claimed and Subscription.objects.filter(pk=subscription.pk, **guard).exists():
        raise change_in_progress()  # something is scheduled, but another change holds the claim


def _drop(payment: payments.Payment, actor) -> None:
    subscription = payment.subscription
    payments.release(payment, scheduled_cycle="", scheduled_stop=False)
    old = {"scheduled_stop": True} if subscription.scheduled_stop else {"scheduled_cycle": subscription.scheduled_cycle}
    audit(actor=actor, account=subscription.account, action=Event.SCHEDULED_CHANGE_DROPPED,
          at=clock.now(subscription.account), old=old, new={"scheduled_cycle": None})


def remove_camera(*, account, camera: Camera, actor, quote_id: str | None = None) -> ChangeResult:
    """The camera leaves the account: its paid line is removed as a change (credit or refund
    by POLICY.md), then the camera and all its clips are erased."""
    subscription = subscription_for(account)
    plan = selectors.current_plans(account).get(camera.id, FREE)  # the stored plan, not a stale copy
    if plan == FREE and is_store_managed(subscription):
        # No line pays for the camera, so its leaving is no change of the store's
        # subscription (POLICY.md section 4 refuses only cameras such a subscription pays for).
        state = PlanState(Cycle(subscription.cycle), selectors.current_plans(account))
        result = ChangeResult(unchanged(state, clock.now(account), get_catalog()), [])
    else:
        refuse_if_store(subscription)
        result = change_plan(account=account, cameras={camera.id: FREE}, quote_id=quote_id, actor=actor)
    erasure.erase_camera(camera.id, removed_by=actor)
    result.subscription = selectors.subscription_summary(account)  # without the erased camera
    return result
