"""The saved card (one per account)."""

from __future__ import annotations

from django.db import transaction

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.billing import selectors
from camcare.billing.actions.renewals import retry_unpaid_bill
from camcare.billing.errors import BillingRefusal
from camcare.billing.gateway import get_gateway
from camcare.billing.models import PaymentMethod
from camcare.domain.pricing import Status


def save_payment_method(*, account, token: str, actor, exp_month: int | None = None,
                        exp_year: int | None = None) -> PaymentMethod:
    """Save the card (replacing the old one); a past_due bill is retried at once. Its expiry
    (month 1-12, four-digit year) is kept when given, both or neither: the card-expiring
    reminder reads it; without it the expiry is unknown and no reminder is made."""
    card = get_gateway().card_for(token) if isinstance(token, str) else None
    if card is None:
        raise BillingRefusal("invalid_card_token", "That card token is not valid; use tok_visa, tok_chargeDeclined or tok_insufficientFunds in the sandbox.")
    if not valid_expiry(exp_month, exp_year):  # the form and the API schema refuse it first
        raise ValueError(f"card expiry must be a month 1-12 and a four-digit year, or neither: {exp_month}/{exp_year}")
    with transaction.atomic():
        old = selectors.payment_method_of(account)
        PaymentMethod.objects.filter(account=account).delete()
        method = PaymentMethod.objects.create(account=account, token=token, brand=card.brand, last4=card.last4,
                                              exp_month=exp_month, exp_year=exp_year, created_at=clock.now(account))
        audit(actor=actor, account=account, action=Event.PAYMENT_METHOD_SAVED, brand=card.brand, last4=card.last4,
              old={"brand": old.brand, "last4": old.last4} if old else None, new={"brand": card.brand, "last4": card.last4})
    subscription = selectors.subscription_or_none(account)
    if subscription is not None and subscription.status == Status.PAST_DUE:
        retry_unpaid_bill(subscription_id=subscription.pk, at=clock.now(account), by_owner=True)
    return method


def valid_expiry(exp_month: int | None, exp_year: int | None) -> bool:
    """Both or neither; month 1-12, a four-digit year (the model's constraint)."""
    if exp_month is None or exp_year is None:
        return exp_month is None and exp_year is None
    return 1 <= exp_month <= 12 and 2000 <= exp_year <= 9999
