"""Reads of billing state. Money figures are derived from the ledger and the orders."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from camcare.billing.models import (
    Book,
    Channel,
    LedgerEntry,
    Order,
    OrderKind,
    OrderStatus,
    PaymentMethod,
    Quote,
    Subscription,
    SubscriptionLine,
)
from camcare.billing.outcomes import outcome_from_json
from camcare.cameras.models import Camera
from camcare.catalog import get_catalog
from camcare.domain.periods import Cycle, Period, iso_z
from camcare.domain.pricing import (
    CardPayment,
    HeldLine,
    LineKey,
    PlanState,
    Snapshot,
    Status,
    state_price,
)


def subscription_or_none(account) -> Subscription | None:
    return Subscription.objects.filter(account=account).first()


def current_plans(account) -> dict[str, str]:
    return dict(Camera.objects.filter(account=account).values_list("id", "plan"))


def credit_balance(account) -> int:
    """What camcare owes the customer as credit, in minor units (>= 0)."""
    total = LedgerEntry.objects.filter(account=account, book=Book.CUSTOMER_CREDIT).aggregate(s=Sum("amount"))["s"]
    return -(total or 0)


def receivable_balance(account) -> int:
    """The unpaid renewal of a past_due subscription, in minor units (>= 0)."""
    total = LedgerEntry.objects.filter(account=account, book=Book.RECEIVABLE).aggregate(s=Sum("amount"))["s"]
    return total or 0


def refunded_of(order: Order) -> int:
    """Minor units refunded (or being refunded) against a charge."""
    total = order.refunds.filter(status__in=[OrderStatus.SUCCEEDED, OrderStatus.PENDING]).aggregate(s=Sum("amount"))["s"]
    return total or 0


def refundable_of(order: Order) -> int:
    if order.kind != OrderKind.CHARGE or order.status != OrderStatus.SUCCEEDED:
        return 0
    return order.amount - refunded_of(order)


def card_payments_of_period(subscription: Subscription) -> tuple[CardPayment, ...]:
    """The period's card charges, newest first, with what is still refundable of each."""
    if subscription.period_start is None:
        return ()
    live_refunds = Q(refunds__status__in=[OrderStatus.SUCCEEDED, OrderStatus.PENDING])
    charges = (
        Order.objects.filter(
            account_id=subscription.account_id, kind=OrderKind.CHARGE, status=OrderStatus.SUCCEEDED,
            period_start=subscription.period_start, amount__gt=0,
        )
        .annotate(refunded=Coalesce(Sum("refunds__amount", filter=live_refunds), 0))
        .order_by("-created_at", "-id")
        .values_list("order_id", "amount", "refunded")
    )
    return tuple(
        CardPayment(order_id, amount - refunded) for order_id, amount, refunded in charges if amount > refunded
    )


def active_lines(subscription: Subscription):
    return SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=True).order_by("id")


def held_line(line: SubscriptionLine) -> HeldLine:
    key = LineKey(line.plan, line.camera_key or None, Cycle(line.cycle))
    return HeldLine(key, line.unit_price, line.paid, line.credited)


def snapshot(account, subscription: Subscription | None) -> Snapshot:
    cameras = current_plans(account)
    if subscription is None or subscription.status == Status.NONE:
        cycle = Cycle(subscription.cycle) if subscription else Cycle.MONTHLY
        return Snapshot(PlanState(cycle, cameras), Status.NONE, None, None, (), credit_balance(account), ())
    return Snapshot(
        state=PlanState(Cycle(subscription.cycle), cameras),
        status=Status(subscription.status),
        anchor=subscription.anchor,
        period=Period(subscription.period_start, subscription.period_end),
        lines=tuple(held_line(line) for line in active_lines(subscription)),
        credit_balance=credit_balance(account),
        card_payments=card_payments_of_period(subscription),
        scheduled_cycle=Cycle(subscription.scheduled_cycle) if subscription.scheduled_cycle else None,
    )


def payment_method_of(account) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(account=account).first()


def next_bill(account, subscription: Subscription | None) -> dict | None:
    """{at, amount}: when the card is charged next and how much (price less credit, >= 0).
    While past_due: the next retry of the unpaid bill."""
    if subscription is None or subscription.status == Status.NONE:
        return None
    balance = credit_balance(account)
    if subscription.status == Status.PAST_DUE:
        due = receivable_balance(account)
        at = subscription.next_retry_at
        return {"at": iso_z(at), "amount": max(0, due - balance)} if at else None
    if subscription.channel == Channel.APP_STORE:
        return None  # the store bills it
    cycle = Cycle(subscription.scheduled_cycle or subscription.cycle)
    price = state_price(PlanState(cycle, current_plans(account)), get_catalog())
    return {"at": iso_z(subscription.period_end), "amount": max(0, price - balance)}


def scheduled_change(subscription: Subscription | None) -> dict | None:
    if subscription is None or not subscription.scheduled_cycle or subscription.status == Status.NONE:
        return None
    return {"at": iso_z(subscription.period_end), "cycle": subscription.scheduled_cycle}


def subscription_summary(account) -> dict:
    """GET /subscription (API.md)."""
    subscription = subscription_or_none(account)
    catalog = get_catalog()
    cameras = current_plans(account)
    paid = subscription is not None and subscription.status != Status.NONE
    # What the period in force costs: each line at the price it was billed at (a new catalog
    # price shows from the line's next renewal, in next_bill).
    price = sum(line.unit_price for line in active_lines(subscription)) if paid else 0
    return {
        "status": subscription.status if subscription else "none",
        "channel": subscription.channel if subscription else Channel.WEB.value,
        "store": (subscription.store or None) if subscription else None,
        "cycle": subscription.cycle if paid else None,
        "current_period_start": iso_z(subscription.period_start) if paid else None,
        "current_period_end": iso_z(subscription.period_end) if paid else None,
        "cameras": cameras,
        "price": price,
        "credit_balance": credit_balance(account),
        "currency": catalog.currency,
        "next_bill": next_bill(account, subscription),
        "scheduled_change": scheduled_change(subscription),
    }


def orders_of(account):
    return Order.objects.filter(account=account).select_related("refers_to").order_by("-created_at", "-id")


def order_to_api(order: Order) -> dict:
    return {
        "order_id": order.order_id,
        "kind": order.kind,
        "amount": order.amount,
        "credit_used": order.credit_used,
        "currency": order.currency,
        "status": order.status,
        "created_at": iso_z(order.created_at),
        "refers_to": order.refers_to.order_id if order.refers_to_id else None,
        "description": order.description,
    }


def _credit_order_id(entry: LedgerEntry) -> str | None:
    """The order a credit movement belongs to. A change posts once, under its first order,
    so the credit a cancellation returns to the balance is posted under its refund; the
    order that added it is the change's `credit` order (the same quote)."""
    order = entry.order
    if order is None:
        return None
    if entry.amount < 0 and order.kind != OrderKind.CREDIT and order.quote_id:
        credit = Order.objects.filter(quote_id=order.quote_id, kind=OrderKind.CREDIT).values_list("order_id", flat=True)
        return credit.first() or order.order_id
    return order.order_id


def credit_history(account) -> list[dict]:
    """Every credit added (+) and used (-), newest first, from the ledger."""
    entries = (
        LedgerEntry.objects.filter(account=account, book=Book.CUSTOMER_CREDIT)
        .select_related("order").order_by("-at", "-id")
    )
    return [
        {
            "at": iso_z(entry.at),
            "amount": -entry.amount,
            "reason": entry.memo,
            "order_id": _credit_order_id(entry),
        }
        for entry in entries
    ]


def find_order(account, order_id: str) -> Order | None:
    return orders_of(account).filter(order_id=order_id).first()


def due_subscriptions(at):
    """Subscriptions with a renewal or a retry due at `at` (for the billing run)."""
    return Subscription.objects.filter(
        Q(status=Status.ACTIVE, period_end__lte=at) | Q(status=Status.PAST_DUE, next_retry_at__lte=at)
    ).exclude(channel=Channel.APP_STORE)


def quote_shrinks(account, quote_id: str) -> list[tuple[str, datetime]] | None:
    """(camera id, cut-off) of each camera whose window the account's quoted change shrinks,
    i.e. what executing it erases; None when the account has no such quote."""
    quote = Quote.objects.filter(account=account, id=quote_id).first() if "\x00" not in quote_id else None
    if quote is None:
        return None
    return [(shrink.camera, shrink.cutoff) for shrink in outcome_from_json(quote.outcome).shrinks]
