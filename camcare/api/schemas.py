"""Request and response shapes of API.md (they document the OpenAPI file too)."""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, model_validator

from camcare import clock

# Longest id, plan code and cycle a request may name; anything longer cannot exist.
ID_MAX = 64
CODE_MAX = 32

CameraId = Annotated[str, Field(max_length=ID_MAX)]
PlanCode = Annotated[str, Field(max_length=CODE_MAX)]


class ErrorOut(Schema):
    code: str
    message: str
    reference: str = Field(description="Support reference, ERR-...")


class RequestBody(Schema):
    """A JSON object body. Unknown fields are refused: a misspelt field (`camera` for
    `cameras`) must not be ignored and turn a change into a silent no-op."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data):
        if _has_nul(data):
            raise ValueError("Text may not contain NUL characters.")
        return data


def _has_nul(value) -> bool:
    """True if a NUL hides in any text of a JSON value (PostgreSQL cannot store one, and no
    id, code or e-mail contains one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Credentials(RequestBody):
    email: str = Field(max_length=254)
    password: str = Field(max_length=4096)


class AccountOut(Schema):
    id: str
    email: str


class TokenOut(Schema):
    token: str


# POLICY.md section 16: the zone pages and e-mails show instants in; the API stays UTC.
TIME_ZONE_DESCRIPTION = "An IANA time zone name, e.g. America/New_York or UTC"


class AccountDetailOut(AccountOut):
    time_zone: str = Field(description=TIME_ZONE_DESCRIPTION)


class TimeZoneIn(RequestBody):
    time_zone: str = Field(max_length=64, description=TIME_ZONE_DESCRIPTION)


class Prices(Schema):
    monthly: int
    annual: int


class PlanOut(Schema):
    code: str
    name: str
    scope: Literal["camera", "account"]
    max_cameras: int | None
    history_days: int
    currency: str
    prices: Prices


class CardIn(RequestBody):
    token: str = Field(max_length=64)
    # Optional, both or neither: kept for the card-expiring reminder (POLICY.md section 15);
    # left out, the expiry is unknown and no such reminder is sent.
    exp_month: int | None = Field(default=None, ge=1, le=12, description="The card's expiry month, 1-12")
    exp_year: int | None = Field(default=None, ge=2000, le=9999, description="The card's expiry year, four digits")

    @model_validator(mode="after")
    def _expiry_both_or_neither(self):
        if (self.exp_month is None) != (self.exp_year is None):
            raise ValueError("Give both exp_month and exp_year, or neither.")
        today = clock.real_now()  # as the portal's card form: a card's expiry is real time
        if self.exp_year is not None and (self.exp_year, self.exp_month) < (today.year, today.month):
            raise ValueError("This card has expired.")
        return self


class CardOut(Schema):
    brand: str
    last4: str


class Bill(Schema):
    at: str
    amount: int


class ScheduledChange(Schema):
    """The one scheduled change at the period end (POLICY.md section 13)."""

    at: str
    kind: Literal["cycle_switch", "stop"]
    cycle: str | None = Field(description="The cycle billed from `at`; null for a stop")


class SubscriptionOut(Schema):
    status: Literal["none", "active", "past_due", "trialing"]
    channel: Literal["web", "legacy_app", "app_store"]
    store: str | None = None
    cycle: str | None
    current_period_start: str | None
    current_period_end: str | None
    cameras: dict[str, str]
    price: int
    credit_balance: int
    currency: str
    next_bill: Bill | None
    scheduled_change: ScheduledChange | None
    trial_end: str | None = Field(description="The free trial's end while `status` is trialing, else null")


class StateIn(RequestBody):
    """S of API.md: cameras left out keep their plan; a missing cycle keeps the current one."""

    cycle: str | None = Field(default=None, max_length=CODE_MAX, description='"monthly" or "annual"')
    cameras: dict[CameraId, PlanCode] | None = Field(default=None, description="camera id -> plan code")
    trial: StrictBool = Field(default=False, description="Start the paid state as the free trial (POLICY.md section "
                                                   "12): only from no paid line; 409 trial_not_available when "
                                                   "the account or a camera already had one")


class ChangeIn(StateIn):
    quote: str | None = Field(default=None, max_length=ID_MAX)


class CancelIn(RequestBody):
    quote: str | None = Field(default=None, max_length=ID_MAX)


class StopIn(RequestBody):
    """`{}`: turn renewal off (POLICY.md section 13); no field is taken."""


class ResultLine(Schema):
    kind: Literal["charge", "credit"]
    plan: str
    camera: str | None
    amount: int


class Erasure(Schema):
    camera: str
    clips: int
    recorded_before: str
    held: bool = Field(default=False, description="Held clips (after a lapse or a trial that ended unpaid) that "
                                                  "the new plan does not cover: hidden, so not downloadable")


class OrderOut(Schema):
    order_id: str
    kind: Literal["charge", "refund", "credit"]
    amount: int
    credit_used: int
    currency: str
    status: Literal["succeeded", "failed", "pending"]
    created_at: str
    refers_to: str | None
    description: str


class ResultOut(Schema):
    at: str
    currency: str
    lines: list[ResultLine]
    net: int
    charge_now: int
    credit_used: int
    credit_added: int
    refund: int
    erasures: list[Erasure]
    next_bill: Bill | None
    scheduled_change: ScheduledChange | None
    trial_end: str | None = Field(description="The free trial's end when the state after the change is in one")


class PreviewOut(ResultOut):
    quote: str


class ChangeOut(ResultOut):
    subscription: SubscriptionOut
    orders: list[OrderOut]


class CreditEntry(Schema):
    at: str
    amount: int = Field(description="Minor units; positive = added, negative = used")
    reason: str
    order_id: str | None


class CreditOut(Schema):
    balance: int
    currency: str
    entries: list[CreditEntry]


class ClockIn(RequestBody):
    now: str = Field(max_length=64, description="ISO 8601 instant with a time zone, e.g. 2027-03-01T00:00:00Z")


class ClockOut(Schema):
    now: str


class HeldOut(Schema):
    """A camera's held clips (POLICY.md section 6): only their count and erasure date."""

    clips: int = Field(description="How many older clips are held: not listed, playable nor downloadable")
    until: str = Field(description="When they are erased, unless a paid period starts first; ISO 8601 UTC")
