"""Support moving money makes open quotes stale (POLICY.md section 9: a quote is stale if
"the subscription or its money changed since"; a stale quote changes nothing).

Without it, a quote priced before a support credit charges the card what the new credit
should have paid, and a cancel quoted before a support refund pays back to the card money
that support already returned.
"""

import pytest

from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import LedgerEntry, Order, Quote, SandboxCharge, SandboxRefund
from tests.billing.helpers import assert_consistent


def money_rows() -> tuple:
    return (Order.objects.count(), LedgerEntry.objects.count(), SandboxCharge.objects.count(),
            SandboxRefund.objects.count())


def test_it_refuses_an_upgrade_quoted_before_a_support_credit(owner, subscribed, at, staff):
    porch, garden = subscribed
    at(2027, 3, 11)
    preview = actions.preview_change(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    assert (preview.charge_now, preview.credit_used) == (340, 0)  # worked example 2
    actions.issue_support_credit(account=owner, amount=100, reason="outage", actor=staff,
                                 request_key="support-credit-outage")
    before = money_rows()
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, quote_id=preview.quote_id, actor=owner)
    assert (refused.value.code, refused.value.status) == ("quote_stale", 409)
    # Nothing moved: no order, no ledger entry, no gateway call, the plans and credit as they were.
    assert money_rows() == before
    assert set(selectors.current_plans(owner).values()) == {"plus"}
    assert selectors.credit_balance(owner) == 100
    assert Quote.objects.get(pk=preview.quote_id).executed_at is None
    assert_consistent()


def test_it_refuses_a_cancel_quoted_before_a_support_refund(owner, subscribed, at, staff):
    at(2027, 3, 16, 12)
    preview = actions.preview_cancel(account=owner, actor=owner)
    assert (preview.refund, preview.credit_added) == (400, 0)  # 2 x 399 x 15.5/31, all to the card
    charge = Order.objects.get(account=owner, kind="charge")
    actions.issue_support_refund(charge=charge, amount=700, reason="double billed", actor=staff,
                                 request_key="support-refund-double")
    before = money_rows()
    with pytest.raises(BillingRefusal) as refused:
        actions.cancel_subscription(account=owner, quote_id=preview.quote_id, actor=owner)
    assert (refused.value.code, refused.value.status) == ("quote_stale", 409)
    assert money_rows() == before
    assert selectors.subscription_summary(owner)["status"] == "active"
    assert set(selectors.current_plans(owner).values()) == {"plus"}
    assert selectors.refundable_of(charge) == 98
    assert selectors.credit_balance(owner) == 0
    assert Quote.objects.get(pk=preview.quote_id).executed_at is None
    assert_consistent()


def test_it_refuses_an_upgrade_quoted_before_a_support_refund(owner, subscribed, at, staff):
    porch, _ = subscribed
    at(2027, 3, 11)
    preview = actions.preview_change(account=owner, cameras={porch.id: "premium"}, actor=owner)
    charge = Order.objects.get(account=owner, kind="charge")
    actions.issue_support_refund(charge=charge, amount=100, reason="late delivery", actor=staff,
                                 request_key="support-refund-late")
    before = money_rows()
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, quote_id=preview.quote_id, actor=owner)
    assert refused.value.code == "quote_stale"
    assert money_rows() == before
    assert set(selectors.current_plans(owner).values()) == {"plus"}


def test_a_quote_naming_a_camera_removed_since_is_stale(owner, cameras, card, at):
    """A free camera's removal moves no money (no new version), but the quote priced a state
    with it: executing it would charge for a camera the account no longer has."""
    at(2027, 3, 1)
    porch, garden = cameras
    quote = actions.preview_change(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner).quote_id
    actions.remove_camera(account=owner, camera=porch, actor=owner)
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, quote_id=quote, actor=owner)
    assert refused.value.code == "quote_stale"
    assert not Order.objects.filter(account=owner).exists()
