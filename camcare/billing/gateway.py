"""The payment gateway interface and the built-in sandbox (Stripe-style test tokens).

The sandbox keeps its own records (SandboxCharge/SandboxRefund) like a real gateway:
an idempotency key replays its first answer, a refund never exceeds what is left of
its charge, and declines happen when a card is charged, not when it is saved.

CAMCARE_SANDBOX_LATENCY_MS (milliseconds, default 0) makes every charge, refund and lookup
take that long first, as a real gateway's round trip does: benchmarks and tests of the
billing run's concurrency set it. The wait holds no database connection's transaction
(the payment sequence never calls the gateway inside one) and no lock of the sandbox's.
"""

from __future__ import annotations

import os
import secrets
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from camcare.billing.models import SandboxCharge, SandboxRefund


@dataclass(frozen=True)
class GatewayResult:
    succeeded: bool
    reference: str  # the gateway's id of the charge or refund ("" when refused outright)
    decline_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class Card:
    brand: str
    last4: str


class IdempotencyConflict(Exception):
    """The same idempotency key was sent with different parameters."""


class PaymentGateway(Protocol):
    def card_for(self, token: str) -> Card | None: ...

    def charge(self, *, token: str, amount: int, currency: str, idempotency_key: str) -> GatewayResult: ...

    def refund(self, *, charge_reference: str, amount: int, idempotency_key: str) -> GatewayResult: ...

    def lookup_charge(self, idempotency_key: str) -> GatewayResult | None: ...


DECLINES = {
    "tok_chargeDeclined": ("card_declined", "Your card was declined."),
    "tok_insufficientFunds": ("insufficient_funds", "Your card has insufficient funds."),
}
CARDS = {
    "tok_visa": Card("Visa", "4242"),
    "tok_chargeDeclined": Card("Visa", "0002"),
    "tok_insufficientFunds": Card("Visa", "9995"),
}


def _charge_result(charge) -> GatewayResult:
    """The answer of a recorded charge (a SandboxCharge, or the values just inserted)."""
    message = DECLINES.get(charge.token, ("", ""))[1] if not charge.succeeded else ""
    return GatewayResult(charge.succeeded, charge.id, charge.decline_code, message)


@dataclass(frozen=True)
class _NewCharge:
    """A charge's row as the sandbox inserts it (the fields of SandboxCharge)."""

    id: str
    idempotency_key: str
    token: str
    amount: int
    currency: str
    succeeded: bool
    decline_code: str


LATENCY_ENV = "CAMCARE_SANDBOX_LATENCY_MS"


def latency_from_env() -> float:
    """The sandbox's simulated round trip, in seconds, from CAMCARE_SANDBOX_LATENCY_MS."""
    raw = os.environ.get(LATENCY_ENV, "").strip()
    try:
        milliseconds = float(raw) if raw else 0.0
    except ValueError as error:
        raise ImproperlyConfigured(f"{LATENCY_ENV} must be a number of milliseconds, not {raw!r}") from error
    if milliseconds < 0:
        raise ImproperlyConfigured(f"{LATENCY_ENV} must be >= 0, not {raw!r}")
    return milliseconds / 1000


_CHARGE_COLUMNS = (*_NewCharge.__dataclass_fields__, "created_at")
_INSERT_CHARGE: dict[str, str] = {}  # database vendor -> the statement, in its driver's paramstyle


def _insert_charge(charge: _NewCharge) -> None:
    """The sandbox's book entry of a charge, one plain INSERT on the driver's own cursor:
    the billing run makes thousands a second, and Model.save's machinery, or even Django's
    cursor wrapper, cost more than the statement (a real gateway's book costs us nothing).
    Errors are Django's, as its cursor raises them (IntegrityError for a key used before)."""
    db = connections[DEFAULT_DB_ALIAS]  # this thread's, looked up once
    sql = _INSERT_CHARGE.get(db.vendor)
    if sql is None:
        quote = db.ops.quote_name
        columns = ", ".join(quote(SandboxCharge._meta.get_field(name).column) for name in _CHARGE_COLUMNS)
        marker = "?" if db.vendor == "sqlite" else "%s"  # sqlite3's qmark, psycopg's format
        sql = _INSERT_CHARGE[db.vendor] = (f"INSERT INTO {quote(SandboxCharge._meta.db_table)} ({columns}) "
                                           f"VALUES ({', '.join([marker] * len(_CHARGE_COLUMNS))})")
    values = (charge.id, charge.idempotency_key, charge.token, charge.amount, charge.currency, charge.succeeded,
              charge.decline_code, db.ops.adapt_datetimefield_value(timezone.now()))
    db.ensure_connection()
    with db.wrap_database_errors:
        cursor = db.connection.cursor()
        try:
            cursor.execute(sql, values)
        finally:
            cursor.close()


class SandboxGateway:
    def __init__(self, latency: float | None = None):
        # Seconds per call; read at construction (get_gateway() makes one per payment or
        # batch), so a changed environment applies to the next billing run.
        self.latency = latency_from_env() if latency is None else latency

    def _round_trip(self) -> None:
        if self.latency:
            time.sleep(self.latency)

    def card_for(self, token: str) -> Card | None:
        return CARDS.get(token)

    def charge(self, *, token: str, amount: int, currency: str, idempotency_key: str) -> GatewayResult:
        if amount <= 0:
            raise ValueError("a charge is for a positive amount of minor units")
        self._round_trip()
        decline_code = DECLINES.get(token, ("", ""))[0] if token in CARDS else "invalid_token"
        charge = _NewCharge("ch_" + secrets.token_hex(12), idempotency_key, token, amount, currency,
                            not decline_code, decline_code)
        try:
            # Insert first: almost every key is new, so the usual call is one statement.
            # A savepoint only inside a caller's transaction, which a failed INSERT would
            # otherwise break; on its own the INSERT is atomic.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                _insert_charge(charge)
            existing: SandboxCharge | _NewCharge = charge
        except IntegrityError:  # the key was used before (a replay) or by a concurrent call
            existing = SandboxCharge.objects.get(idempotency_key=idempotency_key)
        if (existing.token, existing.amount, existing.currency) != (token, amount, currency):
            raise IdempotencyConflict(idempotency_key)
        return _charge_result(existing)

    def refund(self, *, charge_reference: str, amount: int, idempotency_key: str) -> GatewayResult:
        if amount <= 0:
            raise ValueError("a refund is for a positive amount of minor units")
        self._round_trip()
        existing = SandboxRefund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if (existing.charge_id, existing.amount) != (charge_reference, amount):
                raise IdempotencyConflict(idempotency_key)
            return GatewayResult(True, existing.id)
        charge = SandboxCharge.objects.filter(id=charge_reference, succeeded=True).first()
        if charge is None:
            return GatewayResult(False, "", "no_such_charge", "There is no such successful charge.")
        with transaction.atomic():
            refunded = sum(charge.refunds.values_list("amount", flat=True))
            if refunded + amount > charge.amount:
                return GatewayResult(False, "", "amount_too_large", "A refund cannot exceed what is left of its charge.")
            created = SandboxRefund.objects.create(
                id="re_" + secrets.token_hex(12), idempotency_key=idempotency_key, charge=charge, amount=amount
            )
        return GatewayResult(True, created.id)

    def lookup_charge(self, idempotency_key: str) -> GatewayResult | None:
        self._round_trip()
        charge = SandboxCharge.objects.filter(idempotency_key=idempotency_key).first()
        return _charge_result(charge) if charge else None


def get_gateway() -> PaymentGateway:
    return import_string(settings.PAYMENT_GATEWAY)()
