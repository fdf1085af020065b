"""Subscriptions bought in an app store are shown, not changed, on the web (POLICY.md section 4)."""

import pytest

from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import LedgerEntry, Order, Quote
from camcare.cameras.models import Camera
from tests.billing.conftest import add_camera
from tests.conftest import utc


@pytest.fixture
def store(owner, cameras, at):
    porch, garden = cameras
    at(2027, 3, 10)
    actions.import_store_subscription(account=owner, channel="app_store", store="google", plan="plus",
                                      camera_ids=[porch.id], period_end=utc(2027, 4, 1))
    return cameras


def assert_refused_for_the_store(call):
    before = (Order.objects.count(), LedgerEntry.objects.count(), Quote.objects.count())
    with pytest.raises(BillingRefusal) as refused:
        call()
    assert (refused.value.code, refused.value.status) == ("managed_in_app_store", 409)
    assert refused.value.extra["store"] == "google"
    assert refused.value.extra["steps"] and all(isinstance(step, str) for step in refused.value.extra["steps"])
    assert "Google Play" in refused.value.message
    assert (Order.objects.count(), LedgerEntry.objects.count(), Quote.objects.count()) == before


def test_it_shows_the_store_subscription(owner, store):
    summary = selectors.subscription_summary(owner)
    assert (summary["status"], summary["channel"], summary["store"]) == ("active", "app_store", "google")
    assert summary["cameras"][store[0].id] == "plus"
    assert summary["next_bill"] is None  # the store bills it, not camcare


def test_it_refuses_preview_change_and_cancel(owner, store, card):
    porch, garden = store
    assert_refused_for_the_store(lambda: actions.preview_change(account=owner, cameras={garden.id: "plus"}, actor=owner))
    assert_refused_for_the_store(lambda: actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner))
    assert_refused_for_the_store(lambda: actions.change_plan(account=owner, cycle="annual", actor=owner))
    assert_refused_for_the_store(lambda: actions.preview_cancel(account=owner, actor=owner))
    assert_refused_for_the_store(lambda: actions.cancel_subscription(account=owner, actor=owner))
    assert_refused_for_the_store(lambda: actions.drop_scheduled_change(account=owner, actor=owner))
    assert selectors.current_plans(owner) == {porch.id: "plus", garden.id: "free"}


def test_it_refuses_to_remove_a_camera_the_store_pays_for(owner, store):
    porch, _ = store
    assert_refused_for_the_store(lambda: actions.remove_camera(account=owner, camera=porch, actor=owner))
    assert Camera.objects.filter(pk=porch.pk).exists()


def test_it_removes_a_free_camera_of_a_store_account(owner, store):
    _, garden = store
    result = actions.remove_camera(account=owner, camera=garden, actor=owner)
    assert (result.net, result.charge_now, result.refund, result.orders) == (0, 0, 0, [])
    assert not Camera.objects.filter(pk=garden.pk).exists()
    assert garden.id not in result.to_api()["subscription"]["cameras"]
    assert selectors.subscription_summary(owner)["channel"] == "app_store"


def test_it_removes_a_free_camera_after_the_store_period_ended(owner, store, at):
    _, garden = store
    at(2027, 4, 5)  # the store renews on its side; camcare's copy of the period is past
    actions.remove_camera(account=owner, camera=garden, actor=owner)
    assert not Camera.objects.filter(pk=garden.pk).exists()


def test_it_still_saves_a_card_and_registers_cameras(owner, store, api):
    method = actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    assert (method.brand, method.last4) == ("Visa", "4242")
    response = api.post("cameras", {"name": "Attic", "model": "KC200", "serial": "attic-1"})
    assert response.status_code == 201, response.content
    assert response.json()["plan"] == "free"
    assert not Order.objects.exists()


def test_it_answers_409_with_the_steps_through_the_api(owner, store, api):
    porch, garden = store
    for response in (
        api.post("subscription/preview", {"cameras": {garden.id: "plus"}}),
        api.put("subscription", {"cameras": {garden.id: "plus"}}),
        api.post("subscription/cancel", {}),
        api.delete(f"cameras/{porch.id}"),
    ):
        assert response.status_code == 409, response.content
        body = response.json()
        assert body["code"] == "managed_in_app_store"
        assert body["store"] == "google" and len(body["steps"]) == 3
        assert body["reference"].startswith("ERR-")


def test_it_validates_the_request_before_refusing_for_the_store(owner, store, api):
    response = api.put("subscription", {"cameras": {"cam_nope": "plus"}})
    assert (response.status_code, response.json()["code"]) == (422, "unknown_camera")
    too_many = {add_camera(owner, f"Extra {i}").id: "premium" for i in range(11)}
    response = api.put("subscription", {"cameras": too_many})
    assert (response.status_code, response.json()["code"]) == (422, "too_many_premium_cameras")


def test_it_lets_a_legacy_app_subscription_change_like_a_web_one(owner, cameras, card, at):
    porch, garden = cameras
    at(2027, 3, 1)
    actions.import_store_subscription(account=owner, channel="legacy_app", plan="plus",
                                      camera_ids=[porch.id], period_end=utc(2027, 4, 1))
    at(2027, 3, 16, 12)
    result = actions.change_plan(account=owner, cameras={porch.id: "free", garden.id: "plus"}, actor=owner)
    # The legacy line counts as paid for its period: 399 x 15.5/31 credited, 200 charged.
    assert sorted((line["kind"], line["amount"]) for line in result.lines) == [("charge", 200), ("credit", 200)]
    assert (result.net, result.charge_now) == (0, 0)
    at(2027, 4, 1)
    assert Order.objects.get(account=owner, purpose="renewal").amount == 399
