"""Refusals of billing actions as sentences for people, each stored under a reference."""

from __future__ import annotations

from dataclasses import dataclass

from camcare.audit.errors import record_error

MESSAGES = {
    "invalid_state": "That choice of plans is not possible. Check the plan of each camera.",
    "unknown_plan": "That plan does not exist (any more). Choose one of the plans shown.",
    "unknown_camera": "One of these cameras is not on your account any more. Reload the page.",
    "invalid_cycle": "Choose a monthly or an annual billing cycle.",
    "too_many_premium_cameras": "Premium covers at most 10 cameras. Put the others on Plus or Free.",
    "too_many_cameras": "That is more cameras than the plan allows.",
    "invalid_card_token": "That card was not accepted. Use one of the test cards shown.",
    "managed_in_app_store": "This subscription was bought in the mobile app: change or cancel it in the app store.",
    "past_due": "Your last bill is unpaid. Save a card that works (we retry at once), or cancel.",
    "quote_stale": "Prices or your plan changed since this preview (or it is over 10 minutes old). Nothing was changed: please preview again.",
    "change_in_progress": "Another change of your plan is being made right now. Nothing was changed: wait a moment and try again.",
    "nothing_scheduled": "There is no scheduled change to drop.",
    "payment_method_required": "Add a payment card first: this change needs a payment. Nothing was changed.",
    "payment_failed": "Your card was declined. Nothing was changed.",
}

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
    return f"Your card was declined ({reason}). Nothing was changed." if reason else MESSAGES["payment_failed"]


def describe(refusal, *, request) -> Shown:
    """`refusal` (a BillingRefusal) as the message to show, recorded under a reference."""
    if refusal.code == "payment_failed":
        message = payment_failed_message(refusal.extra.get("decline_code", ""))
    else:
        message = MESSAGES.get(refusal.code, refusal.message)
    steps = tuple(refusal.extra.get("steps", ())) if refusal.code == "managed_in_app_store" else ()
    reference = record_error(
        request=request, status=refusal.status, code=refusal.code, message=refusal.message
    )
    return Shown(code=refusal.code, message=message, reference=reference, steps=steps)
