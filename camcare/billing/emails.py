"""Receipts (POLICY.md sections 7 and 15): every charge, refund and credit order is told to
the owner once, by e-mail through the notices outbox, with its Order ID and amounts."""

from camcare.billing.models import Order, OrderKind, OrderStatus
from camcare.display import format_money
from camcare.notices.outbox import enqueue

KIND_WORDS = {OrderKind.CHARGE: "Payment", OrderKind.REFUND: "Refund", OrderKind.CREDIT: "Credit"}


def record_receipt(order: Order) -> None:
    """Call inside the transaction that settled `order`: the receipt exists exactly when the
    order does, and goes out after the commit. An order that moved nothing has none."""
    if order.status != OrderStatus.SUCCEEDED or not (order.amount or order.credit_used):
        return
    enqueue(account=order.account, kind="receipt", key=f"receipt:{order.order_id}", context={
        "word": KIND_WORDS.get(order.kind, "Order"),
        "order_id": order.order_id,
        "description": order.description,
        "amount": format_money(order.amount, order.currency),
        "credit_used": format_money(order.credit_used, order.currency) if order.credit_used else "",
        "refund_of": order.refers_to.order_id if order.refers_to_id else "",
        "card": f"{order.card_brand} ending in {order.card_last4}" if order.card_last4 else "",
    })
