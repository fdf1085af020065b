"""Renewals: credit first, exactly once, scheduled switches, new prices (POLICY.md sections 1, 5)."""

import os
import uuid
from pathlib import Path

import pytest
from django.db.models import Sum

from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import LedgerEntry, Order, SandboxCharge, Subscription, SubscriptionLine
from tests.billing.helpers import assert_consistent
from tests.conftest import set_clock, utc


def renewals(owner):
    return list(Order.objects.filter(account=owner, purpose="renewal").order_by("id"))


def test_it_renews_at_the_period_end_with_the_card(owner, subscribed, at):
    at(2027, 3, 31, 23, 59, 59)
    assert renewals(owner) == []
    at(2027, 4, 1)
    [order] = renewals(owner)
    assert (order.kind, order.amount, order.credit_used, order.status) == ("charge", 798, 0, "succeeded")
    assert order.period_start == utc(2027, 4, 1)
    assert order.gateway_key.startswith("renewal:")
    summary = selectors.subscription_summary(owner)
    assert (summary["current_period_start"], summary["current_period_end"]) == (
        "2027-04-01T00:00:00Z", "2027-05-01T00:00:00Z")
    assert summary["next_bill"] == {"at": "2027-05-01T00:00:00Z", "amount": 798}
    assert_consistent()


def test_it_uses_the_credit_balance_first(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 16, 12)
    actions.change_plan(account=owner, cameras={garden.id: "free"}, actor=owner)
    assert selectors.subscription_summary(owner)["next_bill"] == {"at": "2027-04-01T00:00:00Z", "amount": 199}
    at(2027, 4, 1)
    [order] = renewals(owner)
    assert (order.amount, order.credit_used) == (199, 200)
    assert selectors.credit_balance(owner) == 0
    assert_consistent()


def test_it_writes_a_zero_charge_when_credit_covers_the_renewal(owner, subscribed, at):
    porch, garden = subscribed
    actions.issue_support_credit(request_key=uuid.uuid4().hex, account=owner, amount=1000, reason="outage", actor=owner)
    at(2027, 4, 1)
    [order] = renewals(owner)
    assert (order.amount, order.credit_used, order.status, order.gateway_key) == (0, 798, "succeeded", None)
    assert selectors.credit_balance(owner) == 202
    assert SandboxCharge.objects.count() == 1  # only the first subscription's charge
    assert_consistent()


def test_it_renews_once_when_renew_is_called_twice(owner, subscribed):
    subscription = Subscription.objects.get(account=owner)
    set_clock(owner, utc(2027, 4, 1, 6))
    first = actions.renew(subscription_id=subscription.pk, at=utc(2027, 4, 1, 6))
    second = actions.renew(subscription_id=subscription.pk, at=utc(2027, 4, 1, 6))
    assert first is not None and second is None
    assert len(renewals(owner)) == 1
    assert SandboxCharge.objects.filter(amount=798).count() == 2  # Mar 1 and Apr 1
    assert_consistent()


def test_it_renews_once_when_the_billing_job_runs_twice(owner, subscribed):
    set_clock(owner, utc(2027, 4, 1, 6))
    assert actions.run_billing(at=utc(2027, 4, 1, 6)) == 1
    assert actions.run_billing(at=utc(2027, 4, 1, 6)) == 0
    assert len(renewals(owner)) == 1
    assert_consistent()


def test_it_renews_once_when_a_claim_is_in_flight(owner, subscribed):
    subscription = Subscription.objects.get(account=owner)
    Subscription.objects.filter(pk=subscription.pk).update(claimed_by="ORD-INFLIGHT00")
    assert actions.renew(subscription_id=subscription.pk, at=utc(2027, 4, 1)) is None
    assert renewals(owner) == []


def test_it_bills_each_period_in_turn_when_the_clock_jumps(owner, subscribed, at):
    at(2027, 6, 15)
    assert [(o.period_start, o.amount) for o in renewals(owner)] == [
        (utc(2027, 4, 1), 798), (utc(2027, 5, 1), 798), (utc(2027, 6, 1), 798)]
    assert selectors.subscription_summary(owner)["current_period_end"] == "2027-07-01T00:00:00Z"
    assert_consistent()


def test_it_clamps_renewals_of_a_month_end_anchor(owner, cameras, card, at):
    porch, _ = cameras
    at(2027, 1, 31, 10)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    at(2027, 4, 30, 10)
    assert [o.period_start for o in renewals(owner)] == [
        utc(2027, 2, 28, 10), utc(2027, 3, 31, 10), utc(2027, 4, 30, 10)]


@pytest.fixture
def annual(owner, cameras, card, at):
    porch, _ = cameras
    at(2027, 1, 10)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, cycle="annual", actor=owner)
    return cameras


def test_it_applies_a_scheduled_switch_to_monthly_at_renewal(owner, annual, at):
    porch, _ = annual
    at(2027, 6, 1)
    result = actions.change_plan(account=owner, cycle="monthly", actor=owner)
    assert (result.net, result.charge_now, result.orders) == (0, 0, [])
    assert result.scheduled_change == {"at": "2028-01-10T00:00:00Z", "kind": "cycle_switch", "cycle": "monthly"}
    summary = selectors.subscription_summary(owner)
    assert summary["cycle"] == "annual"
    assert summary["scheduled_change"] == {"at": "2028-01-10T00:00:00Z", "kind": "cycle_switch", "cycle": "monthly"}
    assert summary["next_bill"] == {"at": "2028-01-10T00:00:00Z", "amount": 399}
    at(2028, 1, 10)
    [order] = renewals(owner)
    assert (order.amount, order.period_start) == (399, utc(2028, 1, 10))
    summary = selectors.subscription_summary(owner)
    assert (summary["cycle"], summary["scheduled_change"]) == ("monthly", None)
    assert (summary["current_period_start"], summary["current_period_end"]) == (
        "2028-01-10T00:00:00Z", "2028-02-10T00:00:00Z")
    assert Subscription.objects.get(account=owner).anchor == utc(2028, 1, 10)
    line = SubscriptionLine.objects.get(subscription__account=owner, ended_at__isnull=True)
    assert (line.cycle, line.unit_price, line.paid) == ("monthly", 399, 399)
    at(2028, 2, 10)
    assert [o.amount for o in renewals(owner)] == [399, 399]
    assert_consistent()


def test_it_drops_a_scheduled_switch(owner, annual, at):
    at(2027, 6, 1)
    actions.change_plan(account=owner, cycle="monthly", actor=owner)
    actions.drop_scheduled_change(account=owner, actor=owner)
    summary = selectors.subscription_summary(owner)
    assert summary["scheduled_change"] is None
    assert summary["next_bill"] == {"at": "2028-01-10T00:00:00Z", "amount": 3999}
    at(2028, 1, 10)
    [order] = renewals(owner)
    assert order.amount == 3999
    assert selectors.subscription_summary(owner)["current_period_end"] == "2029-01-10T00:00:00Z"


def test_it_makes_a_quote_stale_when_the_scheduled_switch_is_dropped(owner, annual, at):
    porch, garden = annual
    at(2027, 6, 1)
    actions.change_plan(account=owner, cycle="monthly", actor=owner)
    quote = actions.preview_change(account=owner, cameras={garden.id: "plus"}, actor=owner).quote_id
    actions.drop_scheduled_change(account=owner, actor=owner)
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, quote_id=quote, actor=owner)
    assert refused.value.code == "quote_stale"


@pytest.fixture
def catalog_file(settings, tmp_path):
    """A copy of catalog.toml that a test may reprice; settings point at it."""
    path = tmp_path / "catalog.toml"
    path.write_text(Path(settings.CATALOG_PATH).read_text(encoding="utf-8"), encoding="utf-8")
    settings.CATALOG_PATH = path

    def reprice(old: str, new: str) -> None:
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
        # A new mtime even on coarse file systems: the catalog reloads when it changes.
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    return reprice


def test_it_applies_a_new_price_at_the_lines_next_renewal(owner, cameras, card, at, catalog_file):
    porch, garden = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    catalog_file("monthly = 399,", "monthly = 499,")
    at(2027, 3, 16, 12)
    # The existing line keeps 399: its credit is 399 x 15.5/31; the new line is at 499.
    change = actions.change_plan(account=owner, cameras={porch.id: "free", garden.id: "plus"}, actor=owner)
    assert sorted((line["kind"], line["amount"]) for line in change.lines) == [("charge", 250), ("credit", 200)]
    at(2027, 4, 1)
    [order] = renewals(owner)
    assert order.amount + order.credit_used == 499
    line = SubscriptionLine.objects.get(subscription__account=owner, ended_at__isnull=True)
    assert (line.unit_price, line.paid) == (499, 499)
    assert_consistent()


def test_it_keeps_the_billed_price_for_the_rest_of_the_period(owner, cameras, card, at, catalog_file):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    catalog_file("monthly = 399,", "monthly = 999,")
    at(2027, 3, 16, 12)
    cancel = actions.cancel_subscription(account=owner, actor=owner)
    assert [line["amount"] for line in cancel.lines] == [200]  # from 399, not 999
    assert cancel.refund == 200
    assert_consistent()


def test_it_posts_a_balanced_renewal(owner, subscribed, at):
    at(2027, 4, 1)
    [order] = renewals(owner)
    entries = LedgerEntry.objects.filter(order=order)
    assert {(e.book, e.amount) for e in entries} == {("sales", -798), ("gateway", 798)}
    assert entries.aggregate(s=Sum("amount"))["s"] == 0


def test_it_shows_the_billed_price_now_and_the_new_price_on_the_next_bill(owner, cameras, card, at, catalog_file):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    catalog_file("monthly = 399,", "monthly = 499,")
    summary = selectors.subscription_summary(owner)
    assert summary["price"] == 399
    assert summary["next_bill"] == {"at": "2027-04-01T00:00:00Z", "amount": 499}


def test_it_adds_a_camera_now_and_switches_to_monthly_at_the_period_end(owner, annual, at):
    porch, garden = annual
    at(2027, 2, 19)
    result = actions.change_plan(account=owner, cameras={garden.id: "plus"}, cycle="monthly", actor=owner)
    # The camera is added at once on the annual cycle (POLICY.md section 11: 3561 on Feb 19)...
    assert [(line["kind"], line["camera"], line["amount"]) for line in result.lines] == [("charge", garden.id, 3561)]
    assert result.charge_now == 3561
    # ...and the switch to monthly waits for the end of the paid year.
    assert result.scheduled_change == {"at": "2028-01-10T00:00:00Z", "kind": "cycle_switch", "cycle": "monthly"}
    assert selectors.current_plans(owner) == {porch.id: "plus", garden.id: "plus"}
    at(2028, 1, 10)
    [order] = renewals(owner)
    assert (order.amount, order.period_start) == (798, utc(2028, 1, 10))
    assert selectors.subscription_summary(owner)["cycle"] == "monthly"
    assert_consistent()
