"""A store subscription in a real browser: Apple's notification posted to the live server
(signed with the test chain, verified by Apple's library), then the owner's pages show it
read-only with the App Store's steps, and the support console lists the notification with
its verification result."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from camcare.accounts.models import Account
from camcare.accounts.services import create_account
from camcare.cameras.services import register_camera
from camcare.stores.linking import apple_account_token
from tests.conftest import PASSWORD, set_clock, utc
from tests.e2e.conftest import screenshots
from tests.e2e.test_portal import plans_shown, sign_in
from tests.stores.apple_signing import AppleChain, ApplePurchase, trust
from tests.stores.conftest import APPLE_URL
from tests.support.otp import code_of, device_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MARCH_1, APRIL_1 = utc(2027, 3, 1), utc(2027, 4, 1)


@pytest.fixture
def apple_chain(settings, tmp_path) -> AppleChain:
    """Apple's chain made here, trusted by the live server (it runs these settings)."""
    chain = AppleChain()
    trust(settings, chain, tmp_path)
    return chain


def store_owner(apple_chain) -> tuple[Account, ApplePurchase]:
    account = create_account(email="iphone@example.com", password=PASSWORD)
    register_camera(account, "Porch", "KC200", f"SN-{account.pk}-1")
    register_camera(account, "Garden", "KC200", f"SN-{account.pk}-2")
    set_clock(account, MARCH_1)
    return account, ApplePurchase(apple_chain, app_account_token=apple_account_token(account.pk))


def post_notification(live_server, purchase: ApplePurchase) -> dict:
    transaction = purchase.transaction(start=MARCH_1, end=APRIL_1, signed=MARCH_1)
    body = purchase.notification("SUBSCRIBED", subtype="INITIAL_BUY", signed=MARCH_1, transaction=transaction,
                                 renewal=purchase.renewal(signed=MARCH_1))
    request = urllib.request.Request(live_server.url + APPLE_URL, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (the live test server)
        assert response.status == 200
        return json.loads(response.read())


def test_it_shows_a_store_subscription_read_only_with_the_app_stores_steps(page: Page, live_server, apple_chain):
    account, purchase = store_owner(apple_chain)
    assert post_notification(live_server, purchase)["outcome"] == "applied"
    sign_in(page, account.email)
    notice = page.get_by_test_id("app-store-notice")
    expect(notice).to_contain_text("This subscription is managed in the App Store")
    expect(page.get_by_test_id("store-product")).to_have_text("Plus monthly")
    expect(page.get_by_test_id("store-renewal")).to_contain_text("1 Apr 2027, 00:00 UTC")
    expect(page.get_by_test_id("store-steps")).to_contain_text("Tap Subscriptions, then camcare.")
    expect(page.get_by_test_id("store-name")).to_have_text("The App Store")
    assert plans_shown(page) == ["Plus", "Free"]
    main = page.locator("main")
    expect(main.get_by_role("link", name=re.compile("Change plan|Choose a plan|Cancel subscription"))).to_have_count(0)
    expect(main.get_by_role("button")).to_have_count(0)
    screenshots(page, "app-store-home")
    page.goto("/change/")
    expect(page.get_by_test_id("app-store-notice")).to_contain_text("Managed in the App Store")


def test_it_lists_the_store_notification_with_its_verification_in_the_support_console(page: Page, live_server,
                                                                                     apple_chain):
    """Passes once the support account page includes stores/_support_panel.html."""
    account, purchase = store_owner(apple_chain)
    post_notification(live_server, purchase)
    create_account(email="staff@camcare.example", password=PASSWORD)
    Account.objects.filter(email="staff@camcare.example").update(is_staff=True)
    device = device_of(Account.objects.get(email="staff@camcare.example"))
    page.goto("/login/")
    page.get_by_label("E-mail").fill("staff@camcare.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # The console's second factor: the TOTP step, then the console.
    expect(page.get_by_role("heading", name="Second step: your authenticator code")).to_be_visible()
    page.get_by_label("6-digit code").fill(code_of(device))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Support console")).to_be_visible()
    page.goto(f"/support/accounts/{account.pk}/")
    expect(page.get_by_role("heading", name=account.email)).to_be_visible()
    notification = page.get_by_test_id("store-notification")
    expect(notification).to_have_count(1)
    expect(notification).to_contain_text("SUBSCRIBED / INITIAL_BUY")
    expect(notification).to_contain_text("verified")
    expect(page.get_by_test_id("store-purchase")).to_contain_text(purchase.original_transaction_id)
