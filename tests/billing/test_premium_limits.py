"""Premium covers the whole account for 1 to 10 cameras, as one line (POLICY.md sections 1, 2).

The boundary is 10 accepted, 11 refused: a `>=` in the max-cameras check, a check that
counts a camera twice, or one that counts the plus cameras against Premium's limit, each
refuses an allowed state, and the tests below accept it; a check that is dropped or that
allows one more is caught by the 11-camera refusals.
"""

import pytest

from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import LedgerEntry, Order, Quote, SandboxCharge, SubscriptionLine
from tests.billing.conftest import add_camera
from tests.billing.helpers import assert_consistent


def register(owner, how_many: int, start: int = 1) -> list:
    return [add_camera(owner, f"Camera {n}") for n in range(start, start + how_many)]


def written() -> tuple:
    """Every row a refused change must not write."""
    return (Order.objects.count(), Quote.objects.count(), LedgerEntry.objects.count(),
            SandboxCharge.objects.count(), SubscriptionLine.objects.count())


def test_it_accepts_ten_cameras_on_premium_as_one_line(owner, card, at):
    at(2027, 3, 1)
    ten = register(owner, 10)
    result = actions.change_plan(account=owner, cameras={c.id: "premium" for c in ten}, actor=owner)
    # One account-wide line at the catalog's 12.99, not ten of them.
    assert result.lines == [{"kind": "charge", "plan": "premium", "camera": None, "amount": 1299}]
    assert (result.net, result.charge_now, result.credit_used) == (1299, 1299, 0)
    assert [(o.kind, o.amount, o.status) for o in result.orders] == [("charge", 1299, "succeeded")]
    assert SandboxCharge.objects.get().amount == 1299
    [line] = SubscriptionLine.objects.filter(subscription__account=owner)
    assert (line.plan, line.camera_key, line.unit_price, line.paid) == ("premium", "", 1299, 1299)
    assert set(selectors.current_plans(owner).values()) == {"premium"}
    assert selectors.subscription_summary(owner)["next_bill"] == {"at": "2027-04-01T00:00:00Z", "amount": 1299}
    assert_consistent()


def test_it_lets_a_tenth_camera_join_a_premium_line_for_nothing(owner, card, at):
    at(2027, 3, 1)
    cameras = register(owner, 10)
    actions.change_plan(account=owner, cameras={c.id: "premium" for c in cameras[:9]}, actor=owner)
    at(2027, 3, 11)
    # The premium line stays the same line: no proration and no order (POLICY.md section 4).
    result = actions.change_plan(account=owner, cameras={cameras[9].id: "premium"}, actor=owner)
    assert result.changed
    assert (result.lines, result.net, result.orders) == ([], 0, [])
    assert selectors.current_plans(owner)[cameras[9].id] == "premium"
    assert Order.objects.filter(account=owner).count() == 1  # the 1299 of Mar 1 only


def test_it_accepts_ten_on_premium_beside_cameras_on_plus(owner, card, at):
    at(2027, 3, 1)
    premium, plus = register(owner, 10), register(owner, 2, start=11)
    target = {**{c.id: "premium" for c in premium}, **{c.id: "plus" for c in plus}}
    result = actions.change_plan(account=owner, cameras=target, actor=owner)
    # The plus cameras do not count against Premium's 10: 1299 + 2 x 399.
    assert sorted((line["plan"], line["camera"], line["amount"]) for line in result.lines) == sorted(
        [("premium", None, 1299), ("plus", plus[0].id, 399), ("plus", plus[1].id, 399)])
    assert (result.net, result.charge_now) == (2097, 2097)
    assert [(o.kind, o.amount) for o in result.orders] == [("charge", 2097)]
    assert_consistent()


def test_it_refuses_eleven_cameras_on_premium_and_writes_nothing(owner, card, at):
    at(2027, 3, 1)
    eleven = register(owner, 11)
    before = written()
    for attempt in (actions.preview_change, actions.change_plan):
        with pytest.raises(BillingRefusal) as refused:
            attempt(account=owner, cameras={c.id: "premium" for c in eleven}, actor=owner)
        assert (refused.value.code, refused.value.status) == ("too_many_premium_cameras", 422)
        assert "10" in refused.value.message
    assert written() == before
    assert set(selectors.current_plans(owner).values()) == {"free"}


def test_it_refuses_an_eleventh_camera_joining_a_full_premium_line(owner, card, at):
    at(2027, 3, 1)
    cameras = register(owner, 11)
    actions.change_plan(account=owner, cameras={c.id: "premium" for c in cameras[:10]}, actor=owner)
    at(2027, 3, 11)
    before = written()
    # A join costs nothing (the line stays), so only the limit can refuse it.
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, cameras={cameras[10].id: "premium"}, actor=owner)
    assert (refused.value.code, refused.value.status) == ("too_many_premium_cameras", 422)
    assert written() == before
    assert selectors.current_plans(owner)[cameras[10].id] == "free"


def test_it_answers_422_for_eleven_premium_cameras_through_the_api(owner, card, at, api):
    at(2027, 3, 1)
    body = {"cameras": {c.id: "premium" for c in register(owner, 11)}}
    before = written()
    for response in (api.post("subscription/preview", body), api.put("subscription", body)):
        assert response.status_code == 422
        assert response.json()["code"] == "too_many_premium_cameras"
        assert response.json()["reference"].startswith("ERR-")
    assert written() == before
    assert set(selectors.current_plans(owner).values()) == {"free"}


def test_it_previews_and_charges_ten_premium_cameras_through_the_api(owner, card, at, api):
    at(2027, 3, 1)
    body = {"cameras": {c.id: "premium" for c in register(owner, 10)}}
    preview = api.post("subscription/preview", body)
    assert preview.status_code == 200
    assert preview.json()["lines"] == [{"kind": "charge", "plan": "premium", "camera": None, "amount": 1299}]
    assert preview.json()["charge_now"] == 1299
    change = api.put("subscription", {**body, "quote": preview.json()["quote"]})
    assert change.status_code == 200
    assert [(o["kind"], o["amount"], o["status"]) for o in change.json()["orders"]] == [
        ("charge", 1299, "succeeded")]
    assert set(change.json()["subscription"]["cameras"].values()) == {"premium"}
    assert_consistent()
