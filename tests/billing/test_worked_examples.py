"""POLICY.md section 11, to the cent, through the actions (the API twin is in
tests/api/test_subscription_flow.py)."""

from camcare.billing import actions, selectors
from camcare.billing.models import Order, SubscriptionLine
from tests.billing.conftest import add_camera
from tests.billing.helpers import assert_consistent


def plans(account):
    return selectors.current_plans(account)


def priced(result) -> list:
    return sorted((line["kind"], line["plan"], line["amount"]) for line in result.lines)


def test_it_reproduces_the_monthly_story(owner, cameras, card, at):
    porch, garden = cameras
    # 1. Mar 1: two cameras on plus, charged 798.
    at(2027, 3, 1)
    first = actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    assert (first.charge_now, first.net) == (798, 798)
    assert [(o.kind, o.amount, o.credit_used, o.status) for o in first.orders] == [("charge", 798, 0, "succeeded")]

    # 2. Mar 11: both to premium; fraction 21/31.
    at(2027, 3, 11)
    upgrade = actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    assert priced(upgrade) == [("charge", "premium", 880), ("credit", "plus", 270), ("credit", "plus", 270)]
    assert (upgrade.net, upgrade.charge_now, upgrade.credit_used) == (340, 340, 0)
    assert [(o.kind, o.amount) for o in upgrade.orders] == [("charge", 340)]

    # 3. Mar 21: camera 1 to plus, camera 2 to free; fraction 11/31.
    at(2027, 3, 21)
    down = actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "free"}, actor=owner)
    assert priced(down) == [("charge", "plus", 142), ("credit", "premium", 461)]
    premium = SubscriptionLine.objects.get(subscription__account=owner, plan="premium")
    assert (premium.paid, premium.credited) == (880, 461)
    assert (down.net, down.charge_now, down.credit_added) == (-319, 0, 319)
    assert [(o.kind, o.amount) for o in down.orders] == [("credit", 319)]
    assert selectors.credit_balance(owner) == 319

    # 4. Apr 1 renewal: plus 399, credit 319 used, card charged 80.
    at(2027, 4, 1)
    renewal = Order.objects.get(account=owner, purpose="renewal")
    assert (renewal.kind, renewal.amount, renewal.credit_used, renewal.status) == ("charge", 80, 319, "succeeded")
    assert selectors.credit_balance(owner) == 0

    # 5. Apr 11 (April has 30 days): cancel; 399 x 20/30 = 266, 80 back to the card, 186 to credit.
    at(2027, 4, 11)
    cancel = actions.cancel_subscription(account=owner, actor=owner)
    assert priced(cancel) == [("credit", "plus", 266)]
    assert (cancel.refund, cancel.credit_added, cancel.net) == (80, 186, -266)
    refund = Order.objects.get(account=owner, kind="refund")
    assert (refund.amount, refund.refers_to_id, refund.status) == (80, renewal.pk, "succeeded")
    assert [(o.kind, o.amount) for o in cancel.orders] == [("refund", 80), ("credit", 186)]
    assert selectors.credit_balance(owner) == 186
    assert set(plans(owner).values()) == {"free"}
    assert selectors.subscription_summary(owner)["status"] == "none"
    assert_consistent()


def test_it_rounds_halves_up_when_removing_one_of_two_plus_cameras(owner, cameras, card, at):
    porch, garden = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    at(2027, 3, 16, 12)
    result = actions.change_plan(account=owner, cameras={garden.id: "free"}, actor=owner)
    assert priced(result) == [("credit", "plus", 200)]  # 399 x 15.5/31 = 199.5
    assert (result.net, result.credit_added, result.refund) == (-200, 200, 0)
    assert not Order.objects.filter(account=owner, kind="refund").exists()
    assert selectors.credit_balance(owner) == 200
    assert_consistent()


def test_it_charges_the_difference_of_plus_to_premium_in_april(owner, cameras, card, at):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    at(2027, 4, 16)
    result = actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)
    assert priced(result) == [("charge", "premium", 650), ("credit", "plus", 200)]  # 649.5 and 199.5
    assert (result.net, result.charge_now) == (450, 450)
    assert_consistent()


def test_it_refunds_annual_charges_newest_first(owner, cameras, card, at):
    porch, garden = cameras
    at(2027, 1, 10)
    first = actions.change_plan(account=owner, cameras={porch.id: "plus"}, cycle="annual", actor=owner)
    assert first.charge_now == 3999
    at(2027, 2, 19)
    second = actions.change_plan(account=owner, cameras={garden.id: "plus"}, actor=owner)
    assert priced(second) == [("charge", "plus", 3561)]  # 3999 x 325/365
    assert second.charge_now == 3561
    at(2027, 4, 20)
    cancel = actions.cancel_subscription(account=owner, actor=owner)
    assert priced(cancel) == [("credit", "plus", 2903), ("credit", "plus", 2903)]  # 3999 x 265/365
    assert (cancel.refund, cancel.credit_added, cancel.net) == (5806, 0, -5806)
    refunds = {o.refers_to.order_id: o.amount for o in Order.objects.filter(account=owner, kind="refund")}
    assert refunds == {second.orders[0].order_id: 3561, first.orders[0].order_id: 2245}
    assert selectors.credit_balance(owner) == 0
    assert_consistent()


def test_it_restarts_the_period_when_switching_to_annual(owner, cameras, card, at):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    at(2027, 3, 11)
    result = actions.change_plan(account=owner, cycle="annual", actor=owner)
    assert priced(result) == [("charge", "plus", 3999), ("credit", "plus", 270)]
    assert (result.net, result.charge_now, result.credit_used) == (3729, 3729, 0)
    assert [(o.kind, o.amount) for o in result.orders] == [("charge", 3729)]
    summary = selectors.subscription_summary(owner)
    assert (summary["cycle"], summary["current_period_start"], summary["current_period_end"]) == (
        "annual", "2027-03-11T00:00:00Z", "2028-03-11T00:00:00Z")
    assert summary["next_bill"] == {"at": "2028-03-11T00:00:00Z", "amount": 3999}
    assert_consistent()


def test_it_keeps_a_third_camera_free_without_an_order(owner, cameras, card, at):
    at(2027, 3, 1)
    extra = add_camera(owner, "Garage")
    result = actions.change_plan(account=owner, cameras={extra.id: "free"}, actor=owner)
    assert not result.changed
    assert result.orders == []
    assert Order.objects.count() == 0
