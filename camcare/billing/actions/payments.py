"""THE payment sequence: every movement of money (a change, a renewal, a retry, a support
refund or credit) is these three steps, and no transaction is held across the gateway
(ARCHITECTURE.md, "Money and concurrency"; Kill Bill's payment state machine):

  1. `begin`: in one short transaction, claim the subscription with a conditional UPDATE
     (its guard says which state the money was decided from) and, under the claim, read
     what to bill and write the pending orders, each with a deterministic gateway key;
  2. `call_gateway`: outside any transaction, one gateway call per order that needs one;
  3. `finish`: in one short transaction, apply the effect, settle the orders, post the
     ledger and release the claim.

Under a claim nothing else changes the subscription's money: every other write is either
guarded by the same claim or by `claimed_by = ""`. A crash between the steps leaves the
claim and its pending orders; `reconciler.reconcile_pending` settles them by asking the
gateway about their keys, and then runs the same step 3.

The billing run takes the same three steps for a batch of subscriptions at once
(actions/batch.py): step 1 claims each with its own claim id in one UPDATE, step 2 makes
the batch's `call_gateway` calls side by side, step 3 releases every claim with
`release_many` before it writes anything else. One claim is still one subscription's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F

from camcare import clock
from camcare.billing.actions.rows import column, new_instance, update_each
from camcare.billing.gateway import GatewayResult, PaymentGateway, get_gateway
from camcare.billing.models import Order, OrderKind, OrderStatus, Subscription
from camcare.domain.order_ids import new_order_id

NO_CARD = GatewayResult(False, "", "no_payment_method", "No card is saved.")
ABANDONED = GatewayResult(False, "", "abandoned", "The payment did not complete.")
NOT_CALLED = GatewayResult(True, "")  # an order the gateway has no part in (credit, 0 to pay)


@dataclass
class Payment:
    """A claim in flight: what step 1 wrote, for steps 2 and 3."""

    subscription: Subscription
    claim: str  # the claim id; also the Order ID of the claim's first order
    orders: list[Order] = field(default_factory=list)  # pending, in the order written
    token: str | None = None  # the card token that pending charges are made on
    context: Any = None  # what step 1 decided under the claim, for step 3


class ClaimLost(Exception):
    """Step 3 found its claim gone: another settler (the reconciler, a second run) finished
    it first. Raised inside step 3's transaction, so nothing of this attempt is written."""


CLAIM_LOST = object()  # what `finish` returns then


class AlreadyDone(Exception):
    """Raised by a `prepare` that finds its request already made: nothing is written."""

    def __init__(self, result: Any):
        super().__init__("already done")
        self.result = result


Prepare = Callable[[Payment], None]  # fills orders/token/context; may raise to write nothing
Apply = Callable[[Payment, dict[int, GatewayResult]], Any]


def begin(subscription_id: int, *, guard: dict, prepare: Prepare) -> Payment | None:
    """Step 1. None when the guard does not hold (another claim in flight, or the state the
    caller decided from has moved on); then nothing was written."""
    with transaction.atomic():
        claim = new_order_id()
        if not Subscription.objects.filter(pk=subscription_id, claimed_by="", **guard).update(
            claimed_by=claim, claimed_at=clock.real_now()
        ):
            return None
        # Read after the claim: this is the state the money is decided from.
        payment = Payment(Subscription.objects.select_related("account").get(pk=subscription_id), claim)
        prepare(payment)
    return payment


def new_order(payment: Payment, **fields) -> Order:
    """One order of the claim, pending until step 3, not saved yet (the billing run writes a
    batch's orders in one INSERT); the first one takes the claim's id."""
    order = new_instance(
        Order, order_id=payment.claim if not payment.orders else new_order_id(),
        account=payment.subscription.account, status=OrderStatus.PENDING, claim=payment.claim,
        currency=payment.subscription.currency, **fields,
    )
    payment.orders.append(order)
    return order


def pending_order(payment: Payment, **fields) -> Order:
    """Write one order of the claim, pending until step 3; the first one takes the claim's id."""
    order = new_order(payment, **fields)
    order.save(force_insert=True)
    return order


def call_gateway(payment: Payment, gateway: PaymentGateway | None = None) -> dict[int, GatewayResult]:
    """Step 2: each pending order's call, by its idempotency key (a repeat is harmless)."""
    gateway = gateway or get_gateway()

    def charge(order: Order) -> GatewayResult:
        if not payment.token:
            return NO_CARD
        return gateway.charge(token=payment.token, amount=order.amount, currency=order.currency,
                              idempotency_key=order.gateway_key)

    return _results(payment, charge)


def calls_gateway(payment: Payment) -> bool:
    """Whether step 2 of `payment` reaches the gateway (else it answers at once: nothing to
    charge, or no card to charge it on)."""
    return any(_needs_gateway(order) and (order.kind != OrderKind.CHARGE or payment.token)
               for order in payment.orders)


def _results(payment: Payment, charge: Callable[[Order], GatewayResult]) -> dict[int, GatewayResult]:
    results = {}
    for order in payment.orders:
        if not _needs_gateway(order):
            results[order.pk] = NOT_CALLED
        elif order.kind == OrderKind.CHARGE:
            results[order.pk] = charge(order)
            if not results[order.pk].succeeded:
                break  # a declined charge decides the claim: nothing after it is attempted
        else:
            results[order.pk] = refund(order)
    return results


def _needs_gateway(order: Order) -> bool:
    """Charges and refunds of money move at the gateway; a credit, or a charge that credit
    covered in full, is only the ledger's."""
    return order.kind != OrderKind.CREDIT and order.amount > 0


def refund(order: Order) -> GatewayResult:
    return get_gateway().refund(
        charge_reference=order.refers_to.gateway_ref, amount=order.amount, idempotency_key=order.gateway_key
    )


def finish(payment: Payment, results: dict[int, GatewayResult], apply: Apply) -> Any:
    """Step 3, in one transaction; `apply` releases the claim first (see `release`), then
    settles the orders. CLAIM_LOST when someone else settled the claim: then the whole
    transaction rolls back, so a claim is applied exactly once however many try."""
    try:
        with transaction.atomic():
            return apply(payment, results)
    except ClaimLost:
        return CLAIM_LOST


def run(subscription_id: int, *, guard: dict, prepare: Prepare, apply: Apply) -> tuple[bool, Any]:
    """The whole sequence: (False, None) when the claim was not taken (or was settled by
    someone else before this step 3), else (True, what `apply` returned), or (True, the
    result of an AlreadyDone raised by `prepare`)."""
    try:
        payment = begin(subscription_id, guard=guard, prepare=prepare)
    except AlreadyDone as done:
        return True, done.result
    if payment is None:
        return False, None
    result = finish(payment, call_gateway(payment), apply)
    return (False, None) if result is CLAIM_LOST else (True, result)


SETTLED_FIELDS = ["status", "settled_at", "gateway_ref", "failure_code", "failure_message"]


def mark_settled(order: Order, result: GatewayResult) -> Order:
    """Set a pending order succeeded or failed with what the gateway said, not saved yet."""
    order.status = OrderStatus.SUCCEEDED if result.succeeded else OrderStatus.FAILED
    order.settled_at = clock.real_now()
    order.gateway_ref = result.reference or order.gateway_ref
    order.failure_code = "" if result.succeeded else result.decline_code[:40]
    order.failure_message = "" if result.succeeded else result.message[:200]
    return order


def settle(order: Order, result: GatewayResult) -> Order:
    """Mark a pending order succeeded or failed with what the gateway said (step 3)."""
    mark_settled(order, result).save(update_fields=SETTLED_FIELDS)
    return order


def release(payment: Payment, *, changed: bool = True, **fields) -> None:
    """Release the claim, writing `fields`: the first write of every step 3, so that a step 3
    whose claim is gone stops before it writes anything (ClaimLost). `changed` bumps the
    version, which makes every open quote stale (its state or its money moved)."""
    if changed:
        fields["version"] = F("version") + 1
    if not Subscription.objects.filter(pk=payment.subscription.pk, claimed_by=payment.claim).update(
        claimed_by="", claimed_at=None, **fields
    ):
        raise ClaimLost(payment.claim)


def release_many(releases: list[tuple[Payment, dict, bool]]) -> None:
    """`release` of many claims at once: each (payment, fields, changed) as
    `release(payment, changed=changed, **fields)`, one UPDATE per subscription sent as one
    statement per set of fields, each guarded by its own claim. The first write of a
    batch's step 3: ClaimLost when any claim is gone, so the caller's transaction rolls
    back whole."""
    groups: dict[tuple[tuple[str, ...], bool], list[tuple[Payment, dict]]] = {}
    for payment, fields, changed in releases:
        groups.setdefault((tuple(sorted(fields)), changed), []).append((payment, fields))
    version = column(Subscription, "version")
    for (names, changed), group in groups.items():
        released = update_each(
            Subscription, set_fields=[*names, "claimed_by", "claimed_at"], where_fields=["id", "claimed_by"],
            rows=[(*(fields[name] for name in names), "", None, payment.subscription.pk, payment.claim)
                  for payment, fields in group],
            set_sql=f"{version} = {version} + 1" if changed else "",
        )
        if released != len(group):
            raise ClaimLost([payment.claim for payment, _ in group])


def replay(payment: Payment, *, charge_unseen: bool = False) -> dict[int, GatewayResult]:
    """Step 2 again, for the reconciler: what the gateway did with each pending order.
    A charge it never saw did not happen; it is not made now (the owner was not waiting
    for it any more) unless `charge_unseen`: a bill that fell due is charged now with its
    own key, so a billing run killed before its gateway calls bills each period once and
    not as a failed attempt. A refund is simply made again with its key (a repeat is
    harmless)."""
    gateway = get_gateway()

    def charge(order: Order) -> GatewayResult:
        seen = gateway.lookup_charge(order.gateway_key)
        if seen is not None or not charge_unseen:
            return seen or ABANDONED
        if not payment.token:
            return NO_CARD
        return gateway.charge(token=payment.token, amount=order.amount, currency=order.currency,
                              idempotency_key=order.gateway_key)

    return _results(payment, charge)


def resume(subscription: Subscription) -> Payment:
    """The payment of a claim a crash left behind, rebuilt from its pending orders."""
    orders = list(Order.objects.filter(claim=subscription.claimed_by, status=OrderStatus.PENDING)
                  .select_related("refers_to", "quote").order_by("id"))
    return Payment(subscription, subscription.claimed_by, orders)
