"""Cameras managed in the portal (issue 8): rename, remove with its money and erasure shown
first and a typed confirmation, done once; and the device token shown once with its use."""

import html
import re

from django.urls import reverse

from camcare.billing import actions
from camcare.billing.models import Order
from camcare.cameras.models import Camera, Clip
from tests.cameras.conftest import add_clip
from tests.conftest import set_clock, utc
from tests.portal.conftest import change, key, text


def remove_url(camera) -> str:
    return reverse("portal:camera_remove", args=[camera.id])


def removal_form(portal, camera) -> dict:
    body = portal.get(remove_url(camera)).content.decode()
    quote = re.search(r'name="quote_id" (?:value="([^"]*)" )?', body)
    return {"quote_id": quote[1] or "", "idempotency_key": key(), "confirm": "remove"}


def test_it_renames_a_camera(portal, owner, cams):
    response = portal.post(reverse("portal:camera_rename", args=[cams.porch.id]), {"name": "  Front door  "})
    assert response["Location"] == reverse("portal:home")
    cams.porch.refresh_from_db()
    assert cams.porch.name == "Front door"
    assert "“Porch” is now called “Front door”." in text(portal.get(reverse("portal:plans")))


def test_it_refuses_an_empty_name(portal, owner, cams):
    response = portal.post(reverse("portal:camera_rename", args=[cams.porch.id]), {"name": "   "})
    assert response.status_code == 422
    cams.porch.refresh_from_db()
    assert cams.porch.name == "Porch"


def test_it_hides_another_accounts_camera(outsider_portal, owner, cams):
    assert outsider_portal.get(reverse("portal:camera_rename", args=[cams.porch.id])).status_code == 404
    assert outsider_portal.post(reverse("portal:camera_rename", args=[cams.porch.id]), {"name": "Mine"}).status_code == 404
    assert outsider_portal.get(remove_url(cams.porch)).status_code == 404
    sent = outsider_portal.post(remove_url(cams.porch), {"quote_id": "", "idempotency_key": key(), "confirm": "REMOVE"})
    assert sent.status_code == 404
    assert Camera.objects.filter(pk=cams.porch.pk, name="Porch").exists()


def test_it_shows_what_removing_a_free_camera_erases(portal, owner, cams):
    for day in (1, 1, 1):
        add_clip(cams.porch, utc(2027, 3, day, 0, 1))
    page = text(portal.get(remove_url(cams.porch)))
    assert "All 3 clips of this camera are erased and cannot be recovered." in page
    assert "Download them first (ZIP)" in page
    assert "No money moves: it is on the Free plan." in page


def test_it_removes_a_camera_only_when_remove_is_typed(portal, owner, cams):
    add_clip(cams.porch, utc(2027, 3, 1, 0, 1))
    form = removal_form(portal, cams.porch)
    wrong = portal.post(remove_url(cams.porch), {**form, "confirm": "yes"})
    assert wrong.status_code == 422 and "Type REMOVE in the box" in text(wrong)
    assert Camera.objects.filter(pk=cams.porch.pk).exists()
    done = portal.post(remove_url(cams.porch), form)
    assert done["Location"].startswith(reverse("portal:camera_removed"))
    assert not Camera.objects.filter(pk=cams.porch.pk).exists() and not Clip.objects.exists()
    assert "Porch is removed from your account, with its 1 clip." in text(portal.get(done["Location"]))


def test_it_credits_a_removed_plus_camera_as_the_preview_said(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 16, 12))
    page = text(portal.get(remove_url(cams.garden)))
    assert "Unused time on Plus (monthly) after 16 Mar 2027, 12:00 UTC" in page and "Garden −$2.00" in page
    assert "the unused time, $2.00, is added to your credit balance and used first on your next bill" in page
    form = removal_form(portal, cams.garden)
    first, second = portal.post(remove_url(cams.garden), form), portal.post(remove_url(cams.garden), form)
    assert first["Location"] == second["Location"]
    credit = Order.objects.get(account=owner, kind="credit")
    assert credit.amount == 200  # POLICY.md section 11: round(399 x 15.5/31), halves up
    done = text(portal.get(first["Location"]))
    assert f"$2.00 added to your credit balance, used first on your next bill. Order ID {credit.order_id}" in done
    assert list(Camera.objects.filter(account=owner).values_list("name", flat=True)) == ["Porch"]


def test_it_refunds_the_last_paid_camera_removed(portal, owner, cams, visa):
    change(portal, cams, "plus", "free")
    set_clock(owner, utc(2027, 3, 16, 12))
    assert "Its plan ends: $2.00 is refunded to your card" in text(portal.get(remove_url(cams.porch)))
    done = portal.post(remove_url(cams.porch), removal_form(portal, cams.porch))
    refund = Order.objects.get(account=owner, kind="refund")
    assert refund.amount == 200
    assert f"$2.00 refunded to your card (Visa ending in 4242). Order ID {refund.order_id}" in text(portal.get(done["Location"]))


def test_it_removes_nothing_when_the_shown_price_is_stale(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 16, 12))
    form = removal_form(portal, cams.garden)
    set_clock(owner, utc(2027, 3, 16, 12, 11))
    response = portal.post(remove_url(cams.garden), form)
    assert response.status_code == 409 and "preview again" in text(response)
    assert Camera.objects.filter(pk=cams.garden.pk).exists() and not Order.objects.filter(kind="credit").exists()


def test_it_refuses_to_remove_an_app_store_camera_with_a_reference(portal, owner, cams):
    actions.import_store_subscription(
        account=owner, channel="app_store", store="apple", plan="plus",
        camera_ids=[cams.porch.id], period_end=utc(2027, 3, 20),
    )
    response = portal.get(remove_url(cams.porch))
    page = text(response)
    assert response.status_code == 409
    assert re.search(r"Reference: ERR-[0-9A-Z]{10}", page) and "Tap Subscriptions, then camcare." in page
    assert 'data-testid="remove"' not in response.content.decode()


def test_it_shows_the_device_token_once_with_how_to_use_it(portal, owner):
    response = portal.post(reverse("cameras:register"), {"name": "Porch", "model": "KC200", "serial": "sn-token-1"})
    page = html.unescape(text(response))
    camera = Camera.objects.get(account=owner)
    assert response["Cache-Control"] == "no-store"
    assert "How to use it" in page and "Paste the token into the Device token field" in page
    assert "POST http://testserver/api/v1/device/clips with the header Authorization: Device <token>" in page
    assert f'href="{remove_url(camera)}">Remove this camera</a>' in response.content.decode()


def test_it_says_a_premium_line_goes_on_for_the_other_cameras(portal, owner, cams, visa):
    change(portal, cams, "premium", "premium")
    page = text(portal.get(remove_url(cams.garden)))
    assert "No money moves: Premium goes on for your other cameras on it, at the same price." in page
    portal.post(remove_url(cams.garden), removal_form(portal, cams.garden))
    cams.porch.refresh_from_db()
    assert cams.porch.plan == "premium" and not Order.objects.filter(kind__in=["credit", "refund"]).exists()
