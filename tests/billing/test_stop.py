"""The stop at the period end (POLICY.md section 13): scheduled, undone, replaced, carried
out by the renewal rules, and a plan change while it is scheduled."""

import pytest

from camcare.audit.models import AuditEvent
from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Order, Subscription, SubscriptionLine
from camcare.cameras.models import Camera, Clip
from tests.billing.conftest import add_clip
from tests.billing.helpers import assert_consistent
from tests.conftest import utc

STOP = {"at": "2027-04-01T00:00:00Z", "kind": "stop", "cycle": None}


def refused(call) -> str:
    with pytest.raises(BillingRefusal) as raised:
        call()
    return raised.value.code


def test_it_schedules_a_stop_and_moves_nothing_now(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 20)
    old = add_clip(porch, utc(2027, 3, 10))  # before the cut-off at the stop: 2027-03-30
    add_clip(porch, utc(2027, 3, 19))
    orders, version = Order.objects.count(), Subscription.objects.get(account=owner).version
    result = actions.stop_at_period_end(account=owner, actor=owner)
    body = result.to_api()
    assert (body["net"], body["charge_now"], body["refund"], body["lines"], body["orders"]) == (0, 0, 0, [], [])
    assert (body["scheduled_change"], body["next_bill"]) == (STOP, None)
    assert sorted(body["erasures"], key=lambda e: e["camera"]) == sorted([
        {"camera": porch.id, "clips": 2, "recorded_before": "2027-03-30T00:00:00Z", "held": False},
        {"camera": garden.id, "clips": 0, "recorded_before": "2027-03-30T00:00:00Z", "held": False},
    ], key=lambda e: e["camera"])
    assert Order.objects.count() == orders
    assert Subscription.objects.get(account=owner).version == version + 1
    summary = selectors.subscription_summary(owner)
    assert (summary["status"], summary["scheduled_change"], summary["next_bill"]) == ("active", STOP, None)
    assert set(summary["cameras"].values()) == {"plus"}
    assert Clip.objects.filter(pk=old.pk).exists()
    assert AuditEvent.objects.filter(account=owner, action="subscription.stop_scheduled").count() == 1


def test_it_makes_an_open_quote_stale(owner, subscribed, at):
    porch, _ = subscribed
    at(2027, 3, 20)
    quote = actions.preview_change(account=owner, cameras={porch.id: "premium"}, actor=owner).quote_id
    actions.stop_at_period_end(account=owner, actor=owner)
    assert refused(lambda: actions.change_plan(account=owner, quote_id=quote, actor=owner)) == "quote_stale"


def test_it_carries_out_the_stop_at_the_period_end(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 20)
    erased = add_clip(porch, utc(2027, 3, 29, 23))
    kept = add_clip(porch, utc(2027, 3, 30, 1))
    actions.stop_at_period_end(account=owner, actor=owner)
    orders = Order.objects.count()
    at(2027, 4, 1)
    assert Order.objects.count() == orders  # nothing billed
    summary = selectors.subscription_summary(owner)
    assert (summary["status"], summary["scheduled_change"], summary["next_bill"], summary["price"]) == (
        "none", None, None, 0)
    assert set(Camera.objects.filter(account=owner).values_list("plan", flat=True)) == {"free"}
    assert not SubscriptionLine.objects.filter(subscription__account=owner, ended_at__isnull=True).exists()
    assert set(SubscriptionLine.objects.filter(subscription__account=owner).values_list("ended_at", flat=True)) == {
        utc(2027, 4, 1)}
    assert not Clip.objects.filter(pk=erased.pk).exists()  # erased, not held
    assert Clip.objects.filter(pk=kept.pk).exists()
    assert AuditEvent.objects.filter(account=owner, action="subscription.stopped").count() == 1
    at(2027, 5, 1)
    assert Order.objects.count() == orders
    assert_consistent()


def test_the_billing_run_carries_out_the_stop(owner, subscribed, at):
    at(2027, 3, 20)
    actions.stop_at_period_end(account=owner, actor=owner)
    orders = Order.objects.count()
    actions.run_billing(at=utc(2027, 4, 1, 1))
    assert Order.objects.count() == orders
    assert Subscription.objects.get(account=owner).status == "none"
    assert set(Camera.objects.filter(account=owner).values_list("plan", flat=True)) == {"free"}


def test_it_undoes_a_stop(owner, subscribed, at):
    at(2027, 3, 20)
    actions.stop_at_period_end(account=owner, actor=owner)
    actions.drop_scheduled_change(account=owner, actor=owner)
    summary = selectors.subscription_summary(owner)
    assert summary["scheduled_change"] is None
    assert summary["next_bill"] == {"at": "2027-04-01T00:00:00Z", "amount": 798}
    at(2027, 4, 1)
    assert Order.objects.filter(purpose="renewal", amount=798).count() == 1
    actions.drop_scheduled_change(account=owner, actor=owner)  # nothing scheduled: nothing changes


def test_an_annual_to_monthly_switch_replaces_the_stop_and_back(owner, cameras, card, at):
    porch, _ = cameras
    at(2027, 1, 10)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, cycle="annual", actor=owner)
    at(2027, 6, 1)
    actions.stop_at_period_end(account=owner, actor=owner)
    switched = actions.change_plan(account=owner, cycle="monthly", actor=owner)
    assert switched.scheduled_change == {"at": "2028-01-10T00:00:00Z", "kind": "cycle_switch", "cycle": "monthly"}
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.scheduled_cycle, subscription.scheduled_stop) == ("monthly", False)
    assert selectors.subscription_summary(owner)["next_bill"] == {"at": "2028-01-10T00:00:00Z", "amount": 399}
    stopped = actions.stop_at_period_end(account=owner, actor=owner)
    assert stopped.scheduled_change == {"at": "2028-01-10T00:00:00Z", "kind": "stop", "cycle": None}
    subscription.refresh_from_db()
    assert (subscription.scheduled_cycle, subscription.scheduled_stop) == ("", True)


def test_a_plan_change_keeps_the_stop(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 16)
    actions.stop_at_period_end(account=owner, actor=owner)
    preview = actions.preview_change(account=owner, cameras={garden.id: "free"}, actor=owner)
    assert (preview.scheduled_change, preview.next_bill) == (STOP, None)
    result = actions.change_plan(account=owner, cameras={garden.id: "free"}, actor=owner)
    assert result.net < 0
    assert result.subscription["scheduled_change"] == STOP
    assert result.subscription["next_bill"] is None


def test_after_monthly_to_annual_the_stop_is_at_the_new_period_end(owner, subscribed, at):
    at(2027, 3, 16)
    actions.stop_at_period_end(account=owner, actor=owner)
    result = actions.change_plan(account=owner, cycle="annual", actor=owner)
    assert result.charge_now > 0
    stop = {"at": "2028-03-16T00:00:00Z", "kind": "stop", "cycle": None}
    assert (result.scheduled_change, result.subscription["scheduled_change"]) == (stop, stop)
    orders = Order.objects.count()
    at(2028, 3, 16)
    assert Order.objects.count() == orders
    assert Subscription.objects.get(account=owner).status == "none"


def test_it_refuses_with_no_paid_line(owner, cameras):
    assert refused(lambda: actions.stop_at_period_end(account=owner, actor=owner)) == "nothing_to_stop"


def test_it_refuses_while_past_due(owner, subscribed, at):
    from camcare.billing.models import PaymentMethod

    PaymentMethod.objects.filter(account=owner).update(token="tok_chargeDeclined")
    at(2027, 4, 1)
    assert Subscription.objects.get(account=owner).status == "past_due"
    assert refused(lambda: actions.stop_at_period_end(account=owner, actor=owner)) == "past_due"


def test_a_cancel_after_a_stop_clears_it(owner, subscribed, at):
    at(2027, 3, 20)
    actions.stop_at_period_end(account=owner, actor=owner)
    actions.cancel_subscription(account=owner, actor=owner)
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.status, subscription.scheduled_stop) == ("none", False)
