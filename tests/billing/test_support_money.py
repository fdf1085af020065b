"""Support credits and refunds: capped, balanced, audited (POLICY.md sections 7 and 8)."""

import uuid

import pytest

from camcare.audit.models import AuditEvent
from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import LedgerEntry, Order, SandboxRefund
from tests.billing.helpers import assert_consistent, book_total


def first_charge(owner) -> Order:
    return Order.objects.filter(account=owner, kind="charge").order_by("id").first()


def test_it_adds_a_support_credit_with_its_reason(owner, subscribed, staff):
    order = actions.issue_support_credit(request_key=uuid.uuid4().hex, account=owner, amount=250, reason=" camera outage ", actor=staff)
    assert (order.kind, order.purpose, order.status, order.amount, order.reason) == (
        "credit", "support", "succeeded", 250, "camera outage")
    assert selectors.credit_balance(owner) == 250
    assert {(e.book, e.amount) for e in LedgerEntry.objects.filter(order=order)} == {
        ("adjustments", 250), ("customer_credit", -250)}
    event = AuditEvent.objects.get(action="support.credit")
    assert (event.actor, event.account, event.detail["amount"], event.detail["reason"]) == (
        staff, owner, 250, "camera outage")
    latest = selectors.credit_history(owner)[0]
    assert (latest["amount"], latest["reason"], latest["order_id"]) == (
        250, "Support credit: camera outage", order.order_id)
    assert_consistent()


@pytest.mark.parametrize(("amount", "reason"), [(0, "x"), (-5, "x"), (2.5, "x"), ("250", "x"), (250, "  ")])
def test_it_refuses_a_support_credit_without_cents_or_reason(owner, staff, amount, reason):
    with pytest.raises(BillingRefusal) as refused:
        actions.issue_support_credit(request_key=uuid.uuid4().hex, account=owner, amount=amount, reason=reason, actor=staff)
    assert (refused.value.code, refused.value.status) == ("invalid_amount", 422)
    assert not Order.objects.exists() and not LedgerEntry.objects.exists()


def test_it_refunds_part_of_a_charge_to_the_card(owner, subscribed, staff):
    charge = first_charge(owner)
    refund = actions.issue_support_refund(request_key=uuid.uuid4().hex, charge=charge, amount=300, reason="double billed", actor=staff)
    assert (refund.kind, refund.status, refund.amount, refund.refers_to, refund.reason) == (
        "refund", "succeeded", 300, charge, "double billed")
    assert SandboxRefund.objects.get().amount == 300
    assert selectors.refundable_of(charge) == 498
    assert book_total("gateway") == 798 - 300
    event = AuditEvent.objects.get(action="support.refund")
    assert (event.actor, event.detail["refers_to"], event.detail["amount"], event.detail["succeeded"]) == (
        staff, charge.order_id, 300, True)
    assert_consistent()


def test_it_caps_a_support_refund_at_what_is_left_of_the_charge(owner, subscribed, staff):
    charge = first_charge(owner)
    actions.issue_support_refund(request_key=uuid.uuid4().hex, charge=charge, amount=700, reason="goodwill", actor=staff)
    with pytest.raises(BillingRefusal) as refused:
        actions.issue_support_refund(request_key=uuid.uuid4().hex, charge=charge, amount=99, reason="more", actor=staff)
    assert (refused.value.code, refused.value.status) == ("invalid_amount", 422)
    assert "98" in refused.value.message
    actions.issue_support_refund(request_key=uuid.uuid4().hex, charge=charge, amount=98, reason="the rest", actor=staff)
    assert selectors.refundable_of(charge) == 0
    assert SandboxRefund.objects.count() == 2
    assert_consistent()


def test_it_refunds_on_cancel_only_what_support_left_on_the_card(owner, subscribed, staff, at):
    charge = first_charge(owner)
    actions.issue_support_refund(request_key=uuid.uuid4().hex, charge=charge, amount=700, reason="goodwill", actor=staff)
    at(2027, 3, 16, 12)
    cancel = actions.cancel_subscription(account=owner, actor=owner)
    assert [line["amount"] for line in cancel.lines] == [200, 200]
    assert (cancel.refund, cancel.credit_added) == (98, 302)
    assert selectors.refundable_of(charge) == 0
    assert_consistent()


def test_it_refuses_to_refund_a_failed_charge(owner, subscribed, staff, at):
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    at(2027, 4, 1)
    failed = Order.objects.get(account=owner, purpose="renewal")
    with pytest.raises(BillingRefusal) as refused:
        actions.issue_support_refund(request_key=uuid.uuid4().hex, charge=failed, amount=1, reason="x", actor=staff)
    assert refused.value.code == "invalid_amount"
    assert not SandboxRefund.objects.exists()
