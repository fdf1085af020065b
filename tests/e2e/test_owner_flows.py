"""More of what a new owner does alone (issue 8), in Chromium at 390 and 1280 pixels wide:
long one-word names that must not widen a phone's page, renaming and removing a camera,
the switch from annual to monthly, the change form without JavaScript, staff landing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from camcare.accounts.services import create_account
from camcare.billing import actions
from camcare.billing.models import Order
from camcare.cameras.models import Camera
from camcare.cameras.services import register_camera
from tests.cameras.conftest import add_clip
from tests.conftest import PASSWORD, make_account, set_clock, utc
from tests.e2e.conftest import DESKTOP, check_page
from tests.e2e.test_portal import choose, sign_in
from tests.support.otp import code_of, device_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LONG_EMAIL = "a.very.long.mailbox.name.that.never.breaks.by.itself@subdomain.an-exceptionally-long-domain.example"
LONG_NAME = "Frontdoorcameraoverthegaragebesidethebicycleshed"
LONG_MODEL = "KC200-ULTRAWIDE-NIGHTVISION-OUTDOOR-EDITION-2027"


def owner_with_plans(email: str):
    account = create_account(email=email, password=PASSWORD)
    porch, _ = register_camera(account, "Porch", "KC200", f"sn-{email[:6]}-1")
    garden, _ = register_camera(account, "Garden", "KC200", f"sn-{email[:6]}-2")
    set_clock(account, utc(2027, 3, 1))
    actions.save_payment_method(account=account, token="tok_visa", actor=account)
    return account, porch, garden


def test_it_keeps_long_names_inside_a_phone_screen(page: Page):
    account = create_account(email=LONG_EMAIL, password=PASSWORD)
    camera, _ = register_camera(account, LONG_NAME, LONG_MODEL, "sn-long-1")
    set_clock(account, utc(2027, 3, 1))
    add_clip(camera, utc(2027, 3, 1))
    actions.save_payment_method(account=account, token="tok_visa", actor=account)
    actions.change_plan(account=account, cameras={camera.id: "plus"}, actor=account)
    order = Order.objects.get(account=account)
    page.goto("/plans/")
    expect(page.get_by_text("Free", exact=True)).to_have_count(1)  # one heading, not two
    check_page(page, "plans")  # its refund table
    sign_in(page, account.email)
    for url in ["/", "/payments/", f"/payments/{order.order_id}/", f"/cameras/{camera.id}/clips/",
                f"/cameras/{camera.id}/rename/", f"/cameras/{camera.id}/remove/", "/change/", "/account/",
                "/account/password/", "/confirm-password/?next=/"]:
        page.goto(url)
        check_page(page, url)
    page.goto("/change/")
    page.get_by_role("group", name=re.compile(LONG_NAME)).get_by_label(re.compile(r"^\s*Premium")).check()
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_role("heading", name="Review your change")).to_be_visible()
    check_page(page, "preview of a long name")


def test_it_renames_and_removes_a_camera(page: Page):
    account, porch, garden = owner_with_plans("remover@example.com")
    actions.change_plan(account=account, cameras={porch.id: "plus", garden.id: "plus"}, actor=account)
    add_clip(garden, utc(2027, 3, 16))
    set_clock(account, utc(2027, 3, 16, 12))
    sign_in(page, account.email)
    page.get_by_role("link", name="Rename Porch").click()
    check_page(page, "rename")
    page.get_by_label("New name").fill("Front door")
    page.get_by_role("button", name="Save the name").click()
    expect(page.get_by_text("“Porch” is now called “Front door”.")).to_be_visible()

    page.get_by_role("link", name="Remove Garden").click()
    expect(page.get_by_test_id("remove-clips")).to_contain_text("All 1 clip of this camera is erased")
    expect(page.get_by_test_id("remove-money")).to_contain_text("the unused time, $2.00, is added to your credit balance")
    expect(page.get_by_test_id("line")).to_contain_text("Unused time on Plus (monthly) after 16 Mar 2027, 12:00 UTC")
    check_page(page, "remove")
    page.get_by_label("Type REMOVE to confirm").fill("yes")
    page.get_by_role("button", name="Remove Garden").click()
    expect(page.get_by_text("Type REMOVE in the box")).to_be_visible()
    page.get_by_label("Type REMOVE to confirm").fill("REMOVE")
    page.get_by_role("button", name="Remove Garden").dblclick()
    expect(page.get_by_test_id("removed")).to_contain_text("$2.00 added to your credit balance, used first on your next bill")
    check_page(page, "removed")
    assert list(Camera.objects.filter(account=account).values_list("name", flat=True)) == ["Front door"]
    assert Order.objects.filter(account=account, kind="credit").count() == 1


def test_it_schedules_annual_to_monthly_for_the_end_of_the_year(page: Page):
    account, porch, garden = owner_with_plans("yearly@example.com")
    actions.change_plan(account=account, cameras={porch.id: "plus"}, cycle="annual", actor=account)
    sign_in(page, account.email)
    choose(page, "Plus", "Free", "Monthly")
    expect(page.get_by_test_id("effect-switch")).to_have_text("Your billing switches to monthly on 1 Mar 2028")
    page.get_by_role("button", name="Confirm change").click()
    expect(page.get_by_role("heading", name="Your switch to monthly billing is scheduled")).to_be_visible()
    expect(page.get_by_test_id("done")).not_to_contain_text("in effect now")
    expect(page.get_by_test_id("done-switch")).to_contain_text("on 1 Mar 2028, at the end of the paid year")
    check_page(page, "scheduled switch")


def test_it_changes_a_plan_without_javascript(browser, live_server):
    account, porch, garden = owner_with_plans("nojs@example.com")
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        sign_in(page, account.email)
        page.goto(f"/change/?camera_{porch.id}=premium&cycle=monthly")
        expect(page.get_by_test_id("total")).to_have_text("$12.99 a month")  # rendered by the server
        page.get_by_label(re.compile(r"free \d+-day trial")).uncheck()  # this flow pays at once
        page.get_by_role("button", name="Preview the change").click()
        expect(page.get_by_test_id("charge-now")).to_have_text("$12.99")
        page.get_by_role("button", name="Confirm and pay $12.99").click()
        expect(page.get_by_test_id("done-charge")).to_contain_text("$12.99 charged to your card")
    finally:
        context.close()


def test_it_sends_staff_to_the_support_console(page: Page):
    """Through the console's second factor: the TOTP step first, then the console."""
    staff = make_account("helper@camcare.example", is_staff=True)
    device = device_of(staff)
    page.goto("/login/")
    page.get_by_label("E-mail").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/support/verify/\?next=%2Fsupport%2F$"))
    expect(page.get_by_role("heading", name="Second step: your authenticator code")).to_be_visible()
    page.get_by_label("6-digit code").fill(code_of(device))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/support/$"))
    expect(page.get_by_role("heading", name="Support console")).to_be_visible()


def test_it_returns_a_cancels_credit_under_its_own_order(page: Page):
    account, porch, garden = owner_with_plans("credited@example.com")
    staff = make_account("giver@camcare.example", is_staff=True)
    actions.issue_support_credit(account=account, amount=500, reason="goodwill", actor=staff, request_key="e2e-credit-1")
    actions.change_plan(account=account, cameras={porch.id: "plus", garden.id: "plus"}, actor=account)  # 298 by card
    set_clock(account, utc(2027, 3, 16, 12))
    sign_in(page, account.email)
    page.get_by_role("link", name="Cancel subscription").click()
    page.get_by_role("button", name="REMOVE").click()
    expect(page.get_by_test_id("done-refund")).to_contain_text("$2.98 refunded to your card")
    credit = page.get_by_test_id("done-credit")
    expect(credit).to_contain_text("$1.02 added to your credit balance, kept on your account")
    expect(credit).not_to_contain_text("next bill")
    credit_id = re.search(r"ORD-[0-9A-Z]{10}", credit.inner_text())[0]
    page.get_by_role("link", name="Payments").click()
    entry = page.get_by_test_id("credit-entry").filter(has_text="+$1.02")
    expect(entry.get_by_role("link")).to_have_text(credit_id)  # not the refund's Order ID
    check_page(page, "payments after a cancel")
