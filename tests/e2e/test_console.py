"""The support console in a real browser: a new staff member signs in, sets up an
authenticator app (the key shown once), passes the TOTP step, finds an account by an Order
ID typed loosely, reads its timeline and refunds part of a charge in dollars. Every page
(verify, enrol, search, account) is checked at 390 and 1280 pixels wide: nothing scrolls
sideways, axe-core finds nothing serious."""

from __future__ import annotations

import re
from base64 import b32decode

import pytest
from django_otp.oath import totp
from playwright.sync_api import Page, expect

from camcare.accounts.models import Account
from camcare.accounts.services import create_account
from camcare.billing import actions
from camcare.billing.models import Order
from camcare.cameras.services import register_camera
from tests.conftest import PASSWORD, set_clock, utc
from tests.e2e.conftest import check_page, readme_screenshot, screenshots
from tests.support.otp import code_of, device_of, wrong_code

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def make_staff(email: str) -> Account:
    account = create_account(email=email, password=PASSWORD)
    Account.objects.filter(pk=account.pk).update(is_staff=True)
    return Account.objects.get(pk=account.pk)


def paid_owner(email: str) -> Order:
    """An owner with two cameras on plus from 2027-03-01: one $7.98 charge by card."""
    owner = create_account(email=email, password=PASSWORD)
    porch, _ = register_camera(owner, "Porch", "KC200", f"SN-{owner.pk}-1")
    garden, _ = register_camera(owner, "Garden", "KC200", f"SN-{owner.pk}-2")
    set_clock(owner, utc(2027, 3, 1))
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={porch.pk: "plus", garden.pk: "plus"}, actor=owner)
    return Order.objects.get(account=owner, kind="charge")


def sign_in(page: Page, email: str) -> None:
    page.goto("/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Second step: your authenticator code")).to_be_visible()


def test_it_enrols_a_new_staff_member_then_finds_an_account_and_refunds_in_dollars(page: Page):
    charge = paid_owner("caller@example.com")
    make_staff("agent@camcare.example")
    sign_in(page, "agent@camcare.example")
    expect(page.get_by_text("You have none set up yet.")).to_be_visible()
    check_page(page, "verify, no authenticator yet")

    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
    check_page(page, "enrol, password")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Show my key").click()
    secret = page.get_by_test_id("totp-secret").inner_text()
    expect(page.get_by_test_id("totp-uri")).to_contain_text("otpauth://totp/")
    check_page(page, "enrol, key shown")
    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    page.get_by_label("6-digit code").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Confirm the app").click()

    expect(page.get_by_text("Your authenticator app is set up")).to_be_visible()
    expect(page.get_by_role("heading", name="Support console")).to_be_visible()
    check_page(page, "search")
    page.get_by_label("Find an account by e-mail, Order ID or error reference").fill(
        "ord " + charge.order_id.removeprefix("ORD-").lower())
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_test_id("found-order")).to_contain_text(charge.order_id)
    check_page(page, "search results")
    page.get_by_role("link", name="caller@example.com").click()

    expect(page.get_by_role("heading", name="caller@example.com")).to_be_visible()
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Subscribed: Porch free → plus")
    expect(timeline).to_contain_text("Searched “ord ")
    check_page(page, "account")

    refund = page.get_by_role("region", name="Refund a charge to the card")
    refund.get_by_label("Charge Order ID").fill(charge.order_id)
    refund.get_by_label("Amount (USD)").fill("$1.50")
    refund.get_by_label("Reason").fill("Camera offline for a day")
    refund.get_by_role("button", name="Refund").click()
    expect(page.get_by_text(re.compile(rf"Refund ORD-\w{{10}} of \$1\.50 of {charge.order_id} sent to the card\."))).to_be_visible()
    expect(page.get_by_test_id("timeline")).to_contain_text(f"Refund of {charge.order_id} issued: Camera offline for a day")
    assert Order.objects.get(kind="refund").amount == 150
    check_page(page, "account after a refund")
    readme_screenshot(page, "console-desktop")
    screenshots(page, "console-account")


def test_it_refuses_a_wrong_code_and_an_agent_over_the_limit(page: Page):
    charge = paid_owner("big@example.com")
    staff = make_staff("agent2@camcare.example")
    device = device_of(staff)
    sign_in(page, staff.email)
    page.get_by_label("6-digit code").fill(wrong_code(device))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    check_page(page, "verify, wrong code")
    page.wait_for_timeout(1500)  # the throttle's wait after one wrong code is 1 second
    page.get_by_label("6-digit code").fill(code_of(device))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Support console")).to_be_visible()

    page.goto(f"/support/accounts/{charge.account_id}/")
    refund = page.get_by_role("region", name="Refund a charge to the card")
    refund.get_by_label("Charge Order ID").fill(charge.order_id)
    refund.get_by_label("Amount (USD)").fill("50.01")
    refund.get_by_label("Reason").fill("Too much for an agent")
    refund.get_by_role("button", name="Refund").click()
    expect(refund.get_by_text("An agent can refund at most $50.00 at a time.")).to_be_visible()
    expect(page.get_by_test_id("credit-admin-only")).to_be_visible()
    assert not Order.objects.filter(kind="refund").exists()
    check_page(page, "account with a refused refund")
