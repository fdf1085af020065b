"""The append-only double-entry ledger (POLICY.md section 8)."""

from __future__ import annotations

import secrets
from datetime import datetime

from camcare.billing.models import Book, LedgerEntry, Order


class UnbalancedPosting(AssertionError):
    pass


def post(*, at: datetime, currency: str, memo: str, order: Order | None, entries: list[tuple[str, object, int]]) -> str:
    """Write one posting: `entries` are (book, customer account or None, signed minor units).
    Zero amounts are left out; the rest must sum to zero. Returns the posting id."""
    kept = [(book, account, amount) for book, account, amount in entries if amount]
    if sum(amount for _, _, amount in kept) != 0:
        raise UnbalancedPosting(f"posting {memo!r} does not sum to zero: {kept}")
    posting = "pst_" + secrets.token_hex(8)
    LedgerEntry.objects.bulk_create(
        LedgerEntry(posting=posting, at=at, book=book, account=account, amount=amount,
                    currency=currency, order=order, memo=memo[:200])
        for book, account, amount in kept
    )
    return posting


def change_entries(account, *, added: int, credits: int, credit_used: int, credit_added: int, card: int, refund: int) -> list:
    """Entries of a priced change or renewal: service sold (and credited back), the credit
    balance used or grown, the card charged or refunded."""
    return [
        (Book.SALES, None, -added),
        (Book.SALES, None, credits),
        (Book.CUSTOMER_CREDIT, account, credit_used),
        (Book.CUSTOMER_CREDIT, account, -credit_added),
        (Book.GATEWAY, None, card),
        (Book.GATEWAY, None, -refund),
    ]
