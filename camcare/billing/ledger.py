"""The append-only double-entry ledger (POLICY.md section 8)."""

from __future__ import annotations

import secrets
from datetime import datetime

from camcare.billing.models import Book, LedgerEntry, Order


class UnbalancedPosting(AssertionError):
    pass


def post(*, at: datetime, currency: str, memo: str, order: Order | None, entries: list[tuple[str, object, int]]) -> str:
    """Write one posting: `entries` are (book, customer account or None, signed minor units).
    Zero amounts are left out; the rest must sum to zero. Returns the posting id ("" when
    every amount is zero: nothing is written)."""
    rows = posting_rows(at=at, currency=currency, memo=memo, order=order, entries=entries)
    LedgerEntry.objects.bulk_create(LedgerEntry(**row) for row in rows)
    return rows[0]["posting"] if rows else ""


def posting_rows(*, at: datetime, currency: str, memo: str, order: Order | None,
                 entries: list[tuple[str, object, int]]) -> list[dict]:
    """The LedgerEntry fields of one posting, for `post` or for a caller that inserts many
    postings in one statement (the billing run): zero amounts left out, the rest summing to
    zero (else UnbalancedPosting), one posting id for them all."""
    kept = [(book, account, amount) for book, account, amount in entries if amount]
    if sum(amount for _, _, amount in kept) != 0:
        raise UnbalancedPosting(f"posting {memo!r} does not sum to zero: {kept}")
    posting = "pst_" + secrets.token_hex(8)
    return [{"posting": posting, "at": at, "book": book, "account": account, "amount": amount,
             "currency": currency, "order": order, "memo": memo[:200]} for book, account, amount in kept]


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
