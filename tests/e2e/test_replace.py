"""Replacing a camera in a real browser (POLICY.md section 14), at 390 and 1280 pixels wide:
from the camera's removal page to the replacement form, the confirmation of what moves,
and the new device token, shown once. Every page of the flow: nothing scrolls sideways,
axe-core finds nothing serious or critical."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from camcare.accounts.services import create_account
from camcare.billing import actions
from camcare.billing.models import Order
from camcare.cameras.demo import demo_files
from camcare.cameras.models import Camera
from camcare.cameras.services import register_camera
from camcare.tokens import hash_token
from tests.cameras.conftest import add_clip
from tests.conftest import PASSWORD, set_clock, utc
from tests.e2e.conftest import DESKTOP, PHONE, check_page
from tests.e2e.test_portal import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def owner_with_a_paid_camera(email: str):
    """Porch on plus (paid by card on 2027-03-01) with one real clip, and Garden on free."""
    account = create_account(email=email, password=PASSWORD)
    porch, _ = register_camera(account, "Porch", "KC200", f"sn-{account.pk}-porch")
    register_camera(account, "Garden", "KC200", f"sn-{account.pk}-garden")
    set_clock(account, utc(2027, 3, 1))
    actions.save_payment_method(account=account, token="tok_visa", actor=account)
    actions.change_plan(account=account, cameras={porch.id: "plus"}, actor=account)
    clip = add_clip(porch, utc(2027, 2, 28, 23), content=demo_files()[0].read_bytes())
    return account, porch, clip


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_it_replaces_a_camera_and_shows_the_new_token_once(page: Page, size):
    account, porch, clip = owner_with_a_paid_camera(f"replace-{size['width']}@example.com")
    orders = Order.objects.filter(account=account).count()
    page.set_viewport_size(size)
    sign_in(page, account.email)

    page.get_by_role("link", name="Remove Porch").click()
    page.get_by_test_id("replace-instead").get_by_role("link", name="Replace it instead").click()
    expect(page.get_by_role("heading", name="Replace Porch")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Porch")  # the old camera's, unless changed
    expect(page.get_by_label("Model")).to_have_value("KC200")
    check_page(page, "replace form")
    page.set_viewport_size(size)

    page.get_by_label("Serial number of the new camera").fill(" sn-new-porch ")
    page.get_by_label("Model").fill("KC300")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Replace Porch with the new camera?")).to_be_visible()
    expect(page.get_by_test_id("replace-plan")).to_contain_text("Plus")
    expect(page.get_by_test_id("replace-plan")).to_contain_text("nothing is charged or refunded")
    expect(page.get_by_test_id("replace-clips")).to_contain_text("1 clip becomes the new camera's history")
    expect(page.get_by_test_id("replace-token")).to_contain_text("device token stops working at once")
    expect(page.get_by_text("SN-NEW-PORCH")).to_be_visible()
    check_page(page, "replace confirmation")
    page.set_viewport_size(size)
    assert Camera.objects.filter(pk=porch.pk).exists()  # nothing happens before the confirmation

    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_test_id("replace").click()
    assert answer.value.headers["cache-control"] == "no-store"
    token = page.get_by_test_id("device-token")
    expect(token).to_have_value(re.compile(r"^dev_"))
    expect(page.get_by_test_id("token-steps")).to_contain_text("Authorization: Device <token>")
    expect(page.get_by_test_id("replaced")).to_contain_text("Nothing was charged")
    new = Camera.objects.get(account=account, serial="SN-NEW-PORCH")
    assert new.device_token_hash == hash_token(token.input_value())
    shown = token.input_value()
    check_page(page, "new device token")
    page.set_viewport_size(size)

    # Once: the replaced page (where a resubmitted form lands) never shows it again.
    page.goto(f"/cameras/replaced/{new.pk}/")
    expect(page.get_by_test_id("token-gone")).to_be_visible()
    assert shown not in page.content()
    check_page(page, "replaced, without the token")
    page.set_viewport_size(size)

    # The new camera has the old one's plan and clip; the old one is gone.
    page.get_by_role("link", name="See its clips").click()
    page.get_by_role("link", name="Play").first.click()
    expect(page.get_by_test_id("player")).to_have_attribute("src", f"/api/v1/clips/{clip.id}/video")
    assert page.get_by_test_id("player").evaluate(
        "video => new Promise(done => video.readyState >= 1 ? done(true) : video.addEventListener('loadedmetadata', () => done(true)))")
    page.goto("/")
    rows = page.get_by_test_id("camera-row")
    expect(rows.first).to_contain_text("Porch")  # in the old camera's place
    expect(rows.first.get_by_test_id("camera-plan")).to_have_text("Plus")
    assert page.goto(f"/cameras/{porch.pk}/clips/").status == 404
    assert Order.objects.filter(account=account).count() == orders  # no order
