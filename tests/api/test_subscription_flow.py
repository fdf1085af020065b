"""POLICY.md section 11 through the JSON API: every worked example and other case, to the
cent (the action twin is tests/billing/test_worked_examples.py)."""

import pytest

from tests.billing.conftest import add_camera
from tests.billing.helpers import assert_consistent, money_fields


def move(api, when):
    response = api.post("test-clock", {"now": when})
    assert response.status_code == 200, response.content
    return response


def priced(body) -> list:
    return sorted((line["kind"], line["plan"], line["amount"]) for line in body["lines"])


def put(api, body, **kw):
    response = api.put("subscription", body, **kw)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def two(api, owner):
    porch, garden = add_camera(owner, "Porch"), add_camera(owner, "Garden")
    assert api.put("payment-method", {"token": "tok_visa"}).json() == {"brand": "Visa", "last4": "4242"}
    return porch.pk, garden.pk


def test_it_tells_the_monthly_story_through_the_api(api, two):
    porch, garden = two
    move(api, "2027-03-01T00:00:00Z")
    first = put(api, {"cameras": {porch: "plus", garden: "plus"}})
    assert (first["charge_now"], first["net"], first["currency"]) == (798, 798, "USD")
    assert [(o["kind"], o["amount"], o["status"]) for o in first["orders"]] == [("charge", 798, "succeeded")]

    move(api, "2027-03-11T00:00:00Z")
    preview = api.post("subscription/preview", {"cameras": {porch: "premium", garden: "premium"}}).json()
    assert priced(preview) == [("charge", "premium", 880), ("credit", "plus", 270), ("credit", "plus", 270)]
    assert [line["camera"] for line in preview["lines"] if line["plan"] == "premium"] == [None]
    assert (preview["net"], preview["charge_now"]) == (340, 340)
    done = put(api, {"cameras": {porch: "premium", garden: "premium"}, "quote": preview["quote"]})
    assert money_fields(done) == money_fields(preview)
    assert [(o["kind"], o["amount"]) for o in done["orders"]] == [("charge", 340)]
    assert done["orders"][0]["order_id"].startswith("ORD-")

    move(api, "2027-03-21T00:00:00Z")
    down = put(api, {"cameras": {porch: "plus", garden: "free"}})
    assert priced(down) == [("charge", "plus", 142), ("credit", "premium", 461)]
    assert (down["net"], down["charge_now"], down["credit_added"]) == (-319, 0, 319)
    assert [(o["kind"], o["amount"]) for o in down["orders"]] == [("credit", 319)]
    assert sorted(e["camera"] for e in down["erasures"]) == sorted([garden, porch])
    assert api.get("credit").json()["balance"] == 319

    move(api, "2027-04-01T00:00:00Z")
    renewals = [o for o in api.get("orders").json() if o["created_at"] == "2027-04-01T00:00:00Z"]
    assert [(o["kind"], o["amount"], o["credit_used"], o["status"]) for o in renewals] == [
        ("charge", 80, 319, "succeeded")]
    assert api.get("credit").json()["balance"] == 0

    move(api, "2027-04-11T00:00:00Z")
    cancel_preview = api.post("subscription/preview", {"cameras": {porch: "free", garden: "free"}}).json()
    cancel = api.post("subscription/cancel", {"quote": cancel_preview["quote"]})
    assert cancel.status_code == 200, cancel.content
    cancel = cancel.json()
    assert money_fields(cancel) == money_fields(cancel_preview)
    assert priced(cancel) == [("credit", "plus", 266)]
    assert (cancel["refund"], cancel["credit_added"], cancel["net"]) == (80, 186, -266)
    refund, credit = cancel["orders"]
    assert (refund["kind"], refund["amount"], refund["refers_to"]) == ("refund", 80, renewals[0]["order_id"])
    assert (credit["kind"], credit["amount"]) == ("credit", 186)
    assert api.get("subscription").json()["status"] == "none"
    assert api.get("credit").json()["balance"] == 186
    assert_consistent()


def test_it_rounds_halves_up_when_removing_one_of_two_plus_cameras(api, two):
    porch, garden = two
    move(api, "2027-03-01T00:00:00Z")
    put(api, {"cameras": {porch: "plus", garden: "plus"}})
    move(api, "2027-03-16T12:00:00Z")
    result = put(api, {"cameras": {garden: "free"}})
    assert priced(result) == [("credit", "plus", 200)]
    assert (result["net"], result["credit_added"], result["refund"]) == (-200, 200, 0)
    assert not [o for o in api.get("orders").json() if o["kind"] == "refund"]
    assert api.get("credit").json()["balance"] == 200


def test_it_charges_450_for_plus_to_premium_in_april(api, two):
    porch, _ = two
    move(api, "2027-03-01T00:00:00Z")
    put(api, {"cameras": {porch: "plus"}})
    move(api, "2027-04-16T00:00:00Z")
    result = put(api, {"cameras": {porch: "premium"}})
    assert priced(result) == [("charge", "premium", 650), ("credit", "plus", 200)]
    assert (result["net"], result["charge_now"]) == (450, 450)
    assert [(o["kind"], o["amount"]) for o in result["orders"]] == [("charge", 450)]


def test_it_refunds_the_annual_charges_newest_first(api, two):
    porch, garden = two
    move(api, "2027-01-10T00:00:00Z")
    first = put(api, {"cycle": "annual", "cameras": {porch: "plus"}})
    assert first["charge_now"] == 3999
    move(api, "2027-02-19T00:00:00Z")
    second = put(api, {"cameras": {garden: "plus"}})
    assert priced(second) == [("charge", "plus", 3561)]
    move(api, "2027-04-20T00:00:00Z")
    cancel = api.post("subscription/cancel", {})
    assert cancel.status_code == 200, cancel.content
    cancel = cancel.json()
    assert priced(cancel) == [("credit", "plus", 2903), ("credit", "plus", 2903)]
    assert (cancel["refund"], cancel["credit_added"], cancel["net"]) == (5806, 0, -5806)
    assert [(o["kind"], o["amount"], o["refers_to"]) for o in cancel["orders"]] == [
        ("refund", 3561, second["orders"][0]["order_id"]), ("refund", 2245, first["orders"][0]["order_id"])]
    assert api.get("credit").json()["balance"] == 0
    assert_consistent()


def test_it_restarts_the_period_when_switching_to_annual(api, two):
    porch, _ = two
    move(api, "2027-03-01T00:00:00Z")
    put(api, {"cameras": {porch: "plus"}})
    move(api, "2027-03-11T00:00:00Z")
    result = put(api, {"cycle": "annual"})
    assert priced(result) == [("charge", "plus", 3999), ("credit", "plus", 270)]
    assert (result["net"], result["charge_now"]) == (3729, 3729)
    assert [(o["kind"], o["amount"]) for o in result["orders"]] == [("charge", 3729)]
    summary = api.get("subscription").json()
    assert (summary["cycle"], summary["current_period_start"], summary["current_period_end"]) == (
        "annual", "2027-03-11T00:00:00Z", "2028-03-11T00:00:00Z")


def test_it_refuses_a_stale_quote(api, owner):
    porch = add_camera(owner, "Porch")
    api.put("payment-method", {"token": "tok_visa"})
    quote = api.post("subscription/preview", {"cameras": {porch.pk: "plus"}}).json()["quote"]
    api.put("subscription", {"cameras": {porch.pk: "premium"}})
    response = api.put("subscription", {"quote": quote})
    assert response.status_code == 409
    assert response.json()["code"] == "quote_stale"
    assert response.json()["reference"].startswith("ERR-")


def test_it_replays_an_idempotent_cancel(api, owner):
    porch = add_camera(owner, "Porch")
    api.put("payment-method", {"token": "tok_visa"})
    api.put("subscription", {"cameras": {porch.pk: "plus"}})
    first = api.post("subscription/cancel", {}, headers={"Idempotency-Key": "k1"})
    second = api.post("subscription/cancel", {}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.content == second.content
    assert len([o for o in api.get("orders").json() if o["kind"] == "refund"]) == 1


def test_it_keeps_the_outsider_away_from_the_owners_cameras_and_quotes(api, outsider_api, two):
    porch, _ = two
    move(api, "2027-03-01T00:00:00Z")
    quote = api.post("subscription/preview", {"cameras": {porch: "plus"}}).json()["quote"]
    outsider_api.put("payment-method", {"token": "tok_visa"})
    for response in (outsider_api.post("subscription/preview", {"cameras": {porch: "plus"}}),
                     outsider_api.put("subscription", {"cameras": {porch: "plus"}})):
        assert (response.status_code, response.json()["code"]) == (422, "unknown_camera")
    stolen = outsider_api.put("subscription", {"quote": quote})
    assert (stolen.status_code, stolen.json()["code"]) == (409, "quote_stale")
    assert outsider_api.get("orders").json() == []
    assert api.get("subscription").json()["cameras"][porch] == "free"
    done = put(api, {"quote": quote})  # the owner's quote is untouched by the attempts
    assert done["charge_now"] == 399


def test_it_answers_401_without_a_token(anon_api):
    for response in (anon_api.post("subscription/preview", {"cameras": {}}), anon_api.put("subscription", {}),
                     anon_api.post("subscription/cancel", {})):
        assert response.status_code == 401
