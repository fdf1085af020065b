"""The portal in a real browser: the whole self-service journey of a new owner, a declined
card, and an app-store subscription. The account's test clock walks through March 2027
(POLICY.md section 11), so every amount on the pages is exact. Every page is checked at
390 and 1280 pixels wide: nothing scrolls sideways, axe-core finds nothing serious."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from camcare.accounts.models import Account
from camcare.accounts.services import create_account
from camcare.billing import actions
from camcare.billing.models import Order
from camcare.cameras.services import register_camera
from tests.conftest import PASSWORD, set_clock, utc
from tests.e2e.conftest import PHONE, check_page, readme_screenshot, screenshots

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
    fill_card(page, number)
    expect(page.get_by_text(re.compile(r"Card saved: Visa ending in \d{4}\."))).to_be_visible()


def fill_card(page: Page, number: str, expiry: str = "12/40") -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM/YY)").fill(expiry)
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Save card").click()


def plan_choice(page: Page, camera: str, plan: str):
    return page.get_by_role("group", name=re.compile(rf"^{camera}\b")).get_by_label(re.compile(rf"^\s*{plan}\b", re.I))


def pick(page: Page, porch: str, garden: str, cycle: str = "Monthly", trial: bool = False) -> None:
    """On the change form: a plan per camera and the cycle; the free trial, offered (and
    ticked) to an account that may have one, ticked or not as `trial` says."""
    plan_choice(page, "Porch", porch).check()
    plan_choice(page, "Garden", garden).check()
    page.get_by_role("group", name="Billing cycle").get_by_label(cycle).check()
    set_trial(page, trial)


def set_trial(page: Page, trial: bool) -> None:
    box = page.get_by_label(re.compile(r"free \d+-day trial"))
    if box.count():
        box.set_checked(trial)


def choose(page: Page, porch: str, garden: str, cycle: str = "Monthly") -> None:
    """From home: pick a plan per camera and open the preview."""
    page.goto("/")
    page.get_by_role("link", name=re.compile(r"^(Choose a plan|Change plan)$")).click()
    pick(page, porch, garden, cycle)
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_role("heading", name="Review your change")).to_be_visible()


def plans_shown(page: Page) -> list[str]:
    return page.get_by_test_id("camera-plan").all_inner_texts()


def sign_up(page: Page, email: str) -> Account:
    page.goto("/signup/")
    page.get_by_label("E-mail").fill("not an e-mail")
    page.get_by_label("Password").fill("12345678")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.get_by_text("This password is too common.")).to_be_visible()  # both errors at once
    check_page(page, "sign-up with errors")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Your cameras and plan")).to_be_visible()
    check_page(page, "home of a new owner")
    return Account.objects.get(email=email)


def add_camera_in_the_portal(page: Page) -> None:
    page.get_by_role("link", name="Add a camera").click()
    check_page(page, "add a camera")
    page.get_by_label("Name").fill("Porch")
    page.get_by_label("Model").fill("KC200")
    page.get_by_label("Serial number").fill("sn-walker-1")
    page.get_by_role("button", name="Add camera").click()
    expect(page.get_by_test_id("device-token")).to_have_value(re.compile(r"^dev_"))
    expect(page.get_by_test_id("token-steps")).to_contain_text("Authorization: Device <token>")
    check_page(page, "device token")


def subscribe_after_adding_a_card(page: Page) -> None:
    """No card: the preview offers to add one (not "Confirm and pay"), and comes back."""
    choose(page, "Plus", "Plus")
    expect(page.get_by_test_id("confirm")).to_have_count(0)
    expect(page.get_by_test_id("effect")).to_contain_text("A new subscription starts now, 1 Mar 2027")
    page.get_by_role("link", name="Add a card to pay $7.98").click()
    expiry = page.get_by_label("Expiry (MM/YY)")
    expiry.press_sequentially("12 / 2030")
    expect(expiry).to_have_value("12 / 2030")  # a four-digit year is not cut to "20"
    check_page(page, "card form")
    fill_card(page, "4242 4242 4242 4242", expiry="12 / 2030")
    expect(page.get_by_role("heading", name="Review your change")).to_be_visible()
    page.get_by_role("button", name="Confirm and pay $7.98").click()
    expect(page.get_by_test_id("done-charge")).to_contain_text("$7.98 charged to your card")
    check_page(page, "done")
    assert plans_shown(page) == ["Plus", "Plus"]


def watch_the_running_total(page: Page) -> None:
    page.goto("/change/")
    total, next_bill = page.get_by_test_id("total"), page.get_by_test_id("form-next-bill")
    expect(total).to_have_text("$7.98 a month")
    plan_choice(page, "Porch", "Premium").check()
    expect(total).to_have_text("$16.98 a month")
    expect(next_bill).to_have_text("$16.98 on 1 Apr 2027")
    page.get_by_role("group", name="Billing cycle").get_by_label("Annual").check()
    expect(total).to_have_text("$169.98 a year")
    expect(next_bill).to_have_text("$169.98 on 11 Mar 2028")  # a switch to annual starts a year now
    expect(plan_choice(page, "Garden", "Plus")).to_have_accessible_name(re.compile(r"\$39\.99 a year for this camera"))
    check_page(page, "change form")
    readme_screenshot(page, "change-form-desktop")


def upgrade_both_to_premium(page: Page) -> str:
    choose(page, "Premium", "Premium")
    lines = page.get_by_test_id("line")
    expect(lines.nth(0)).to_contain_text("Unused time on Plus (monthly) after 11 Mar 2027")
    expect(lines.nth(0)).to_contain_text("11 Mar 2027 – 1 Apr 2027 (21 of 31 days)")
    expect(lines.nth(2)).to_contain_text("Remaining time on Premium (monthly) after 11 Mar 2027")
    expect(page.get_by_test_id("camera-changes")).to_contain_text("It keeps 30 days of video history instead of 14")
    expect(page.get_by_test_id("charge-now")).to_have_text("$3.40")
    check_page(page, "preview")
    screenshots(page, "preview")
    readme_screenshot(page, "preview-phone", PHONE)
    page.get_by_role("button", name="Confirm and pay $3.40").click()
    charge = page.get_by_test_id("done-charge")
    expect(charge).to_contain_text("$3.40 charged to your card")
    return re.search(ORDER_ID, charge.inner_text())[0]


def preview_again_when_stale(page: Page, account: Account) -> None:
    choose(page, "Plus", "Premium")
    set_clock(account, utc(2027, 3, 11) + timedelta(minutes=11))
    page.reload()
    expect(page.get_by_test_id("stale")).to_contain_text("This preview is out of date")
    expect(page.get_by_test_id("confirm")).to_have_count(0)
    check_page(page, "stale preview")
    page.get_by_test_id("preview-again").click()
    expect(page.get_by_test_id("stale")).to_have_count(0)
    expect(page.get_by_test_id("confirm")).to_be_visible()


def sign_in_again_keeping_the_choices(page: Page, email: str) -> None:
    page.goto("/change/")
    pick(page, "Plus", "Free", "Annual")
    page.context.clear_cookies(name="sessionid")  # the session ended while the form was open
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_test_id("signed-out-notice")).to_contain_text("with the choices you had made")
    check_page(page, "sign-in after the session ended")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Change plan")).to_be_visible()
    expect(plan_choice(page, "Garden", "Free")).to_be_checked()
    expect(page.get_by_role("group", name="Billing cycle").get_by_label("Annual")).to_be_checked()


def test_it_walks_an_owner_through_every_billing_flow(page: Page):
    account = sign_up(page, "walker@example.com")
    add_camera_in_the_portal(page)
    register_camera(account, "Garden", "KC200", "sn-walker-2")
    set_clock(account, utc(2027, 3, 1))

    subscribe_after_adding_a_card(page)

    # Mar 11: upgrade both to premium; each plus line credits 270, premium costs 880.
    set_clock(account, utc(2027, 3, 11))
    watch_the_running_total(page)
    upgrade_id = upgrade_both_to_premium(page)
    page.get_by_role("link", name="Payments").click()
    row = page.locator(f"[data-order-id='{upgrade_id}']")
    expect(row).to_contain_text("$3.40")
    expect(row).to_contain_text("Succeeded")
    page.goto("/")
    expect(page.get_by_test_id("next-bill")).to_have_text("$12.99 on 1 Apr 2027")
    screenshots(page, "home")
    readme_screenshot(page, "home-desktop")

    preview_again_when_stale(page, account)
    sign_in_again_keeping_the_choices(page, account.email)

    # Mar 21: both back to plus; premium credits 461, two plus lines cost 142 each.
    set_clock(account, utc(2027, 3, 21))
    choose(page, "Plus", "Plus")
    expect(page.get_by_test_id("credit-added")).to_have_text("$1.77")
    page.get_by_role("button", name="Confirm change").click()
    expect(page.get_by_test_id("done-credit")).to_contain_text("$1.77 added to your credit balance, used first on your next bill")
    assert plans_shown(page) == ["Plus", "Plus"]

    # Mar 26: cancel; each plus line credits round(399 x 6/31) = 77, refunded to the card.
    set_clock(account, utc(2027, 3, 26))
    page.goto("/")
    page.get_by_role("link", name="Cancel subscription").click()
    expect(page.get_by_test_id("cancel-refund")).to_contain_text("$1.54 is refunded to your card")
    check_page(page, "cancel page")
    screenshots(page, "cancel-confirmation")
    readme_screenshot(page, "cancel-desktop")
    page.get_by_role("button", name="REMOVE").dblclick()
    refund = page.get_by_test_id("done-refund")
    expect(refund).to_contain_text("$1.54 refunded to your card (Visa ending in 4242)")
    refund_id = re.search(ORDER_ID, refund.inner_text())[0]
    assert plans_shown(page) == ["Free", "Free"]
    check_page(page, "cancelled")
    assert Order.objects.filter(account=account, kind="refund").count() == 1

    page.get_by_role("link", name="Payments").click()
    expect(page.locator(f"[data-order-id='{refund_id}']")).to_contain_text("Refund")
    expect(page.get_by_test_id("order-row")).to_have_count(4)  # 2 charges, 1 credit, 1 refund
    check_page(page, "payment history")
    screenshots(page, "payment-history")
    page.get_by_role("link", name=refund_id).click()
    expect(page.get_by_test_id("receipt-order-id")).to_have_text(refund_id)
    check_page(page, "receipt")


def test_it_shows_a_declined_card_and_changes_nothing(page: Page):
    account = create_account(email="declined@example.com", password=PASSWORD)
    add_cameras(account)
    sign_in(page, account.email)
    save_card(page, "4000 0000 0000 9995")
    choose(page, "Plus", "Plus")
    page.get_by_role("button", name="Confirm and pay $7.98").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your card was declined (insufficient funds). Nothing was changed.")
    expect(alert.get_by_test_id("error-reference")).to_have_text(re.compile(r"ERR-[0-9A-Z]{10}"))
    check_page(page, "declined")
    page.goto("/")
    assert plans_shown(page) == ["Free", "Free"]
    expect(page.get_by_test_id("next-bill")).to_have_text("None")
    expect(page.get_by_test_id("recent-order")).to_contain_text(["Declined: not charged"])


def test_it_refuses_an_app_store_subscription_with_a_reference(page: Page):
    account = create_account(email="apple@example.com", password=PASSWORD)
    add_cameras(account)
    porch = account.cameras.get(name="Porch")
    actions.import_store_subscription(
        account=account, channel="app_store", store="apple", plan="plus",
        camera_ids=[porch.id], period_end=utc(2027, 3, 20), actor=None,
    )
    sign_in(page, account.email)
    assert plans_shown(page) == ["Plus", "Free"]
    main = page.locator("main")
    expect(main.get_by_role("link", name=re.compile("Change plan|Choose a plan|Cancel subscription"))).to_have_count(0)
    page.goto("/cancel/")
    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text("change or cancel it in the app store")
    expect(refusal).to_contain_text("Tap Subscriptions, then camcare.")
    expect(refusal.get_by_test_id("error-reference")).to_have_text(re.compile(r"ERR-[0-9A-Z]{10}"))
    check_page(page, "app-store refusal")
