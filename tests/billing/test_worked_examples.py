"""POLICY.md section 11, to the cent, through the actions."""

from camcare.billing import actions, selectors
from camcare.billing.models import Order
from tests.billing.conftest import add_camera


def plans(account):
    return selectors.current_plans(account)


def test_it_reproduces_the_monthly_story(owner, cameras, card, at):
    porch, garden = cameras
    at(2027, 3, 1)
    first = actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    assert (first.charge_now, first.net) == (798, 798)

    at(2027, 3, 11)
    upgrade = actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    assert sorted((line["kind"], line["plan"], line["amount"]) for line in upgrade.lines) == [
        ("charge", "premium", 880), ("credit", "plus", 270), ("credit", "plus", 270)]
    assert (upgrade.net, upgrade.charge_now) == (340, 340)

    at(2027, 3, 21)
    down = actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "free"}, actor=owner)
    assert sorted((line["kind"], line["plan"], line["amount"]) for line in down.lines) == [
        ("charge", "plus", 142), ("credit", "premium", 461)]
    assert (down.net, down.credit_added) == (-319, 319)
    assert selectors.credit_balance(owner) == 319

    at(2027, 4, 1)
    renewal = Order.objects.get(account=owner, purpose="renewal")
    assert (renewal.kind, renewal.amount, renewal.credit_used, renewal.status) == ("charge", 80, 319, "succeeded")
    assert selectors.credit_balance(owner) == 0

    at(2027, 4, 11)
    cancel = actions.cancel_subscription(account=owner, actor=owner)
    assert [line["amount"] for line in cancel.lines] == [266]
    assert (cancel.refund, cancel.credit_added, cancel.net) == (80, 186, -266)
    refund = Order.objects.get(account=owner, kind="refund")
    assert (refund.amount, refund.refers_to_id, refund.status) == (80, renewal.pk, "succeeded")
    assert Order.objects.filter(account=owner, kind="credit", amount=186).exists()
    assert selectors.credit_balance(owner) == 186
    assert set(plans(owner).values()) == {"free"}
    assert selectors.subscription_summary(owner)["status"] == "none"


def test_it_rounds_halves_up_when_removing_one_of_two_plus_cameras(owner, cameras, card, at):
    porch, garden = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    at(2027, 3, 16, 12)
    result = actions.change_plan(account=owner, cameras={garden.id: "free"}, actor=owner)
    assert result.credit_added == 200
    assert result.refund == 0
    assert selectors.credit_balance(owner) == 200


def test_it_charges_the_difference_of_plus_to_premium_in_april(owner, cameras, card, at):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    at(2027, 4, 16)
    result = actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)
    assert sorted(line["amount"] for line in result.lines) == [200, 650]
    assert result.net == 450


def test_it_refunds_annual_charges_newest_first(owner, cameras, card, at):
    porch, garden = cameras
    at(2027, 1, 10)
    first = actions.change_plan(account=owner, cameras={porch.id: "plus"}, cycle="annual", actor=owner)
    assert first.charge_now == 3999
    at(2027, 2, 19)
    second = actions.change_plan(account=owner, cameras={garden.id: "plus"}, actor=owner)
    assert second.charge_now == 3561
    at(2027, 4, 20)
    cancel = actions.cancel_subscription(account=owner, actor=owner)
    assert [line["amount"] for line in cancel.lines] == [2903, 2903]
    assert cancel.refund == 5806
    refunds = {o.refers_to.order_id: o.amount for o in Order.objects.filter(account=owner, kind="refund")}
    assert refunds == {second.orders[0].order_id: 3561, first.orders[0].order_id: 2245}
    assert selectors.credit_balance(owner) == 0


def test_it_restarts_the_period_when_switching_to_annual(owner, cameras, card, at):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    when = at(2027, 3, 11)
    result = actions.change_plan(account=owner, cycle="annual", actor=owner)
    assert sorted((line["kind"], line["amount"]) for line in result.lines) == [("charge", 3999), ("credit", 270)]
    assert result.charge_now == 3729
    summary = selectors.subscription_summary(owner)
    assert summary["current_period_start"] == "2027-03-11T00:00:00Z"
    assert summary["current_period_end"] == "2028-03-11T00:00:00Z"
    assert summary["cycle"] == "annual"
    assert when.isoformat().startswith("2027-03-11")


def test_it_keeps_a_third_camera_free_without_an_order(owner, cameras, card, at):
    at(2027, 3, 1)
    extra = add_camera(owner, "Garage")
    result = actions.change_plan(account=owner, cameras={extra.id: "free"}, actor=owner)
    assert result.orders == []
    assert Order.objects.count() == 0
