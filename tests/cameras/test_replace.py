"""Replacing a camera (POLICY.md section 14): the new camera takes the old one's plan, paid
line and clips, with no order and no ledger entry; the old one leaves the account.

Real database, real clip files (local folder and S3: tests/cameras/conftest.py), the real
billing actions; nothing of ours is mocked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from camcare.audit.models import AuditEvent
from camcare.billing import actions, selectors
from camcare.billing.actions import payments
from camcare.billing.actions.store_entitlements import (
    Applied,
    StoreEntitlement,
    apply_store_entitlement,
)
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import LedgerEntry, Order, Subscription, SubscriptionLine
from camcare.cameras.errors import CameraRefusal
from camcare.cameras.models import Camera, Clip
from camcare.cameras.services import camera_for_device_token, register_camera
from camcare.domain.periods import Cycle
from camcare.tokens import hash_token
from tests.cameras.conftest import NOW, add_clip, media_files
from tests.conftest import PASSWORD, set_clock


@pytest.fixture
def plus(owner, porch, now, django_capture_on_commit_callbacks):
    """Porch on plus (399 paid by card for [NOW, NOW + 1 month))."""
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cameras={porch.camera.id: "plus"}, actor=owner)
    porch.camera.refresh_from_db()
    assert porch.camera.plan == "plus"
    return porch


def replace(owner, old, serial="sn-porch-2", **fields):
    return actions.replace_camera(account=owner, old_camera=old, serial=serial, actor=owner, **fields)


def money_rows() -> tuple[int, int]:
    return Order.objects.count(), LedgerEntry.objects.count()


def state_of(owner) -> dict:
    """What a refused replacement must leave exactly as it was."""
    subscription = Subscription.objects.filter(account=owner).first()
    return {
        "cameras": sorted(Camera.objects.values_list("id", "account_id", "serial", "plan", "device_token_hash")),
        "clips": sorted(Clip.objects.values_list("id", "camera_id", "file")),
        "lines": sorted(SubscriptionLine.objects.values_list("id", "camera_key", "paid", "ended_at")),
        "version": subscription.version if subscription else None,
        "money": money_rows(),
        "files": media_files(),
        "audit": AuditEvent.objects.filter(action="camera.replaced").count(),
    }


def test_it_hands_the_plan_the_paid_line_and_the_clips_to_the_new_camera(owner, plus, now, mp4):
    clips = [add_clip(plus.camera, NOW - timedelta(days=3), content=mp4), add_clip(plus.camera, NOW - timedelta(hours=1))]
    [line] = selectors.active_lines(Subscription.objects.get(account=owner))
    before, files, summary = money_rows(), media_files(), selectors.subscription_summary(owner)

    replaced = replace(owner, plus.camera, serial=" sn-porch-2 ", model="KC300")

    new = Camera.objects.get(pk=replaced.camera.pk)
    assert new.pk != plus.camera.pk
    assert (new.account, new.name, new.model, new.serial, new.plan) == (owner, "Porch", "KC300", "SN-PORCH-2", "plus")
    assert new.device_token_hash == hash_token(replaced.device_token) != plus.camera.device_token_hash
    assert new.created_at == plus.camera.created_at  # its place in the account's cameras
    assert not Camera.objects.filter(pk=plus.camera.pk).exists()
    # The same line row, paid as it was, now the new camera's: no proration, no new line.
    moved = SubscriptionLine.objects.get(pk=line.pk)
    assert (moved.camera_key, moved.plan, moved.paid, moved.credited, moved.ended_at) == (new.pk, "plus", 399, 0, None)
    assert SubscriptionLine.objects.count() == 1
    assert set(Clip.objects.filter(camera=new).values_list("id", flat=True)) == {clip.id for clip in clips}
    assert media_files() == files  # the files stay under their keys: nothing copied, nothing erased
    assert money_rows() == before  # no order, no ledger entry
    after = selectors.subscription_summary(owner)
    assert after["cameras"] == {new.pk: "plus"}
    assert (after["price"], after["next_bill"], after["credit_balance"]) == (
        summary["price"], summary["next_bill"], summary["credit_balance"])
    assert (replaced.replaced_id, replaced.clips, replaced.lines) == (plus.camera.pk, 2, 1)


def test_it_erases_the_handed_over_clips_with_the_new_camera(owner, porch, garden, now, mp4,
                                                             django_capture_on_commit_callbacks):
    """The files stay under the old camera's keys; removing the new camera still erases them."""
    add_clip(porch.camera, NOW - timedelta(hours=1), content=mp4)
    kept = add_clip(garden.camera, NOW - timedelta(hours=1))
    new = replace(owner, porch.camera).camera
    with django_capture_on_commit_callbacks(execute=True):
        actions.remove_camera(account=owner, camera=new, actor=owner)
    assert list(Clip.objects.values_list("id", flat=True)) == [kept.id]
    assert media_files() == {kept.file.name}


def test_it_keeps_the_name_unless_a_new_one_is_given(owner, porch, garden, now):
    assert replace(owner, porch.camera).camera.name == "Porch"
    assert replace(owner, garden.camera, serial="sn-garden-2", name=" Back garden ").camera.name == "Back garden"


def test_it_plays_a_handed_over_clip_through_the_api(api, owner, plus, now, mp4):
    clip = add_clip(plus.camera, NOW - timedelta(days=5), content=mp4)  # inside plus's 14 days, not free's 2
    new = replace(owner, plus.camera).camera
    listed = api.get(f"cameras/{new.pk}/clips")
    assert [row["id"] for row in listed.json()] == [clip.id]
    video = api.get(listed.json()[0]["url"], headers={"Range": "bytes=0-99"})
    assert video.status_code == 206
    assert b"".join(video.streaming_content) == mp4[:100]
    assert api.get(f"clips/{clip.id}/video").status_code == 200


def test_it_kills_the_old_device_token_and_lets_the_new_one_upload(owner, porch, now, mp4):
    new = replace(owner, porch.camera)
    assert camera_for_device_token(porch.token) is None
    assert camera_for_device_token(new.device_token).pk == new.camera.pk
    client = Client()

    def upload(token):
        return client.post("/api/v1/device/clips", {"file": _video(mp4), "recorded_at": "2026-11-26T11:00:00Z",
                                                    "duration_s": "4"}, headers={"Authorization": f"Device {token}"})

    assert upload(porch.token).status_code == 401
    response = upload(new.device_token)
    assert response.status_code == 201, response.content
    assert Clip.objects.get(pk=response.json()["id"]).camera_id == new.camera.pk


def _video(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("clip.mp4", content, "video/mp4")


@pytest.mark.parametrize("serial", ["sn-theirs-1", " SN-GARDEN-1 ", "sn-porch-1"],
                         ids=["another account's", "another camera of the account", "the old camera's own"])
def test_it_refuses_a_serial_already_registered_and_changes_nothing(owner, plus, garden, theirs, now, serial):
    add_clip(plus.camera, NOW - timedelta(hours=1))
    before = state_of(owner)
    with pytest.raises(CameraRefusal) as refused:
        replace(owner, plus.camera, serial=serial)
    assert (refused.value.status, refused.value.code) == (409, "camera_already_registered")
    assert state_of(owner) == before


def test_it_refuses_bad_fields_and_changes_nothing(owner, plus, now):
    before = state_of(owner)
    for fields, code in [({"serial": "  "}, "invalid_serial"), ({"name": " "}, "invalid_name"),
                         ({"model": "m" * 101}, "invalid_model"), ({"serial": "SN\x07"}, "invalid_serial")]:
        with pytest.raises(CameraRefusal) as refused:
            replace(owner, plus.camera, **fields)
        assert (refused.value.status, refused.value.code) == (422, code)
    assert state_of(owner) == before


def test_it_lets_the_old_serial_be_registered_again_as_a_new_camera(owner, outsider, plus, now):
    replace(owner, plus.camera)
    again, _ = register_camera(outsider, "Second hand", "KC200", "SN-PORCH-1")
    assert (again.account, again.plan, again.clips.count()) == (outsider, "free", 0)
    assert again.pk != plus.camera.pk


def test_it_refuses_a_camera_of_another_account(owner, outsider, theirs, now):
    before = state_of(outsider)
    with pytest.raises(CameraRefusal) as refused:
        replace(owner, theirs.camera)
    assert (refused.value.status, refused.value.code) == (404, "not_found")
    assert state_of(outsider) == before
    assert Camera.objects.get(pk=theirs.camera.pk).account == outsider


def test_it_refuses_a_camera_replaced_meanwhile(owner, porch, now):
    replace(owner, porch.camera)
    with pytest.raises(CameraRefusal) as refused:
        replace(owner, porch.camera, serial="sn-porch-3")  # a stale copy of the old camera
    assert refused.value.status == 404
    assert not Camera.objects.filter(serial="SN-PORCH-3").exists()


def test_it_audits_the_replacement_with_both_cameras(owner, plus, now):
    add_clip(plus.camera, NOW - timedelta(hours=1))
    new = replace(owner, plus.camera, model="KC300").camera
    event = AuditEvent.objects.get(action="camera.replaced")
    assert (event.account, event.actor, event.at) == (owner, owner, NOW)
    assert event.detail["camera"] == new.pk and event.detail["replaced"] == plus.camera.pk
    assert event.detail["old"] == {"camera": plus.camera.pk, "name": "Porch", "model": "KC200", "serial": "SN-PORCH-1"}
    assert event.detail["new"] == {"camera": new.pk, "name": "Porch", "model": "KC300", "serial": "SN-PORCH-2"}
    assert (event.detail["plan"], event.detail["clips"], event.detail["lines"]) == ("plus", 1, 1)


def test_it_makes_a_quote_priced_before_it_stale(owner, plus, garden, now):
    quote = actions.preview_change(account=owner, cameras={plus.camera.id: "premium"}, actor=owner).quote_id
    replace(owner, plus.camera)
    before = money_rows()
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, quote_id=quote, actor=owner)
    assert refused.value.code == "quote_stale"
    assert money_rows() == before


def test_it_waits_for_a_claim_in_flight_then_the_renewal_after_bills_the_new_camera(owner, plus, now):
    """A renewal (or a paid change) claims the subscription and reads the lines it bills
    under the claim (payments.begin); a replacement meanwhile would move a line under it."""
    subscription = Subscription.objects.get(account=owner)
    renewal_at = subscription.period_end
    set_clock(owner, renewal_at)  # the billing job is renewing now
    claim = payments.begin(subscription.pk, guard={"status": "active", "period_end": renewal_at},
                           prepare=lambda payment: None)
    before = state_of(owner)
    with pytest.raises(BillingRefusal) as refused:
        replace(owner, plus.camera)
    assert refused.value.code == "change_in_progress"
    assert state_of(owner) == before
    payments.finish(claim, {}, lambda payment, results: payments.release(payment, changed=False))

    new = replace(owner, plus.camera).camera
    actions.advance_test_clock(account=owner, to=renewal_at, actor=owner)
    [renewal] = Order.objects.filter(account=owner, purpose="renewal")
    assert (renewal.status, renewal.amount) == ("succeeded", 399)
    [line] = selectors.active_lines(Subscription.objects.get(account=owner))
    assert (line.camera_key, line.plan, line.paid, line.period_start) == (new.pk, "plus", 399, renewal_at)


def test_it_is_allowed_while_past_due(owner, plus, now):
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    actions.advance_test_clock(account=owner, to=Subscription.objects.get(account=owner).period_end, actor=owner)
    assert Subscription.objects.get(account=owner).status == "past_due"
    new = replace(owner, plus.camera).camera
    assert selectors.subscription_summary(owner)["cameras"] == {new.pk: "plus"}


def test_it_replaces_a_camera_a_store_pays_for_and_the_entitlement_follows(owner, porch, garden, now):
    entitlement = StoreEntitlement(store="apple", plan="plus", cycle=Cycle.MONTHLY, quantity=1, period_start=NOW,
                                   period_end=NOW + timedelta(days=30), reference="apple:1")
    assert apply_store_entitlement(account=owner, entitlement=entitlement, at=NOW) is Applied.APPLIED
    assert Camera.objects.get(pk=porch.camera.pk).plan == "plus"  # the oldest camera is covered
    before = money_rows()

    new = replace(owner, porch.camera).camera  # not refused: it changes no priced line

    assert new.plan == "plus" and Camera.objects.get(pk=garden.camera.pk).plan == "free"
    [line] = selectors.active_lines(Subscription.objects.get(account=owner))
    assert (line.camera_key, line.plan) == (new.pk, "plus")
    # The store's next word covers the camera that took the line over, and changes nothing.
    assert apply_store_entitlement(account=owner, entitlement=entitlement, at=NOW + timedelta(days=1)) is Applied.UNCHANGED
    assert Camera.objects.get(pk=new.pk).plan == "plus"
    assert money_rows() == before


# ---------------------------------------------------------------- the portal


@pytest.fixture
def signed_in(client, owner):
    client.post("/login/", {"email": owner.email, "password": PASSWORD})  # the password is recent
    return client


def form_key(page) -> str:
    return page.context["form"]["idempotency_key"].value()


def test_it_replaces_from_the_portal_and_shows_the_token_once(signed_in, owner, plus, now):
    add_clip(plus.camera, NOW - timedelta(hours=1))
    url = f"/cameras/{plus.camera.id}/replace/"
    page = signed_in.get(url)
    assert page.status_code == 200
    assert page.context["form"]["name"].value() == "Porch" and page.context["form"]["model"].value() == "KC200"
    fields = {"serial": "sn-porch-2", "model": "KC300", "name": "Porch", "idempotency_key": form_key(page)}

    review = signed_in.post(url, {**fields, "step": "review"})
    assert review.status_code == 200
    text = review.content.decode()
    assert "Plus" in text and "1 clip become" in text and "stops working at once" in text
    assert Camera.objects.filter(pk=plus.camera.pk).exists()  # nothing happens before the confirmation

    done = signed_in.post(url, {**fields, "step": "confirm"})
    assert done.status_code == 200
    assert done["Cache-Control"] == "no-store"
    token = done.context["device_token"]
    new = Camera.objects.get(serial="SN-PORCH-2")
    assert new.device_token_hash == hash_token(token) and token in done.content.decode()
    assert not Camera.objects.filter(pk=plus.camera.pk).exists()

    again = signed_in.post(url, {**fields, "step": "confirm"})  # the same form sent twice
    assert again.status_code == 302 and again["Location"] == f"/cameras/replaced/{new.pk}/"
    shown = signed_in.get(again["Location"])
    assert shown.status_code == 200 and token not in shown.content.decode()
    assert Camera.objects.filter(account=owner).count() == 1
    assert signed_in.get(url).status_code == 404


def test_it_shows_the_portal_form_again_for_a_taken_serial(signed_in, owner, plus, theirs, now):
    url = f"/cameras/{plus.camera.id}/replace/"
    key = form_key(signed_in.get(url))
    for step, serial in (("review", "sn-theirs-1"), ("review", "SN-PORCH-1"), ("confirm", " sn-theirs-1")):
        page = signed_in.post(url, {"serial": serial, "model": "", "name": "Porch", "idempotency_key": key, "step": step})
        assert page.status_code == 422, (step, serial)
        assert page.context["form"].errors["serial"], (step, serial)
    assert Camera.objects.get(pk=plus.camera.pk).plan == "plus"


def test_it_goes_back_to_the_form_to_change_the_details(signed_in, owner, plus, now):
    url = f"/cameras/{plus.camera.id}/replace/"
    fields = {"serial": "sn-porch-2", "model": "", "name": "Porch", "idempotency_key": form_key(signed_in.get(url))}
    page = signed_in.post(url, {**fields, "step": "edit"})
    assert page.status_code == 200
    assert page.context["form"]["serial"].value() == "sn-porch-2"
    assert 'name="step" value="review"' in page.content.decode()
    assert Camera.objects.filter(pk=plus.camera.pk).exists()


def test_it_answers_404_to_an_outsider_in_the_portal(client, outsider, porch, now):
    client.post("/login/", {"email": outsider.email, "password": PASSWORD})
    url = f"/cameras/{porch.camera.id}/replace/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"serial": "sn-x", "name": "Mine", "idempotency_key": "0" * 32, "step": "confirm"}).status_code == 404
    assert client.get(f"/cameras/replaced/{porch.camera.id}/").status_code == 404
    assert Camera.objects.get(pk=porch.camera.pk).account_id != outsider.pk
