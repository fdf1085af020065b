"""The worked example of POLICY.md section 12 in a real browser, with its exact cents: two
cameras on Plus, monthly, as a free trial from 2027-03-01 with no card (nothing charged,
next bill $7.98 on 31 Mar); both to Premium on Mar 11 (nothing charged, next bill $12.99);
a card saved on Mar 20; the first period charged $12.99 on Mar 31 with its Order ID; a
cancel on Apr 10 refunds $8.66. The account's clock moves between the steps as the
billing run would (advance_test_clock)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from camcare.accounts.services import create_account
from camcare.billing import actions
from camcare.billing.models import Order
from tests.conftest import PASSWORD, utc
from tests.e2e.conftest import check_page
from tests.e2e.test_portal import ORDER_ID, add_cameras, fill_card, pick, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def move_clock(account, *args) -> None:
    actions.advance_test_clock(account=account, to=utc(*args), actor=account)


def test_the_worked_example_of_section_12(page: Page):
    account = create_account(email="trial-example@example.com", password=PASSWORD)
    add_cameras(account)  # Porch and Garden, the clock at 2027-03-01T00:00:00Z
    sign_in(page, account.email)

    page.get_by_role("link", name="Choose a plan").click()
    pick(page, "Plus", "Plus", trial=True)
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_test_id("effect-trial")).to_have_text("Free until 31 Mar 2027, then $7.98 per month.")
    expect(page.get_by_test_id("needs-card")).to_have_count(0)  # no card needed
    page.get_by_role("button", name="Confirm change").click()
    page.goto("/")
    expect(page.get_by_test_id("next-bill")).to_have_text("$7.98 on 31 Mar 2027")
    expect(page.get_by_test_id("trial-banner")).to_contain_text("Free trial until 31 Mar 2027")
    assert not Order.objects.filter(account=account).exists()

    move_clock(account, 2027, 3, 11)
    page.get_by_role("link", name="Change plan").click()
    pick(page, "Premium", "Premium")
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_test_id("effect-trial")).to_have_text("Free until 31 Mar 2027, then $12.99 per month.")
    page.get_by_role("button", name="Confirm change").click()
    page.goto("/")
    expect(page.get_by_test_id("next-bill")).to_have_text("$12.99 on 31 Mar 2027")
    assert not Order.objects.filter(account=account).exists()

    move_clock(account, 2027, 3, 20)
    page.get_by_test_id("trial-add-card").click()
    fill_card(page, "4242 4242 4242 4242")
    page.goto("/")
    expect(page.get_by_test_id("trial-banner")).to_contain_text("charged to your Visa ending in 4242 on 31 Mar 2027")
    assert not Order.objects.filter(account=account).exists()  # saving the card charges nothing

    move_clock(account, 2027, 3, 31)
    page.goto("/payments/")
    row = page.get_by_test_id("order-row").first
    expect(row).to_contain_text("$12.99")
    first_id = re.search(ORDER_ID, row.inner_text())[0]
    assert Order.objects.get(account=account).order_id == first_id
    check_page(page, "payments after the trial")
    page.goto("/")
    expect(page.get_by_test_id("trial-banner")).to_have_count(0)
    expect(page.get_by_test_id("next-bill")).to_have_text("$12.99 on 30 Apr 2027")

    move_clock(account, 2027, 4, 10)
    page.get_by_role("link", name="Cancel subscription").click()
    expect(page.get_by_test_id("cancel-refund")).to_contain_text("$8.66 is refunded to your card")
    page.get_by_role("button", name="REMOVE").click()
    expect(page.get_by_test_id("done-refund")).to_contain_text("$8.66 refunded to your card (Visa ending in 4242)")
    refund = Order.objects.get(account=account, kind="refund")
    assert (refund.amount, refund.refers_to.order_id) == (866, first_id)
