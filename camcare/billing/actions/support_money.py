"""Refunds and credits issued by support staff (POLICY.md section 7), through the payment
sequence like every movement of money: a refund checks what is still refundable under its
claim, so simultaneous refunds of one charge never return more than it took.

`request_key` is the one-time key of the form that asked: the same key again returns the
first order and moves nothing (a resubmitted or double-clicked form)."""

from __future__ import annotations

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.billing import selectors
from camcare.billing.actions import payments
from camcare.billing.actions.common import subscription_for
from camcare.billing.emails import record_receipt
from camcare.billing.errors import BillingRefusal, change_in_progress
from camcare.billing.gateway import GatewayResult
from camcare.billing.ledger import post
from camcare.billing.models import Book, Order, OrderKind, OrderStatus, Purpose

KEY_LENGTH = 100  # the order's gateway_key column holds the prefix and the key


def _checked(amount, reason: str, request_key: str, what: str) -> str:
    if type(amount) is not int or amount <= 0 or not isinstance(reason, str) or not reason.strip():
        raise BillingRefusal("invalid_amount", f"{what} needs a positive amount in cents and a reason.")
    if not isinstance(request_key, str) or not 8 <= len(request_key) <= KEY_LENGTH:
        raise BillingRefusal("invalid_amount", "The form is missing its one-time key; reload it.")
    return reason.strip()


def _once(account, key: str, prepare, apply) -> Order:
    """Run the sequence once per key: the order already made under `key` is the answer."""
    done = Order.objects.filter(gateway_key=key, account=account).first()
    if done is not None:
        return done
    claimed, order = payments.run(subscription_for(account).pk, guard={}, prepare=prepare, apply=apply)
    if claimed:
        return order
    done = Order.objects.filter(gateway_key=key, account=account).first()  # the twin holds the claim
    if done is not None:
        return done
    raise change_in_progress()


def _unless_done(key: str) -> None:
    """Under the claim: the same request may have finished while this one waited."""
    done = Order.objects.filter(gateway_key=key).first()
    if done is not None:
        raise payments.AlreadyDone(done)


def issue_support_credit(*, account, amount: int, reason: str, actor, request_key: str) -> Order:
    """Support adds credit to the balance (goodwill), with the reason, audited."""
    reason = _checked(amount, reason, request_key, "A credit")
    key = f"support-credit:{request_key}"

    def prepare(payment: payments.Payment) -> None:
        _unless_done(key)
        payments.pending_order(
            payment, kind=OrderKind.CREDIT, purpose=Purpose.SUPPORT, amount=amount, description="Credit from support",
            created_at=clock.now(account), reason=reason, gateway_key=key,
        )

    return _once(account, key, prepare, lambda payment, results: _apply(payment, results, actor=actor))


def issue_support_refund(*, charge: Order, amount: int, reason: str, actor, request_key: str) -> Order:
    """Support refunds part or all of a charge to the card, capped at what is left of it."""
    account = charge.account
    reason = _checked(amount, reason, request_key, "A refund")
    key = f"support-refund:{request_key}"

    def prepare(payment: payments.Payment) -> None:
        _unless_done(key)
        refundable = selectors.refundable_of(Order.objects.get(pk=charge.pk))  # under the claim
        if amount > refundable:
            raise BillingRefusal("invalid_amount", f"At most {refundable} cents of {charge.order_id} can be refunded.")
        payments.pending_order(
            payment, kind=OrderKind.REFUND, purpose=Purpose.SUPPORT, amount=amount, refers_to=charge,
            description=f"Refund from support of {charge.order_id}", created_at=clock.now(account), reason=reason,
            gateway_key=key, card_brand=charge.card_brand, card_last4=charge.card_last4,
        )

    order = _once(account, key, prepare, lambda payment, results: _apply(payment, results, actor=actor))
    if order.status == OrderStatus.FAILED:
        raise BillingRefusal("payment_failed", order.failure_message or "The gateway refused the refund.",
                             extra={"order_id": order.order_id})
    return order


def _apply(payment: payments.Payment, results: dict[int, GatewayResult], *, actor) -> Order:
    """Step 3 of a support refund or credit (also the reconciler's, with actor None)."""
    order = payment.orders[0]
    account = payment.subscription.account
    result = results.get(order.pk, payments.ABANDONED)
    payments.release(payment, changed=result.succeeded)  # money moved: open quotes are stale
    payments.settle(order, result)
    if result.succeeded:
        if order.kind == OrderKind.CREDIT:
            entries = [(Book.ADJUSTMENTS, None, order.amount), (Book.CUSTOMER_CREDIT, account, -order.amount)]
        else:
            entries = [(Book.ADJUSTMENTS, None, order.amount), (Book.GATEWAY, None, -order.amount)]
        post(at=order.created_at, currency=order.currency, memo=f"Support {order.kind}: {order.reason}", order=order,
             entries=entries)
        record_receipt(order)
    event = Event.SUPPORT_CREDIT if order.kind == OrderKind.CREDIT else Event.SUPPORT_REFUND
    audit(actor=actor, account=account, action=event,
          order_id=order.order_id, refers_to=order.refers_to.order_id if order.refers_to_id else None,
          amount=order.amount, reason=order.reason, succeeded=result.succeeded)
    return order


def settle_claimed_support(payment: payments.Payment) -> None:
    """The reconciler's step 3 for a support refund or credit a crash interrupted."""
    payments.finish(payment, payments.replay(payment), lambda p, results: _apply(p, results, actor=None))
