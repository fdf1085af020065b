"""Request and response shapes of API.md (they document the OpenAPI file too)."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import Field


class ErrorOut(Schema):
    code: str
    message: str
    reference: str = Field(description="Support reference, ERR-...")


class Credentials(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=4096)


class AccountOut(Schema):
    id: str
    email: str


class TokenOut(Schema):
    token: str


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


class CardIn(Schema):
    token: str = Field(max_length=64)


class CardOut(Schema):
    brand: str
    last4: str


class Bill(Schema):
    at: str
    amount: int


class ScheduledChange(Schema):
    at: str
    cycle: str


class SubscriptionOut(Schema):
    status: Literal["none", "active", "past_due"]
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


class StateIn(Schema):
    """S of API.md: cameras left out keep their plan; a missing cycle keeps the current one."""

    cycle: str | None = None
    cameras: dict[str, str] | None = None


class ChangeIn(StateIn):
    quote: str | None = Field(default=None, max_length=64)


class CancelIn(Schema):
    quote: str | None = Field(default=None, max_length=64)


class ResultLine(Schema):
    kind: Literal["charge", "credit"]
    plan: str
    camera: str | None
    amount: int


class Erasure(Schema):
    camera: str
    clips: int
    recorded_before: str


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


class ClockIn(Schema):
    now: str


class ClockOut(Schema):
    now: str
