"""Reads of billing state. Money figures are derived from the ledger and the orders.

The reads every preview and change makes (the account's plans, the held lines, the
subscription with its credit balance) are plain SQL: building and compiling an ORM query
costs about ten times what SQLite takes to run these, and a preview makes one per request.
The SQL is portable (SQLite and PostgreSQL) and names tables from the models.
"""

from __future__ import annotations

from datetime import datetime
from weakref import WeakKeyDictionary

from django.db import connection
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


_PLANS_SQL = f"SELECT id, plan FROM {Camera._meta.db_table} WHERE account_id = %s ORDER BY created_at, id"


def current_plans(account) -> dict[str, str]:
    """{camera id: plan code} of the account's cameras, oldest camera first (Camera's order).
    `account` is an Account or its id, as the ORM filter this replaces took either."""
    with connection.cursor() as cursor:
        cursor.execute(_PLANS_SQL, [getattr(account, "pk", account)])
        return dict(cursor.fetchall())


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


# The credit balance is minus the customer_credit book's sum; CAST keeps it an integer on
# PostgreSQL too, whose SUM of a bigint column is a numeric.
_SUBSCRIPTION_WITH_CREDIT_SQL = (
    f"SELECT {', '.join('s.' + field.column for field in Subscription._meta.concrete_fields)}, "
    f"(SELECT CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) FROM {LedgerEntry._meta.db_table} e "
    f"WHERE e.account_id = s.account_id AND e.book = %s) "
    f"FROM {Subscription._meta.db_table} s WHERE s.account_id = %s"
)


def subscription_with_credit(account) -> tuple[Subscription, int] | None:
    """The account's subscription row and its credit balance (minor units, >= 0), read in one
    statement, so from one state of the database; None when the account has no row yet."""
    with connection.cursor() as cursor:
        cursor.execute(_SUBSCRIPTION_WITH_CREDIT_SQL, [Book.CUSTOMER_CREDIT, account.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    *columns, book_sum = row
    return _model_from_row(Subscription, columns), -book_sum


# Per database connection (its operations object, so a connection's converters die with it),
# the converters of each concrete field of a model read by plain SQL: what the ORM's
# compiler works out again for every query (a raw query set too), worked out once.
_CONVERTERS: WeakKeyDictionary = WeakKeyDictionary()


def _model_from_row(model, columns: list):
    """The `model` instance whose concrete fields, in their order, hold the values `columns`
    read from the database, converted as the ORM converts them (on SQLite, say, an instant
    comes back naive and is made aware)."""
    known = _CONVERTERS.setdefault(connection.ops, {})
    if model not in known:
        cols = [field.get_col(model._meta.db_table) for field in model._meta.concrete_fields]
        known[model] = [(col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)) for col in cols]
    values = []
    for value, (col, converters) in zip(columns, known[model], strict=True):
        for convert in converters:
            value = convert(value, col, connection)
        values.append(value)
    return model.from_db(connection.alias, [field.attname for field in model._meta.concrete_fields], values)


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


_HELD_LINES_SQL = (
    f"SELECT plan, camera_key, cycle, unit_price, paid, credited FROM {SubscriptionLine._meta.db_table} "
    f"WHERE subscription_id = %s AND ended_at IS NULL ORDER BY id"
)


def held_lines(subscription: Subscription) -> tuple[HeldLine, ...]:
    """The lines of active_lines(subscription) as the domain core holds them, in their order."""
    with connection.cursor() as cursor:
        cursor.execute(_HELD_LINES_SQL, [subscription.pk])
        rows = cursor.fetchall()
    return tuple(HeldLine(LineKey(plan, camera or None, Cycle(cycle)), unit_price, paid, credited)
                 for plan, camera, cycle, unit_price, paid, credited in rows)


def snapshot(account, subscription: Subscription | None) -> Snapshot:
    return snapshot_of(subscription, current_plans(account), credit_balance(account))


def snapshot_of(subscription: Subscription | None, cameras: dict[str, str], balance: int, *,
                card_payments: bool = True) -> Snapshot:
    """The Snapshot of a subscription row (None: no row) from the account's plans and credit
    balance read with it. card_payments=False leaves the period's card payments out (one
    query less): only a change that can refund reads them (pricing.can_refund)."""
    if subscription is None or subscription.status == Status.NONE:
        cycle = Cycle(subscription.cycle) if subscription else Cycle.MONTHLY
        return Snapshot(PlanState(cycle, cameras), Status.NONE, None, None, (), balance, ())
    return Snapshot(
        state=PlanState(Cycle(subscription.cycle), cameras),
        status=Status(subscription.status),
        anchor=subscription.anchor,
        period=Period(subscription.period_start, subscription.period_end),
        lines=held_lines(subscription),
        credit_balance=balance,
        card_payments=card_payments_of_period(subscription) if card_payments else (),
        scheduled_cycle=Cycle(subscription.scheduled_cycle) if subscription.scheduled_cycle else None,
        scheduled_stop=subscription.scheduled_stop,
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
    if subscription.scheduled_stop:
        return None  # nothing is billed at the period end (POLICY.md section 13)
    cycle = Cycle(subscription.scheduled_cycle or subscription.cycle)
    price = state_price(PlanState(cycle, current_plans(account)), get_catalog())
    return {"at": iso_z(subscription.period_end), "amount": max(0, price - balance)}


def scheduled_change(subscription: Subscription | None) -> dict | None:
    """{at, kind: "cycle_switch"|"stop", cycle} (cycle null for a stop), or None."""
    if subscription is None or subscription.status == Status.NONE:
        return None
    if subscription.scheduled_stop:
        return {"at": iso_z(subscription.period_end), "kind": "stop", "cycle": None}
    if not subscription.scheduled_cycle:
        return None
    return {"at": iso_z(subscription.period_end), "kind": "cycle_switch", "cycle": subscription.scheduled_cycle}


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
        "trial_end": iso_z(subscription.period_end) if paid and subscription.status == Status.TRIALING else None,
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


def quote_shrinks(account, quote_id: str) -> list[tuple[str, datetime]] | None:
    """(camera id, cut-off) of each camera whose window the account's quoted change shrinks,
    i.e. what executing it erases; None when the account has no such quote."""
    quote = Quote.objects.filter(account=account, id=quote_id).first() if "\x00" not in quote_id else None
    if quote is None:
        return None
    return [(shrink.camera, shrink.cutoff) for shrink in outcome_from_json(quote.outcome).shrinks]
