"""Refusals of a change, in the documented order (API.md "Subscription"):
authentication, then idempotency, then 422 invalid_state / unknown_plan / unknown_camera /
invalid_cycle / too_many_premium_cameras, then 409 managed_in_app_store, 409 past_due,
409 quote_stale, 402 payment_method_required, 402 payment_failed.

Each test makes two refusals apply at once and checks the earlier one is the answer."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from camcare.billing.models import Order, Quote, Subscription
from camcare.cameras.models import Camera
from tests.api.conftest import START, assert_error, db_state, move, register


@pytest.fixture
def porch(api):
    move(api, START)
    camera, _ = register(api, "Porch")
    return camera


def import_app_store(owner, camera: str) -> None:
    call_command("import_subscription", "--email", owner.email, "--channel", "app_store", "--store", "apple",
                 "--plan", "plus", "--camera", camera, "--period-end", "2027-04-01T00:00:00Z")


def go_past_due(api, porch) -> None:
    """Plus paid on START, then the card declines the April renewal."""
    api.put("payment-method", {"token": "tok_visa"})
    assert api.put("subscription", {"cameras": {porch: "plus"}}).status_code == 200
    api.put("payment-method", {"token": "tok_chargeDeclined"})
    move(api, "2027-04-01T00:00:00Z")
    assert api.get("subscription").json()["status"] == "past_due"


def test_it_checks_authentication_first(porch, api, anon_api):
    api.put("subscription", {"cameras": {porch: "plus"}}, headers={"Idempotency-Key": "k"})
    response = anon_api.put("subscription", {"cameras": {porch: "gold"}, "bogus": 1}, headers={"Idempotency-Key": "k"})
    assert_error(response, 401, "unauthorized")


def test_it_checks_idempotency_before_the_body(porch, api, owner):
    api.put("payment-method", {"token": "tok_visa"})
    api.put("subscription", {"cameras": {porch: "plus"}}, headers={"Idempotency-Key": "k"})
    response = api.put("subscription", {"cameras": {porch: "gold"}}, headers={"Idempotency-Key": "k"})
    assert_error(response, 422, "idempotency_key_reused", account=owner)


@pytest.mark.parametrize(("body", "code"), [
    ({"cameras": {"PORCH": "gold"}}, "unknown_plan"),
    ({"cameras": {"cam_nope": "plus"}}, "unknown_camera"),
    ({"cameras": {"PORCH": "plus"}, "cycle": "weekly"}, "invalid_cycle"),
])
def test_it_refuses_a_bad_state_before_an_app_store_subscription(body, code, porch, api, owner):
    import_app_store(owner, porch)
    cameras = {(porch if k == "PORCH" else k): v for k, v in body["cameras"].items()}
    before = db_state()
    assert_error(api.put("subscription", {**body, "cameras": cameras}), 422, code, account=owner)
    assert_error(api.post("subscription/preview", {**body, "cameras": cameras}), 422, code, account=owner)
    assert db_state() == before


def test_it_refuses_too_many_premium_cameras_before_anything_else(api, owner):
    move(api, START)
    cameras = [register(api, f"Camera {n}")[0] for n in range(11)]
    import_app_store(owner, cameras[0])
    body = assert_error(api.post("subscription/preview", {"cameras": dict.fromkeys(cameras, "premium")}),
                        422, "too_many_premium_cameras", account=owner)
    assert "10" in body["message"]


def test_it_refuses_an_app_store_subscription_with_the_stores_steps(porch, api, owner):
    import_app_store(owner, porch)
    before = db_state()
    for response in (api.put("subscription", {"cameras": {porch: "premium"}}),
                     api.post("subscription/preview", {"cameras": {porch: "premium"}}),
                     api.post("subscription/cancel", {}),
                     api.delete(f"cameras/{porch}")):
        body = assert_error(response, 409, "managed_in_app_store", account=owner)
        assert body["store"] == "apple"
        assert body["steps"] and all(isinstance(step, str) for step in body["steps"])
    assert db_state() == before


def test_it_refuses_an_app_store_subscription_before_a_stale_quote_or_a_missing_card(porch, api, owner):
    import_app_store(owner, porch)
    assert_error(api.put("subscription", {"quote": "quo_nope"}), 409, "managed_in_app_store", account=owner)
    assert_error(api.post("subscription/cancel", {"quote": "quo_nope"}), 409, "managed_in_app_store", account=owner)
    assert_error(api.put("subscription", {"cameras": {porch: "premium"}}), 409, "managed_in_app_store", account=owner)


def test_it_refuses_a_change_while_past_due_but_accepts_a_cancel(porch, api, owner):
    go_past_due(api, porch)
    garden, _ = register(api, "Garden")
    before = db_state()
    assert_error(api.put("subscription", {"cameras": {garden: "plus"}}), 409, "past_due", account=owner)
    assert_error(api.post("subscription/preview", {"cameras": {garden: "plus"}}), 409, "past_due", account=owner)
    assert db_state() == before
    cancelled = api.post("subscription/cancel", {})
    assert cancelled.status_code == 200, cancelled.content
    assert (cancelled.json()["refund"], cancelled.json()["charge_now"]) == (0, 0)
    assert api.get("subscription").json()["status"] == "none"


def test_it_refuses_past_due_before_a_stale_quote(porch, api, owner):
    api.put("payment-method", {"token": "tok_visa"})
    api.put("subscription", {"cameras": {porch: "plus"}})
    garden, _ = register(api, "Garden")
    quote = api.post("subscription/preview", {"cameras": {garden: "plus"}}).json()["quote"]
    api.put("payment-method", {"token": "tok_chargeDeclined"})
    move(api, "2027-04-01T00:00:00Z")
    assert_error(api.put("subscription", {"quote": quote}), 409, "past_due", account=owner)


def test_it_refuses_a_stale_quote_before_a_missing_card(porch, api, outsider_api, owner):
    theirs = outsider_api.post("subscription/preview", {}).json()["quote"]
    mine = api.post("subscription/preview", {"cameras": {porch: "plus"}}).json()["quote"]
    api.post("test-clock", {"now": "2027-03-01T00:10:01Z"})  # more than 10 minutes later
    before = db_state()
    assert_error(api.put("subscription", {"quote": mine}), 409, "quote_stale", account=owner)
    assert_error(api.put("subscription", {"quote": theirs}), 409, "quote_stale", account=owner)
    assert db_state() == before


def test_it_refuses_a_paid_change_without_a_card_and_makes_no_order(porch, api, owner):
    before = db_state()
    body = assert_error(api.put("subscription", {"cameras": {porch: "plus"}}), 402, "payment_method_required",
                        account=owner)
    assert "card" in body["message"].lower()
    assert api.get("orders").json() == []
    assert api.get("subscription").json()["status"] == "none"
    after = db_state()
    # Refused before any write but one: the subscription row exists before the first change
    # is priced (ARCHITECTURE.md, "price what you claimed"), empty, at version 0.
    assert before.pop("billing.Subscription") == []
    assert Subscription.objects.filter(account=owner, status="none", version=0, claimed_by="").count() == 1
    after.pop("billing.Subscription")
    assert after == before  # no quote, no order, no line, no ledger entry


def test_it_refuses_a_declined_card_and_keeps_only_the_failed_order(porch, api, owner):
    api.put("payment-method", {"token": "tok_chargeDeclined"})
    body = assert_error(api.put("subscription", {"cameras": {porch: "plus"}}), 402, "payment_failed", account=owner)
    orders = api.get("orders").json()
    assert [(o["order_id"], o["kind"], o["status"], o["amount"]) for o in orders] == [
        (body["order_id"], "charge", "failed", 399)]
    assert api.get(f"orders/{body['order_id']}").json()["status"] == "failed"
    assert api.get("subscription").json()["status"] == "none"
    assert Camera.objects.get(pk=porch).plan == "free"
    assert api.get("credit").json()["balance"] == 0


def test_it_keeps_a_quote_usable_after_a_declined_charge(porch, api, owner):
    """POLICY.md section 9: a declined charge does not make a quote stale."""
    api.put("payment-method", {"token": "tok_insufficientFunds"})
    quote = api.post("subscription/preview", {"cameras": {porch: "plus"}}).json()["quote"]
    assert_error(api.put("subscription", {"quote": quote}), 402, "payment_failed", account=owner)
    api.put("payment-method", {"token": "tok_visa"})
    done = api.put("subscription", {"quote": quote})
    assert done.status_code == 200, done.content
    assert done.json()["charge_now"] == 399
    assert Quote.objects.get(pk=quote).executed_at is not None


def test_it_answers_a_state_equal_to_the_current_one_with_200_and_no_order(porch, api, owner):
    api.put("payment-method", {"token": "tok_visa"})
    api.put("subscription", {"cameras": {porch: "plus"}})
    orders = Order.objects.count()
    same = api.put("subscription", {"cameras": {porch: "plus"}, "cycle": "monthly"})
    assert same.status_code == 200
    assert (same.json()["net"], same.json()["orders"], same.json()["lines"]) == (0, [], [])
    assert Order.objects.count() == orders


def test_it_answers_every_result_with_a_consistent_net(porch, api, owner):
    """net = charge_now + credit_used - credit_added - refund (checked by CheckedApi on each answer)."""
    api.put("payment-method", {"token": "tok_visa"})
    garden, _ = register(api, "Garden")
    steps = [
        api.put("subscription", {"cameras": {porch: "plus", garden: "plus"}}),
        api.post("subscription/preview", {"cameras": {porch: "premium", garden: "premium"}}),
        api.put("subscription", {"cameras": {porch: "premium", garden: "premium"}}),
        api.put("subscription", {"cameras": {porch: "plus", garden: "free"}}),
        api.put("subscription", {"cycle": "annual"}),
        api.put("subscription", {"cycle": "monthly"}),
        api.delete(f"cameras/{garden}"),
        api.post("subscription/cancel", {}),
    ]
    assert [s.status_code for s in steps] == [200] * len(steps)
    first = steps[0].json()
    assert (first["net"], first["charge_now"], first["credit_used"], first["credit_added"], first["refund"]) == (
        798, 798, 0, 0, 0)
    scheduled = steps[5].json()["scheduled_change"]
    assert scheduled == {"at": "2028-03-01T00:00:00Z", "kind": "cycle_switch", "cycle": "monthly"}


def test_it_drops_a_scheduled_switch_to_monthly(porch, api, owner):
    api.put("payment-method", {"token": "tok_visa"})
    api.put("subscription", {"cameras": {porch: "plus"}, "cycle": "annual"})
    switched = api.put("subscription", {"cycle": "monthly"}).json()
    assert (switched["scheduled_change"], switched["net"], switched["orders"]) == (
        {"at": "2028-03-01T00:00:00Z", "kind": "cycle_switch", "cycle": "monthly"}, 0, [])
    dropped = api.delete("subscription/scheduled-change")
    assert dropped.status_code == 200
    assert (dropped.json()["scheduled_change"], dropped.json()["cycle"]) == (None, "annual")
    assert api.delete("subscription/scheduled-change").status_code == 200  # nothing left: still 200


def test_it_lists_credit_added_and_used_newest_first(porch, api, owner):
    api.put("payment-method", {"token": "tok_visa"})
    garden, _ = register(api, "Garden")
    api.put("subscription", {"cameras": {porch: "plus", garden: "plus"}})
    move(api, "2027-03-11T00:00:00Z")
    api.put("subscription", {"cameras": {garden: "free"}})  # 21/31 of 399 credited: 270
    move(api, "2027-04-01T00:00:00Z")  # the renewal of 399 uses the 270
    credit = api.get("credit").json()
    assert credit["balance"] == 0 and credit["currency"] == "USD"
    assert [(e["at"], e["amount"]) for e in credit["entries"]] == [
        ("2027-04-01T00:00:00Z", -270), ("2027-03-11T00:00:00Z", 270)]
    assert all(e["order_id"].startswith("ORD-") for e in credit["entries"])
