"""A plan's life in one real browser walk (issue 11; POLICY.md sections 6, 12, 13, 14, 16),
every page checked at 390 and 1280 pixels (nothing scrolls sideways, axe-core finds
nothing serious): a browser in Los Angeles signs up; the free trial starts without a card,
with the worked example's words; the home page shows the trial banner; the owner picks
another time zone and the banner reads on its clock; turns renewal off and keeps the plan
after all; replaces the camera; saves a card that declines, and after the four attempts
the camera page shows the hold's message."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from camcare.billing import actions, selectors
from camcare.billing.models import Order
from camcare.cameras.models import Camera
from camcare.cameras.services import register_camera
from tests.cameras.conftest import add_clip
from tests.conftest import set_clock, utc
from tests.e2e.conftest import LOS_ANGELES, check_page
from tests.e2e.test_time_zone import sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_plan_from_trial_to_hold(la_page: Page):
    page = la_page
    account = sign_up(page, "plan-life@example.com")
    assert account.time_zone == LOS_ANGELES
    register_camera(account, "Porch", "KC200", "sn-life-porch")
    set_clock(account, utc(2027, 3, 1))

    # The trial, offered first and ticked: no card needed.
    page.goto("/")
    page.get_by_role("link", name="Choose a plan").click()
    offer = page.get_by_test_id("trial-offer")
    expect(offer.get_by_role("checkbox")).to_be_checked()
    check_page(page, "change form with the trial offered")
    page.get_by_role("group", name=re.compile(r"^Porch\b")).get_by_label(re.compile(r"^\s*Plus\b")).check()
    expect(page.get_by_test_id("form-next-bill")).to_have_text("$3.99 on 30 Mar 2027, 17:00 PDT")
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_test_id("effect-trial")).to_have_text("Free until 30 Mar 2027, 17:00 PDT, then $3.99 per month.")
    check_page(page, "trial preview")
    page.get_by_role("button", name="Confirm change").click()
    page.goto("/")
    banner = page.get_by_test_id("trial-banner")
    expect(banner).to_contain_text("Free trial until 30 Mar 2027, 17:00 PDT")
    expect(banner).to_contain_text("No card is saved yet")
    check_page(page, "home in the trial")
    assert not Order.objects.filter(account=account).exists()

    # Another zone: the same instant on its clock.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_role("button", name="Save time zone").click()
    expect(page.get_by_role("status")).to_contain_text("Time zone saved: Europe/Paris.")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    expect(page.get_by_test_id("trial-banner")).to_contain_text("Free trial until 31 Mar 2027, 02:00 CEST")

    # Renewal off, then kept after all.
    page.get_by_role("link", name="Cancel subscription").click()
    check_page(page, "cancel page in the trial")
    page.get_by_test_id("stop").click()
    page.goto("/")
    expect(page.get_by_test_id("scheduled-change")).to_contain_text("Your plan ends on 31 Mar 2027, 02:00 CEST")
    expect(page.get_by_test_id("trial-banner")).to_contain_text("Renewal is off")
    check_page(page, "home with the stop scheduled")
    page.get_by_test_id("keep-plan").click()
    expect(page.get_by_role("status").first).to_contain_text("Your plan renews as before.")
    expect(page.get_by_test_id("scheduled-change")).to_have_count(0)

    # The camera is replaced: plan and trial go to the new one.
    page.get_by_role("link", name="Remove Porch").click()
    page.get_by_test_id("replace-instead").get_by_role("link", name="Replace it instead").click()
    page.get_by_label("Serial number of the new camera").fill("sn-life-porch-2")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("replace-plan")).to_contain_text("Plus")
    page.get_by_test_id("replace").click()
    expect(page.get_by_test_id("device-token")).to_have_value(re.compile(r"^dev_"))
    new = Camera.objects.get(account=account, serial="SN-LIFE-PORCH-2")
    assert new.plan == "plus"

    # A card that declines: the first bill fails at the trial's end, then its retries.
    page.goto("/card/")
    page.get_by_label("Card number").fill("4000 0000 0000 0002")
    page.get_by_label("Expiry (MM/YY)").fill("12/35")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_role("heading", name="Your cameras and plan")).to_be_visible()
    add_clip(new, utc(2027, 3, 28))  # inside Plus's 14 days; outside Free's 2 at the lapse
    actions.advance_test_clock(account=account, to=utc(2027, 3, 31, 1), actor=account)
    assert selectors.subscription_summary(account)["status"] == "past_due"
    actions.advance_test_clock(account=account, to=utc(2027, 4, 8), actor=account)
    assert [o.status for o in Order.objects.filter(account=account, kind="charge")] == ["failed"] * 4

    page.goto("/")
    page.get_by_role("link", name="Porch", exact=True).click()
    held = page.get_by_test_id("held")
    expect(held).to_contain_text("1 older clip is held until 21 Apr 2027")
    expect(held.get_by_role("link", name="Subscribe")).to_be_visible()
    expect(page.get_by_test_id("clip-row")).to_have_count(0)
    check_page(page, "camera page with the hold")
