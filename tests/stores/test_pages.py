"""A store subscription on the owner's pages (read-only, with its store's steps) and in the
support console (its transaction ids, every notification with its verification result,
the purchases no account holds)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from camcare.billing import actions
from camcare.stores.linking import apple_account_token
from camcare.stores.selectors import support_panel
from tests.conftest import utc
from tests.portal.conftest import signed_in, text
from tests.stores.apple_signing import ApplePurchase
from tests.stores.conftest import APPLE_URL, post_json
from tests.stores.test_apple import PREMIUM, ok, send
from tests.support.otp import verified_client


def home_response(owner):
    response = signed_in(owner).get(reverse("portal:home"))
    assert response.status_code == 200
    return response


def home(owner) -> str:
    return home_response(owner).content.decode()


def test_it_shows_the_store_the_renewal_date_and_the_steps_read_only(owner, cams, iphone):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    response = home_response(owner)
    page, shown = response.content.decode(), text(response)
    assert "This subscription is managed in the App Store" in shown
    assert "Plan Plus monthly" in shown
    assert "Renews 1 Apr 2027, 00:00 UTC, billed by the App Store" in shown
    assert "Tap Subscriptions, then camcare." in shown
    main = page.split("<main", 1)[1]
    assert reverse("portal:change") + '"' not in main and reverse("portal:cancel") not in main


def test_it_says_when_renewal_is_off_and_when_the_store_retries_a_payment(owner, cams, iphone):
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY"))
    ok(send(iphone, "DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_DISABLED", signed=utc(2027, 3, 5), auto_renew=False))
    assert "renewal is turned off in the App Store" in home(owner)
    ok(send(iphone, "DID_FAIL_TO_RENEW", "GRACE_PERIOD", signed=utc(2027, 4, 1), grace_until=utc(2027, 4, 17)))
    page = home(owner)
    assert "could not renew it and is retrying: your plan continues until 17 Apr 2027" in page
    assert "Your last bill is unpaid" not in page


def test_it_shows_a_downgrade_waiting_for_the_renewal(owner, cams, apple_chain):
    premium = ApplePurchase(apple_chain, app_account_token=apple_account_token(owner.pk), product_id=PREMIUM)
    ok(send(premium, "SUBSCRIBED", "INITIAL_BUY"))
    ok(send(premium, "DID_CHANGE_RENEWAL_PREF", "DOWNGRADE", signed=utc(2027, 3, 20),
            renews_as="com.camcare.app.plus.monthly"))
    assert "Renews 1 Apr 2027, 00:00 UTC, as Plus monthly, billed by the App Store" in text(home_response(owner))


def test_it_shows_both_subscriptions_and_keeps_the_web_one_cancellable(owner, cams, iphone, card):
    actions.change_plan(account=owner, cameras={cams[0].id: "plus"}, actor=owner)
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY", product=PREMIUM))
    page = home(owner)
    assert "You also have a subscription in the App Store" in page
    assert "you are paying twice" in page
    assert reverse("portal:cancel") in page.split("<main", 1)[1]


def test_it_shows_support_the_transactions_and_every_notification_with_its_verification(owner, cams, iphone, staff,
                                                                                         card):
    actions.change_plan(account=owner, cameras={cams[0].id: "plus"}, actor=owner)
    ok(send(iphone, "SUBSCRIBED", "INITIAL_BUY", product=PREMIUM))
    ok(send(iphone, "DID_RENEW", start=utc(2027, 4, 1), end=utc(2027, 5, 1), product=PREMIUM))
    panel = support_panel(owner)
    assert [row["purchase"].purchase_id for row in panel["purchases"]] == [iphone.original_transaction_id]
    assert panel["flags"] == ["Two subscriptions: this store purchase is paid beside a paid web subscription."]
    html = render_to_string("stores/_support_panel.html", {"panel": panel})
    assert f"{iphone.original_transaction_id}001" in html and f"{iphone.original_transaction_id}002" in html
    assert html.count('data-testid="store-notification"') == 2
    assert "DID_RENEW" in html and "verified" in html and "Two subscriptions" in html


def test_it_lists_unlinked_purchases_and_rejected_notifications_to_staff_only(owner, cams, apple_chain, staff):
    stranger = ApplePurchase(apple_chain, app_account_token="f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
    ok(send(stranger, "SUBSCRIBED", "INITIAL_BUY"), "unlinked")
    assert post_json(APPLE_URL, {"signedPayload": "forged"}).status_code == 400
    url = reverse("stores:unlinked")
    page = verified_client(staff).get(url)  # staff past the console's second factor
    assert page.status_code == 200
    body = page.content.decode()
    assert stranger.original_transaction_id in body and "f81d4fae-7dec-11d0-a765-00a0c91e6bf6" in body
    assert body.count('data-testid="rejected-notification"') == 1 and "VERIFICATION_FAILURE" in body
    assert signed_in(owner).get(url).status_code == 404
    assert Client().get(url).status_code == 404
