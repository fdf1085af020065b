"""Receipts by e-mail: every e-mail about money names its Order ID (POLICY.md section 7)."""

import logging

from django.conf import settings
from django.core.mail import send_mail

from camcare.billing.models import OrderKind
from camcare.display import format_money

log = logging.getLogger("camcare.billing")

KIND_WORDS = {OrderKind.CHARGE: "Payment", OrderKind.REFUND: "Refund", OrderKind.CREDIT: "Credit"}


def send_receipt(order) -> None:
    word = KIND_WORDS.get(order.kind, "Order")
    lines = [
        f"{word} {order.order_id}",
        f"{order.description}",
        f"Amount: {format_money(order.amount, order.currency)}",
    ]
    if order.credit_used:
        lines.append(f"Credit used: {format_money(order.credit_used, order.currency)}")
    if order.refers_to_id:
        lines.append(f"Refund of: {order.refers_to.order_id}")
    lines += ["", f"Receipt: {settings.SITE_URL}/payments/{order.order_id}/",
              "Questions? Reply with this Order ID."]
    try:
        send_mail(f"camcare {word.lower()} {order.order_id}", "\n".join(lines), None, [order.account.email])
    except Exception:  # an e-mail failure must never undo or repeat a money movement
        log.exception("receipt e-mail for %s failed", order.order_id)
