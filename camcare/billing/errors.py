"""The one table of refusals of billing actions: each code's HTTP status (API.md, "Refusals
of a change") and the sentence a person is shown for it. The API answers the action's own
message (specific: which camera, which plan); the portal shows `shown_message`."""

from __future__ import annotations

from typing import NamedTuple


class Refusal(NamedTuple):
    status: int
    # What the portal shows; None: the action's message is already written for people
    # (it carries facts only the action knows, such as the catalog's camera limit).
    shown: str | None


REFUSALS: dict[str, Refusal] = {
    "invalid_state": Refusal(422, "That choice of plans is not possible. Check the plan of each camera."),
    "unknown_plan": Refusal(422, "That plan does not exist (any more). Choose one of the plans shown."),
    "unknown_camera": Refusal(422, "One of these cameras is not on your account any more. Reload the page."),
    "invalid_cycle": Refusal(422, "Choose a monthly or an annual billing cycle."),
    "too_many_premium_cameras": Refusal(422, None),
    "invalid_card_token": Refusal(422, "That card was not accepted. Use one of the test cards shown."),
    "invalid_amount": Refusal(422, None),
    "invalid_time": Refusal(422, None),
    "managed_in_app_store": Refusal(409, "This subscription was bought in the mobile app: change or cancel it in the app store."),
    "past_due": Refusal(409, "Your last bill is unpaid. Save a card that works (we retry at once), or cancel."),
    "trial_not_available": Refusal(409, "The free trial is for a first plan only, once per account and per camera, "
                                        "and this account or one of these cameras has had one. Untick the trial "
                                        "to subscribe. Nothing was changed."),
    "nothing_to_stop": Refusal(409, "There is no paid plan to stop: every camera is already on Free."),
    "quote_stale": Refusal(409, "Prices or your plan changed since this preview (or it is over 10 minutes old). "
                                "Nothing was changed: please preview again."),
    "change_in_progress": Refusal(409, "Another change of your plan is being made right now. "
                                       "Nothing was changed: wait a moment and try again."),
    "payment_method_required": Refusal(402, "Add a payment card first: this change needs a payment. Nothing was changed."),
    "payment_failed": Refusal(402, "Your card was declined. Nothing was changed."),
}


class BillingRefusal(Exception):
    def __init__(self, code: str, message: str, *, extra: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = REFUSALS[code].status if code in REFUSALS else 409
        self.extra = extra or {}

    @property
    def shown_message(self) -> str:
        refusal = REFUSALS.get(self.code)
        return refusal.shown if refusal is not None and refusal.shown else self.message


def stale_quote(message: str = "The price shown has changed or expired; review the new preview and confirm again.") -> BillingRefusal:
    return BillingRefusal("quote_stale", message)


def change_in_progress() -> BillingRefusal:
    return BillingRefusal("change_in_progress", "Another change to this subscription is in progress; try again in a moment.")
