"""The portal in a real browser: the whole self-service journey of an owner, a declined
card, and an app-store subscription. The account's test clock walks through March 2027
(POLICY.md section 11), so every amount on the pages is exact."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from camcare.accounts.models import Account
from camcare.accounts.services import create_account
from camcare.billing import actions
from camcare.billing.models import Order
from camcare.cameras.services import register_camera
from tests.conftest import PASSWORD, set_clock, utc
from tests.e2e.conftest import screenshots

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ORDER_ID = r"ORD-[0-9A-Z]{10}"


def sign_in(page: Page, email: str) -> None:
    page.goto("/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your cameras and plan")).to_be_visible()


def add_cameras(account: Account) -> None:
    register_camera(account, "Porch", "KC200", f"SN-{account.pk}-1")
    register_camera(account, "Garden", "KC200", f"SN-{account.pk}-2")
    set_clock(account, utc(2027, 3, 1))


def save_card(page: Page, number: str) -> None:
    page.goto("/")
    page.get_by_role("link", name=re.compile(r"(Add a|Change) card")).click()
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM/YY)").fill("12/40")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_text(re.compile(r"Card saved: Visa ending in \d{4}\."))).to_be_visible()


def choose(page: Page, porch: str, garden: str) -> None:
    """From home: pick a plan per camera, monthly, and open the preview."""
    page.goto("/")
    page.get_by_role("link", name=re.compile(r"^(Choose a plan|Change plan)$")).click()
    page.get_by_label("Porch").select_option(porch)
    page.get_by_label("Garden").select_option(garden)
    page.get_by_label("Monthly").check()
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_role("heading", name="Review your change")).to_be_visible()


def plans_shown(page: Page) -> list[str]:
    return page.get_by_test_id("camera-plan").all_inner_texts()


def test_it_walks_an_owner_through_every_billing_flow(page: Page):
    page.goto("/signup/")
    page.get_by_label("E-mail").fill("walker@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Your cameras and plan")).to_be_visible()
    account = Account.objects.get(email="walker@example.com")
    add_cameras(account)

    save_card(page, "4242 4242 4242 4242")
    expect(page.get_by_test_id("card")).to_have_text("Visa ending in 4242")

    # Subscribe two cameras to plus on Mar 1: 2 x 399.
    choose(page, "plus", "plus")
    expect(page.get_by_test_id("charge-now")).to_have_text("$7.98")
    page.get_by_role("button", name="Confirm and pay $7.98").click()
    expect(page.get_by_test_id("done-charge")).to_contain_text("$7.98 charged to your card")
    assert plans_shown(page) == ["Plus", "Plus"]

    # Mar 11: upgrade both to premium; each plus line credits 270, premium costs 880.
    set_clock(account, utc(2027, 3, 11))
    choose(page, "premium", "premium")
    expect(page.get_by_test_id("charge-now")).to_have_text("$3.40")
    screenshots(page, "preview")
    page.get_by_role("button", name="Confirm and pay $3.40").click()
    charge = page.get_by_test_id("done-charge")
    expect(charge).to_contain_text("$3.40 charged to your card")
    upgrade_id = re.search(ORDER_ID, charge.inner_text())[0]
    page.get_by_role("link", name="Payments").click()
    row = page.locator(f"[data-order-id='{upgrade_id}']")
    expect(row).to_contain_text("$3.40")
    expect(row).to_contain_text("Succeeded")
    page.goto("/")
    expect(page.get_by_test_id("next-bill")).to_have_text("$12.99 on Apr 1, 2027")
    screenshots(page, "home")

    # Mar 21: both back to plus; premium credits 461, two plus lines cost 142 each.
    set_clock(account, utc(2027, 3, 21))
    choose(page, "plus", "plus")
    expect(page.get_by_test_id("credit-added")).to_have_text("$1.77")
    page.get_by_role("button", name="Confirm change").click()
    expect(page.get_by_test_id("done-credit")).to_contain_text("$1.77 added to your credit balance")
    assert plans_shown(page) == ["Plus", "Plus"]

    # Mar 26: cancel; each plus line credits round(399 x 6/31) = 77, refunded to the card.
    set_clock(account, utc(2027, 3, 26))
    page.goto("/")
    page.get_by_role("link", name="Cancel subscription").click()
    expect(page.get_by_test_id("cancel-refund")).to_contain_text("$1.54 is refunded to your card")
    screenshots(page, "cancel-confirmation")
    page.get_by_role("button", name="REMOVE").dblclick()
    refund = page.get_by_test_id("done-refund")
    expect(refund).to_contain_text("$1.54 refunded to your card (Visa ending in 4242)")
    refund_id = re.search(ORDER_ID, refund.inner_text())[0]
    assert plans_shown(page) == ["Free", "Free"]
    assert Order.objects.filter(account=account, kind="refund").count() == 1

    page.get_by_role("link", name="Payments").click()
    expect(page.locator(f"[data-order-id='{refund_id}']")).to_contain_text("Refund")
    expect(page.get_by_test_id("order-row")).to_have_count(4)  # 2 charges, 1 credit, 1 refund
    screenshots(page, "payment-history")
    page.get_by_role("link", name=refund_id).click()
    expect(page.get_by_test_id("receipt-order-id")).to_have_text(refund_id)


def test_it_shows_a_declined_card_and_changes_nothing(page: Page):
    account = create_account(email="declined@example.com", password=PASSWORD)
    add_cameras(account)
    sign_in(page, account.email)
    save_card(page, "4000 0000 0000 9995")
    choose(page, "plus", "plus")
    page.get_by_role("button", name="Confirm and pay $7.98").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your card was declined (insufficient funds). Nothing was changed.")
    expect(alert.get_by_test_id("error-reference")).to_have_text(re.compile(r"ERR-[0-9A-Z]{10}"))
    page.goto("/")
    assert plans_shown(page) == ["Free", "Free"]
    expect(page.get_by_test_id("next-bill")).to_have_text("None")


def test_it_shows_an_app_store_subscription_without_change_buttons(page: Page):
    account = create_account(email="apple@example.com", password=PASSWORD)
    add_cameras(account)
    porch = account.cameras.get(name="Porch")
    actions.import_store_subscription(
        account=account, channel="app_store", store="apple", plan="plus",
        camera_ids=[porch.id], period_end=utc(2027, 3, 20), actor=None,
    )
    sign_in(page, account.email)
    expect(page.get_by_test_id("app-store-notice")).to_contain_text("managed in the App Store")
    expect(page.get_by_test_id("store-steps")).to_contain_text("Tap Subscriptions, then camcare.")
    assert plans_shown(page) == ["Plus", "Free"]
    main = page.locator("main")
    expect(main.get_by_role("link", name=re.compile("Change plan|Choose a plan|Cancel subscription"))).to_have_count(0)
    expect(main.get_by_role("button")).to_have_count(0)
