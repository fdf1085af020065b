"""Refusals of billing actions as sentences for people, each stored under a reference."""

from __future__ import annotations

from dataclasses import dataclass

from camcare.audit.errors import record_error
from camcare.billing.errors import REFUSALS, BillingRefusal

DECLINE_REASONS = {
    "insufficient_funds": "insufficient funds",
    "card_declined": "",
    "expired_card": "expired card",
    "invalid_token": "the card is not valid",
}


@dataclass(frozen=True)
class Shown:
    code: str
    message: str
    reference: str
    steps: tuple[str, ...] = ()  # how to cancel in the app store, for managed_in_app_store


def payment_failed_message(decline_code: str) -> str:
    reason = DECLINE_REASONS.get(decline_code, decline_code.replace("_", " "))
    return f"Your card was declined ({reason}). Nothing was changed." if reason else REFUSALS["payment_failed"].shown


def describe(refusal, *, request) -> Shown:
    """`refusal` (a BillingRefusal) as the message to show, recorded under a reference."""
    if refusal.code == "payment_failed":
        message = payment_failed_message(refusal.extra.get("decline_code", ""))
    else:
        message = refusal.shown_message
    steps = tuple(refusal.extra.get("steps", ())) if refusal.code == "managed_in_app_store" else ()
    reference = record_error(
        request=request, status=refusal.status, code=refusal.code, message=refusal.message
    )
    return Shown(code=refusal.code, message=message, reference=reference, steps=steps)


def store_refusal(request, store: dict, what: str) -> Shown:
    """The app-store refusal of a page the portal does not offer for such a subscription
    (cancel, change), shown with its reference and the store's steps like any refusal.
    `store` is the page's store context (store_name, store_steps)."""
    refusal = BillingRefusal(
        "managed_in_app_store", f"App-store subscription {what}: refused.",
        extra={"steps": list(store.get("store_steps") or [])},
    )
    return describe(refusal, request=request)
