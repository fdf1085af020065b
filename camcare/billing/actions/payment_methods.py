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


def save_payment_method(*, account, token: str, actor) -> PaymentMethod:
    """Save the card (replacing the old one); a past_due bill is retried at once."""
    card = get_gateway().card_for(token) if isinstance(token, str) else None
    if card is None:
        raise BillingRefusal("invalid_card_token", "That card token is not valid; use tok_visa, tok_chargeDeclined or tok_insufficientFunds in the sandbox.")
    with transaction.atomic():
        old = selectors.payment_method_of(account)
        PaymentMethod.objects.filter(account=account).delete()
        method = PaymentMethod.objects.create(account=account, token=token, brand=card.brand, last4=card.last4,
                                              created_at=clock.now(account))
        audit(actor=actor, account=account, action=Event.PAYMENT_METHOD_SAVED, brand=card.brand, last4=card.last4,
              old={"brand": old.brand, "last4": old.last4} if old else None, new={"brand": card.brand, "last4": card.last4})
    subscription = selectors.subscription_or_none(account)
    if subscription is not None and subscription.status == Status.PAST_DUE:
        retry_unpaid_bill(subscription_id=subscription.pk, at=clock.now(account), by_owner=True)
    return method
