"""Checks shared by the billing tests: the ledger, the orders and the sandbox agree."""

from django.db.models import Sum

from camcare.billing.models import (
    LedgerEntry,
    Order,
    SandboxCharge,
    SandboxRefund,
    SubscriptionLine,
)


def assert_books_balance() -> None:
    """Every posting sums to zero, so the whole ledger does (POLICY.md section 8)."""
    per_posting = LedgerEntry.objects.values("posting").annotate(total=Sum("amount"))
    unbalanced = [row for row in per_posting if row["total"] != 0]
    assert unbalanced == []
    assert (LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] or 0) == 0


def book_total(book: str, account=None) -> int:
    entries = LedgerEntry.objects.filter(book=book)
    if account is not None:
        entries = entries.filter(account=account)
    return entries.aggregate(total=Sum("amount"))["total"] or 0


def assert_gateway_agrees() -> None:
    """What the ledger says the card moved is what the sandbox gateway recorded."""
    charged = SandboxCharge.objects.filter(succeeded=True).aggregate(s=Sum("amount"))["s"] or 0
    refunded = SandboxRefund.objects.aggregate(s=Sum("amount"))["s"] or 0
    assert book_total("gateway") == charged - refunded
    succeeded = Order.objects.filter(status="succeeded")
    assert (succeeded.filter(kind="charge").aggregate(s=Sum("amount"))["s"] or 0) == charged
    assert (succeeded.filter(kind="refund").aggregate(s=Sum("amount"))["s"] or 0) == refunded


def assert_refunds_within_charges() -> None:
    for charge in Order.objects.filter(kind="charge"):
        refunded = charge.refunds.exclude(status="failed").aggregate(s=Sum("amount"))["s"] or 0
        assert refunded <= (charge.amount if charge.status == "succeeded" else 0), charge.order_id
    refunds = Order.objects.filter(kind="refund", status="succeeded").aggregate(s=Sum("amount"))["s"] or 0
    charges = Order.objects.filter(kind="charge", status="succeeded").aggregate(s=Sum("amount"))["s"] or 0
    assert refunds <= charges


def assert_lines_never_overcredited() -> None:
    for line in SubscriptionLine.objects.all():
        assert 0 <= line.credited <= line.paid <= line.unit_price, (line.plan, line.paid, line.credited)


def assert_consistent() -> None:
    assert_books_balance()
    assert_gateway_agrees()
    assert_refunds_within_charges()
    assert_lines_never_overcredited()


def money_fields(body: dict) -> dict:
    """The parts of a result R that say what a change costs (for preview == execution)."""
    keys = ("at", "currency", "lines", "net", "charge_now", "credit_used", "credit_added", "refund",
            "erasures", "next_bill", "scheduled_change")
    return {key: body[key] for key in keys}
