"""Store fixtures: Apple's chain and Google's signing key made here and configured as the
trusted ones, the Play API's fake transport, and an owner with two cameras whose clock
stands in March 2027."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from camcare.billing import actions
from camcare.billing.models import LedgerEntry, Order, Subscription, SubscriptionLine
from camcare.cameras.models import Camera, Clip
from camcare.stores.linking import apple_account_token
from camcare.stores.models import StorePurchase
from tests.billing.conftest import add_camera
from tests.conftest import set_clock, utc
from tests.stores.apple_signing import AppleChain, ApplePurchase, trust
from tests.stores.google_signing import (
    AUDIENCE,
    PACKAGE,
    SERVICE_ACCOUNT,
    CertsServer,
    FakePlay,
    GoogleSigner,
)

APPLE_URL = "/api/v1/stores/apple/notifications"
GOOGLE_URL = "/api/v1/stores/google/notifications"
MARCH_1 = utc(2027, 3, 1)


@pytest.fixture(scope="session")
def apple_chain() -> AppleChain:
    return AppleChain()


@pytest.fixture(autouse=True)
def apple_settings(settings, apple_chain, tmp_path):
    trust(settings, apple_chain, tmp_path)
    return settings


@pytest.fixture(scope="session")
def google_signer():
    return GoogleSigner()


@pytest.fixture(scope="session")
def certs_server(google_signer):
    server = CertsServer(google_signer.certs)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def google_settings(settings, certs_server):
    settings.STORES_GOOGLE_CERTS_URL = certs_server.url
    settings.STORES_GOOGLE_PUSH_AUDIENCE = AUDIENCE
    settings.STORES_GOOGLE_PUSH_SERVICE_ACCOUNT = SERVICE_ACCOUNT
    settings.STORES_GOOGLE_PACKAGE_NAME = PACKAGE
    settings.STORES_GOOGLE_PLAY_SESSION = "tests.stores.google_signing.fake_session"
    FakePlay.reset()
    yield settings
    FakePlay.reset()


@pytest.fixture
def cams(owner):
    """The owner's Porch (the older) and Garden, the clock at 2027-03-01."""
    porch, garden = add_camera(owner, "Porch"), add_camera(owner, "Garden")
    set_clock(owner, MARCH_1)
    return porch, garden


@pytest.fixture
def card(owner):
    return actions.save_payment_method(account=owner, token="tok_visa", actor=owner)


@pytest.fixture
def iphone(owner, apple_chain) -> ApplePurchase:
    """A Plus monthly purchase made in the iOS app by the owner."""
    return ApplePurchase(apple_chain, app_account_token=apple_account_token(owner.pk))


def post_json(url: str, body, headers=None):
    return Client().post(url, data=json.dumps(body), content_type="application/json", headers=headers or {})


def billing_state(account) -> tuple:
    """Everything a store notification may change for the account, to assert it did not."""
    subscription = Subscription.objects.filter(account=account).values(
        "channel", "store", "status", "cycle", "period_start", "period_end", "next_retry_at", "version").first()
    return (
        subscription, sorted(Camera.objects.filter(account=account).values_list("id", "plan")),
        SubscriptionLine.objects.filter(subscription__account=account).count(),
        Clip.objects.filter(camera__account=account).count(),
        Order.objects.count(), LedgerEntry.objects.count(), StorePurchase.objects.count(),
    )


def no_money_moved() -> bool:
    return not Order.objects.exists() and not LedgerEntry.objects.exists()
