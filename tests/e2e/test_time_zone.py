"""Time on pages in a real browser (POLICY.md section 16): a browser in Los Angeles signs
up, and its zone is the account's; a renewal at 00:00 UTC on 1 April shows as 17:00 on
31 March, naming the zone; the owner picks another zone on the account page and the same
instant reads on that clock. Each page at 390 and 1280 pixels: nothing scrolls sideways,
axe-core finds nothing serious."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from camcare.accounts.models import Account
from camcare.billing import actions
from camcare.cameras.services import register_camera
from tests.conftest import PASSWORD, set_clock, utc
from tests.e2e.conftest import DESKTOP, LOS_ANGELES, PHONE, check_page, screenshots

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def sign_up(page: Page, email: str) -> Account:
    page.goto("/signup/")
    expect(page.get_by_test_id("browser-time-zone")).to_have_value(LOS_ANGELES)  # the script ran
    check_page(page, "sign-up")
    page.set_viewport_size(PHONE)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Your cameras and plan")).to_be_visible()
    return Account.objects.get(email=email)


def subscribe(account: Account) -> None:
    """Plus on one camera from 00:00 UTC on 1 Mar 2027: the next bill is 00:00 UTC on 1 Apr."""
    camera, _ = register_camera(account, "Porch", "KC200", f"SN-{account.pk}-1")
    set_clock(account, utc(2027, 3, 1))
    actions.save_payment_method(account=account, token="tok_visa", actor=account)
    actions.change_plan(account=account, cameras={camera.pk: "plus"}, actor=account)


def test_the_browsers_zone_is_the_accounts_and_the_account_page_changes_it(la_page: Page):
    page = la_page
    account = sign_up(page, "pacific@example.com")
    assert account.time_zone == LOS_ANGELES
    subscribe(account)

    page.goto("/")
    expect(page.get_by_test_id("next-bill")).to_have_text("$3.99 on 31 Mar 2027, 17:00 PDT")
    expect(page.get_by_test_id("time-zone-note")).to_contain_text(f"in your time zone, {LOS_ANGELES}")
    check_page(page, "home in Los Angeles")

    page.set_viewport_size(PHONE)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_test_id("account-email")).to_have_text("pacific@example.com")
    expect(page.get_by_test_id("current-time-zone")).to_have_text(LOS_ANGELES)
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_value(LOS_ANGELES)
    check_page(page, "account page")
    screenshots(page, "account-time-zone")

    page.set_viewport_size(DESKTOP)
    zone.select_option("Europe/Paris")
    page.get_by_role("button", name="Save time zone").click()
    expect(page.get_by_role("status")).to_contain_text("Time zone saved: Europe/Paris.")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Paris")
    check_page(page, "account page after saving")
    account.refresh_from_db()
    assert account.time_zone == "Europe/Paris"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    expect(page.get_by_test_id("next-bill")).to_have_text("$3.99 on 1 Apr 2027, 02:00 CEST")
    expect(page.get_by_test_id("time-zone-note")).to_contain_text("Europe/Paris")
