"""What the billing actions share: the subscription row, the store refusal, and turning the
domain core's refusals into the actions' typed ones."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import IntegrityError, transaction

from camcare.billing.channels import STORE_NAMES, STORE_STEPS, is_store_managed, store_of
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Subscription
from camcare.catalog import get_catalog
from camcare.domain.pricing import ChangeRefused


def subscription_for(account) -> Subscription:
    """The account's subscription row, created when missing: it exists before the first
    change is priced, so two first subscriptions race on one version like any change."""
    subscription = Subscription.objects.filter(account=account).first()
    if subscription is not None:
        return subscription
    try:
        with transaction.atomic():
            return Subscription.objects.create(account=account, currency=get_catalog().currency)
    except IntegrityError:  # created concurrently
        return Subscription.objects.get(account=account)


def refuse_if_store(subscription: Subscription | None) -> None:
    if not is_store_managed(subscription):
        return
    store = store_of(subscription)
    raise BillingRefusal(
        "managed_in_app_store",
        f"This subscription was bought in the camcare app through {STORE_NAMES.get(store, 'an app store')}; "
        f"change or cancel it there.",
        extra={"store": store, "steps": STORE_STEPS.get(store, [])},
    )


@contextmanager
def as_refusal():
    """The domain core's ChangeRefused, raised as the BillingRefusal of the same code."""
    try:
        yield
    except ChangeRefused as refused:
        raise BillingRefusal(refused.code, refused.message) from refused
