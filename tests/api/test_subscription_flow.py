"""POLICY.md section 11's monthly story through the JSON API."""

from tests.billing.conftest import add_camera


def move(api, when):
    response = api.post("test-clock", {"now": when})
    assert response.status_code == 200, response.content
    return response


def test_it_tells_the_monthly_story_through_the_api(api, owner):
    porch, garden = add_camera(owner, "Porch"), add_camera(owner, "Garden")
    assert api.put("payment-method", {"token": "tok_visa"}).json() == {"brand": "Visa", "last4": "4242"}
    move(api, "2027-03-01T00:00:00Z")
    first = api.put("subscription", {"cameras": {porch.pk: "plus", garden.pk: "plus"}})
    assert first.status_code == 200, first.content
    assert first.json()["charge_now"] == 798

    move(api, "2027-03-11T00:00:00Z")
    preview = api.post("subscription/preview", {"cameras": {porch.pk: "premium", garden.pk: "premium"}}).json()
    assert (preview["net"], preview["charge_now"]) == (340, 340)
    done = api.put("subscription", {"cameras": {porch.pk: "premium", garden.pk: "premium"}, "quote": preview["quote"]})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["charge_now"] == 340
    assert [o["amount"] for o in body["orders"]] == [340]
    assert body["orders"][0]["order_id"].startswith("ORD-")

    move(api, "2027-03-21T00:00:00Z")
    down = api.put("subscription", {"cameras": {porch.pk: "plus", garden.pk: "free"}}).json()
    assert (down["net"], down["credit_added"]) == (-319, 319)
    assert sorted(e["camera"] for e in down["erasures"]) == sorted([garden.pk, porch.pk])

    move(api, "2027-04-01T00:00:00Z")
    orders = api.get("orders").json()
    assert (orders[0]["amount"], orders[0]["credit_used"]) == (80, 319)

    move(api, "2027-04-11T00:00:00Z")
    cancel = api.post("subscription/cancel", {}).json()
    assert (cancel["refund"], cancel["credit_added"]) == (80, 186)
    assert api.get("subscription").json()["status"] == "none"
    assert api.get("credit").json()["balance"] == 186


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
