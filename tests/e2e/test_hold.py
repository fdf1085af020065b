"""The 14-day hold in a real browser (POLICY.md section 6), at 390 and 1280 pixels wide:
after a lapse the camera page shows the held clips only as a count with their erasure
date and a button to subscribe; subscribing from there brings back the clips the new plan
covers. Every page: nothing scrolls sideways, axe-core finds nothing serious or critical."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from camcare.accounts.services import create_account
from camcare.billing import actions
from camcare.cameras import holds
from camcare.cameras.services import register_camera
from tests.cameras.conftest import add_clip
from tests.conftest import PASSWORD, set_clock, utc
from tests.e2e.conftest import DESKTOP, PHONE, check_page, screenshots
from tests.e2e.test_portal import plan_choice, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LAPSE = utc(2027, 4, 8)  # plus from Mar 1; the Apr 1 renewal and its retries on Apr 2, 4 and 8 declined


def lapsed_owner(email: str):
    """Porch on plus from 2027-03-01, lapsed to free on Apr 8 after four declines, with a
    clip of Apr 7 (inside Free's window) and two held ones (Apr 3 and Mar 30)."""
    account = create_account(email=email, password=PASSWORD)
    porch, _ = register_camera(account, "Porch", "KC200", f"sn-{account.pk}-porch")
    set_clock(account, utc(2027, 3, 1))
    actions.save_payment_method(account=account, token="tok_visa", actor=account)
    actions.change_plan(account=account, cameras={porch.id: "plus"}, actor=account)
    actions.save_payment_method(account=account, token="tok_chargeDeclined", actor=account)
    actions.advance_test_clock(account=account, to=LAPSE, actor=account)
    porch.refresh_from_db()
    assert porch.plan == "free"
    clips = [add_clip(porch, at) for at in (utc(2027, 4, 7), utc(2027, 4, 3), utc(2027, 3, 30))]
    # As the lapse holds them (the billing lapse calls it in its transaction).
    holds.hold_after_lapse(account, old_plans={porch.id: "plus"}, at=LAPSE)
    actions.save_payment_method(account=account, token="tok_visa", actor=account)  # a card that works
    return account, porch, clips


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_camera_page_shows_the_hold_and_subscribing_brings_the_clips_back(page: Page, size):
    account, porch, clips = lapsed_owner(f"hold-{size['width']}@example.com")
    page.set_viewport_size(size)
    sign_in(page, account.email)

    page.get_by_role("link", name="Porch", exact=True).click()
    expect(page.get_by_role("heading", name="Porch", exact=True)).to_be_visible()
    held = page.get_by_test_id("held")
    expect(held).to_contain_text("2 older clips are held until 22 Apr 2027")
    expect(held).to_contain_text("Subscribe before then to keep the ones your plan covers")
    expect(page.get_by_test_id("clip-row")).to_have_count(1)  # only the clip of Apr 7
    expect(page.locator(f'[data-clip="{clips[1].id}"]')).to_have_count(0)
    check_page(page, "camera page with held clips")
    screenshots(page, "held-clips")
    page.set_viewport_size(size)

    held.get_by_role("link", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Change plan")).to_be_visible()
    plan_choice(page, "Porch", "Plus").check()
    page.get_by_role("group", name="Billing cycle").get_by_label("Monthly").check()
    page.get_by_role("button", name="Preview the change").click()
    page.get_by_role("button", name="Confirm and pay $3.99").click()
    expect(page.get_by_test_id("done-charge")).to_contain_text("$3.99 charged to your card")

    page.goto(f"/cameras/{porch.id}/clips/")
    expect(page.get_by_test_id("held")).to_have_count(0)
    rows = page.get_by_test_id("clip-row")
    expect(rows).to_have_count(3)  # plus keeps 14 days: both held clips are back
    expect(rows.nth(2)).to_have_attribute("data-clip", clips[2].id)
    expect(page.get_by_text(re.compile(r"Clips are kept 14 days"))).to_be_visible()
    check_page(page, "camera page after subscribing")
