"""Money as people read it, from integer minor units (pages, receipts, e-mails)."""

from decimal import Decimal

from babel.numbers import format_currency


def format_money(cents: int, currency: str = "USD") -> str:
    """`cents` minor units shown as money ("$12.99"). Decimal is for display only."""
    if cents is None or cents == "":
        return ""
    return format_currency(Decimal(int(cents)).scaleb(-2), currency or "USD", locale="en_US")
