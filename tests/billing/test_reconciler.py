"""A crash between the gateway call and the final transaction is settled by the reconciler
(ARCHITECTURE.md "Money and concurrency"): charged exactly once, state and ledger consistent."""

import uuid
from datetime import timedelta

import pytest
from django.db.models import Sum

from camcare.billing import actions, selectors
from camcare.billing.actions import payments
from camcare.billing.models import LedgerEntry, Order, SandboxCharge, SandboxRefund, Subscription
from tests.billing.helpers import assert_consistent
from tests.conftest import set_clock, utc


def crash(*args, **kwargs):
    raise RuntimeError("crash")


def snapshot_of(owner) -> tuple:
    """Everything a second reconcile must leave alone."""
    subscription = Subscription.objects.get(account=owner)
    return (
        list(Order.objects.order_by("id").values_list("order_id", "status", "amount")),
        LedgerEntry.objects.count(), SandboxCharge.objects.count(), SandboxRefund.objects.count(),
        subscription.version, subscription.claimed_by, selectors.current_plans(owner),
    )


def assert_postings_balance() -> None:
    for row in LedgerEntry.objects.values("posting").annotate(total=Sum("amount")):
        assert row["total"] == 0, row
    assert LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] == 0


def test_it_settles_a_paid_upgrade_that_crashed_after_the_charge(owner, subscribed, at, monkeypatch):
    porch, garden = subscribed
    at(2027, 3, 11)
    version = Subscription.objects.get(account=owner).version
    ledger = LedgerEntry.objects.count()
    monkeypatch.setattr(payments, "finish", crash)  # between step 2 and step 3
    with pytest.raises(RuntimeError, match="crash"):
        actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)

    pending = Order.objects.get(account=owner, status="pending")
    assert (pending.kind, pending.amount, pending.purpose) == ("charge", 340, "change")
    assert SandboxCharge.objects.filter(idempotency_key=pending.gateway_key).count() == 1
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.claimed_by, subscription.version) == (pending.order_id, version)
    assert set(selectors.current_plans(owner).values()) == {"plus"}
    assert LedgerEntry.objects.count() == ledger

    monkeypatch.undo()
    assert actions.reconcile_pending(older_than=timedelta(0)) == 1

    pending.refresh_from_db()
    assert pending.status == "succeeded"
    assert SandboxCharge.objects.filter(idempotency_key=pending.gateway_key).count() == 1
    assert SandboxCharge.objects.filter(succeeded=True).aggregate(s=Sum("amount"))["s"] == 798 + 340
    assert selectors.current_plans(owner) == {porch.id: "premium", garden.id: "premium"}
    subscription.refresh_from_db()
    assert (subscription.claimed_by, subscription.claimed_at) == ("", None)
    assert subscription.version == version + 1
    posting = LedgerEntry.objects.filter(order=pending)
    assert {(e.book, e.amount) for e in posting} == {("sales", -880), ("sales", 540), ("gateway", 340)}
    assert_postings_balance()
    assert_consistent()

    settled = snapshot_of(owner)
    assert actions.reconcile_pending(older_than=timedelta(0)) == 0
    assert snapshot_of(owner) == settled


def test_it_settles_a_cancel_that_crashed_after_the_refund(owner, subscribed, at, monkeypatch):
    at(2027, 3, 16, 12)
    version = Subscription.objects.get(account=owner).version
    monkeypatch.setattr(payments, "finish", crash)  # between step 2 and step 3
    with pytest.raises(RuntimeError, match="crash"):
        actions.cancel_subscription(account=owner, actor=owner)

    refund = Order.objects.get(account=owner, kind="refund")
    assert (refund.status, refund.amount) == ("pending", 400)
    assert SandboxRefund.objects.count() == 1
    assert Subscription.objects.get(account=owner).claimed_by == refund.order_id
    assert set(selectors.current_plans(owner).values()) == {"plus"}

    monkeypatch.undo()
    assert actions.reconcile_pending(older_than=timedelta(0)) == 1

    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert SandboxRefund.objects.count() == 1  # replayed with the same key: no second refund
    assert SandboxRefund.objects.get().amount == 400
    assert set(selectors.current_plans(owner).values()) == {"free"}
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.status, subscription.claimed_by, subscription.version) == ("none", "", version + 1)
    assert selectors.credit_balance(owner) == 0
    assert_postings_balance()
    assert_consistent()

    settled = snapshot_of(owner)
    assert actions.reconcile_pending(older_than=timedelta(0)) == 0
    assert snapshot_of(owner) == settled


def test_it_settles_a_renewal_that_crashed_after_the_charge(owner, subscribed, monkeypatch):
    subscription = Subscription.objects.get(account=owner)
    version = subscription.version
    set_clock(owner, utc(2027, 4, 1))
    monkeypatch.setattr(payments, "finish", crash)  # between step 2 and step 3
    with pytest.raises(RuntimeError, match="crash"):
        actions.renew(subscription_id=subscription.pk, at=utc(2027, 4, 1))

    renewal = Order.objects.get(account=owner, purpose="renewal")
    assert (renewal.status, renewal.amount) == ("pending", 798)
    assert SandboxCharge.objects.filter(idempotency_key=renewal.gateway_key).count() == 1
    assert Subscription.objects.get(account=owner).claimed_by == renewal.order_id
    # Running the billing job meanwhile does not charge again: the claim holds.
    assert actions.run_billing(at=utc(2027, 4, 1, 1)) == 0
    assert SandboxCharge.objects.count() == 2

    monkeypatch.undo()
    assert actions.reconcile_pending(older_than=timedelta(0)) == 1

    renewal.refresh_from_db()
    assert renewal.status == "succeeded"
    assert SandboxCharge.objects.count() == 2
    subscription.refresh_from_db()
    assert (subscription.status, subscription.claimed_by) == ("active", "")
    assert (subscription.period_start, subscription.period_end) == (utc(2027, 4, 1), utc(2027, 5, 1))
    assert subscription.version == version + 1
    assert {(e.book, e.amount) for e in LedgerEntry.objects.filter(order=renewal)} == {
        ("sales", -798), ("gateway", 798)}
    assert_postings_balance()
    assert_consistent()

    settled = snapshot_of(owner)
    assert actions.reconcile_pending(older_than=timedelta(0)) == 0
    assert actions.run_billing(at=utc(2027, 4, 1, 1)) == 0
    assert snapshot_of(owner) == settled


def test_it_settles_a_renewal_paid_by_credit_that_crashed(owner, subscribed, staff, monkeypatch):
    actions.issue_support_credit(request_key=uuid.uuid4().hex, account=owner, amount=1000, reason="outage", actor=staff)
    subscription = Subscription.objects.get(account=owner)
    set_clock(owner, utc(2027, 4, 1))
    monkeypatch.setattr(payments, "finish", crash)  # between step 2 and step 3
    with pytest.raises(RuntimeError, match="crash"):
        actions.renew(subscription_id=subscription.pk, at=utc(2027, 4, 1))
    monkeypatch.undo()
    assert actions.reconcile_pending(older_than=timedelta(0)) == 1

    renewal = Order.objects.get(account=owner, purpose="renewal")
    assert (renewal.status, renewal.amount, renewal.credit_used) == ("succeeded", 0, 798)
    subscription.refresh_from_db()
    assert (subscription.status, subscription.period_end) == ("active", utc(2027, 5, 1))
    assert selectors.credit_balance(owner) == 202
    assert selectors.receivable_balance(owner) == 0
    assert_consistent()


def test_it_fails_a_change_whose_charge_never_reached_the_gateway(owner, subscribed, at, monkeypatch):
    porch, garden = subscribed
    at(2027, 3, 11)
    from camcare.billing import gateway

    def lost(self, **kwargs):
        raise ConnectionError("network down")

    monkeypatch.setattr(gateway.SandboxGateway, "charge", lost)
    with pytest.raises(ConnectionError):
        actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)
    monkeypatch.undo()
    assert actions.reconcile_pending(older_than=timedelta(0)) == 1
    attempt = Order.objects.get(account=owner, status="failed")
    assert (attempt.kind, attempt.amount, attempt.failure_code) == ("charge", 880 - 270, "abandoned")
    assert set(selectors.current_plans(owner).values()) == {"plus"}
    assert Subscription.objects.get(account=owner).claimed_by == ""
    assert_consistent()


def test_it_leaves_a_fresh_claim_alone(owner, subscribed, at, monkeypatch):
    porch, _ = subscribed
    at(2027, 3, 11)
    monkeypatch.setattr(payments, "finish", crash)  # between step 2 and step 3
    with pytest.raises(RuntimeError):
        actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)
    monkeypatch.undo()
    assert actions.reconcile_pending() == 0  # younger than ten minutes: maybe still running
    assert Order.objects.filter(status="pending").count() == 1


def test_it_settles_a_claim_once_when_two_reconcilers_meet(owner, subscribed, at, monkeypatch):
    porch, garden = subscribed
    at(2027, 3, 11)
    monkeypatch.setattr(payments, "finish", crash)
    with pytest.raises(RuntimeError, match="crash"):
        actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    monkeypatch.undo()
    # Two billing runs find the same stale claim; the second reads it before the first settles.
    late = payments.resume(Subscription.objects.select_related("account").get(account=owner))
    assert actions.reconcile_pending(older_than=timedelta(0)) == 1
    settled = snapshot_of(owner)
    from camcare.billing.actions.changes import settle_claimed_change

    settle_claimed_change(late)  # its step 3 finds the claim gone and writes nothing
    assert snapshot_of(owner) == settled
    assert_postings_balance()
