"""POST /subscription/stop and the scheduled change's shape (API.md, end table)."""

from __future__ import annotations

from camcare.billing.models import Order
from tests.api.conftest import assert_error, move
from tests.api.test_subscription_refusals import go_past_due, import_app_store, porch  # noqa: F401

STOP = {"at": "2027-04-01T00:00:00Z", "kind": "stop", "cycle": None}


def test_it_stops_at_the_period_end_and_undoes_it(porch, api):  # noqa: F811
    api.put("payment-method", {"token": "tok_visa"})
    assert api.put("subscription", {"cameras": {porch: "plus"}}).status_code == 200
    orders = Order.objects.count()
    stopped = api.post("subscription/stop", {})
    assert stopped.status_code == 200
    body = stopped.json()
    assert (body["charge_now"], body["net"], body["orders"], body["next_bill"]) == (0, 0, [], None)
    assert body["scheduled_change"] == STOP
    assert [e["camera"] for e in body["erasures"]] == [porch]
    assert (body["subscription"]["scheduled_change"], body["subscription"]["next_bill"]) == (STOP, None)
    summary = api.get("subscription").json()
    assert (summary["scheduled_change"], summary["next_bill"]) == (STOP, None)
    assert Order.objects.count() == orders
    dropped = api.delete("subscription/scheduled-change").json()
    assert dropped["scheduled_change"] is None
    assert dropped["next_bill"] == {"at": "2027-04-01T00:00:00Z", "amount": 399}


def test_the_stop_is_carried_out_at_the_period_end(porch, api):  # noqa: F811
    api.put("payment-method", {"token": "tok_visa"})
    api.put("subscription", {"cameras": {porch: "plus"}})
    api.post("subscription/stop", {})
    orders = Order.objects.count()
    move(api, "2027-04-02T00:00:00Z")
    summary = api.get("subscription").json()
    assert (summary["status"], summary["cameras"], summary["next_bill"]) == ("none", {porch: "free"}, None)
    assert Order.objects.count() == orders


def test_it_refuses_nothing_to_stop(porch, api, owner):  # noqa: F811
    assert_error(api.post("subscription/stop", {}), 409, "nothing_to_stop", account=owner)


def test_it_refuses_past_due(porch, api, owner):  # noqa: F811
    go_past_due(api, porch)
    assert_error(api.post("subscription/stop", {}), 409, "past_due", account=owner)


def test_it_refuses_a_store_subscription(porch, api, owner):  # noqa: F811
    import_app_store(owner, porch)
    assert_error(api.post("subscription/stop", {}), 409, "managed_in_app_store", account=owner)


def test_it_refuses_unknown_fields(porch, api):  # noqa: F811
    assert api.post("subscription/stop", {"quote": "quo_x"}).status_code == 422


def test_the_cycle_switch_has_its_kind(porch, api):  # noqa: F811
    api.put("payment-method", {"token": "tok_visa"})
    api.put("subscription", {"cameras": {porch: "plus"}, "cycle": "annual"})
    switched = api.put("subscription", {"cycle": "monthly"}).json()
    assert switched["scheduled_change"]["kind"] == "cycle_switch"
    stopped = api.post("subscription/stop", {}).json()
    assert stopped["scheduled_change"] == {"at": switched["scheduled_change"]["at"], "kind": "stop", "cycle": None}
