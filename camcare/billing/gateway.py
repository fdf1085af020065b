"""The payment gateway interface and the built-in sandbox (Stripe-style test tokens).

The sandbox keeps its own records (SandboxCharge/SandboxRefund) like a real gateway:
an idempotency key replays its first answer, a refund never exceeds what is left of
its charge, and declines happen when a card is charged, not when it is saved.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
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


def _charge_result(charge: SandboxCharge) -> GatewayResult:
    message = DECLINES.get(charge.token, ("", ""))[1] if not charge.succeeded else ""
    return GatewayResult(charge.succeeded, charge.id, charge.decline_code, message)


class SandboxGateway:
    def card_for(self, token: str) -> Card | None:
        return CARDS.get(token)

    def charge(self, *, token: str, amount: int, currency: str, idempotency_key: str) -> GatewayResult:
        if amount <= 0:
            raise ValueError("a charge is for a positive amount of minor units")
        existing = SandboxCharge.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            decline_code = DECLINES.get(token, ("", ""))[0] if token in CARDS else "invalid_token"
            try:
                with transaction.atomic():
                    existing = SandboxCharge.objects.create(
                        id="ch_" + secrets.token_hex(12),
                        idempotency_key=idempotency_key,
                        token=token,
                        amount=amount,
                        currency=currency,
                        succeeded=not decline_code,
                        decline_code=decline_code,
                    )
            except IntegrityError:  # a concurrent call with the same key won
                existing = SandboxCharge.objects.get(idempotency_key=idempotency_key)
        if (existing.token, existing.amount, existing.currency) != (token, amount, currency):
            raise IdempotencyConflict(idempotency_key)
        return _charge_result(existing)

    def refund(self, *, charge_reference: str, amount: int, idempotency_key: str) -> GatewayResult:
        if amount <= 0:
            raise ValueError("a refund is for a positive amount of minor units")
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
        charge = SandboxCharge.objects.filter(idempotency_key=idempotency_key).first()
        return _charge_result(charge) if charge else None


def get_gateway() -> PaymentGateway:
    return import_string(settings.PAYMENT_GATEWAY)()
