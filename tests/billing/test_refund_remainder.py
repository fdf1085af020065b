"""Where every cent of a cancel's refund goes (POLICY.md section 4, "Refund on cancel"):
back to the period's card payments newest first, each capped at what is still refundable
of it, and only what is left to the credit balance.

The stories make the allocation end on a single cent, where an off-by-one in the
allocation (a `left <= 1` stop, an `amount > 1` filter, a remainder rounded away) sends
that cent to credit, to the wrong charge, or nowhere.
"""

from camcare.billing import actions, selectors
from camcare.billing.models import Order, SandboxRefund
from tests.billing.helpers import assert_consistent, book_total


def refunds_by_charge(owner) -> dict[str, int]:
    return {o.refers_to.order_id: o.amount for o in Order.objects.filter(account=owner, kind="refund", status="succeeded")}


def sandbox_refunds_by_charge(*charges: Order) -> list[list[int]]:
    """What the gateway itself recorded against each charge (its own books, not ours)."""
    return [sorted(SandboxRefund.objects.filter(charge_id=c.gateway_ref).values_list("amount", flat=True))
            for c in charges]


def two_plus_charges(owner, cameras, at) -> tuple[Order, Order]:
    """Mar 1: porch on plus (399). Mar 12 00:00: garden on plus, 399 x 20/31 = 257.42 -> 257."""
    porch, garden = cameras
    at(2027, 3, 1)
    [first] = actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner).orders
    at(2027, 3, 12)
    [second] = actions.change_plan(account=owner, cameras={garden.id: "plus"}, actor=owner).orders
    assert (first.amount, second.amount) == (399, 257)
    return first, second


def test_it_refunds_the_last_cent_to_the_older_charge(owner, cameras, card, at):
    first, second = two_plus_charges(owner, cameras, at)
    at(2027, 3, 22)
    cancel = actions.cancel_subscription(account=owner, actor=owner)
    # Each line credits 399 x 10/31 = 128.71 -> 129: 258 in all. The newest charge takes
    # 257, its whole amount; the one cent left goes to the Mar 1 charge, not to credit.
    assert [line["amount"] for line in cancel.lines] == [129, 129]
    assert (cancel.refund, cancel.credit_added, cancel.net) == (258, 0, -258)
    assert refunds_by_charge(owner) == {second.order_id: 257, first.order_id: 1}
    assert [(o.kind, o.amount, o.refers_to.order_id) for o in cancel.orders] == [
        ("refund", 257, second.order_id), ("refund", 1, first.order_id)]
    assert not Order.objects.filter(account=owner, kind="credit").exists()
    assert selectors.credit_balance(owner) == 0
    assert sandbox_refunds_by_charge(second, first) == [[257], [1]]
    assert (selectors.refundable_of(second), selectors.refundable_of(first)) == (0, 398)
    assert book_total("gateway") == 399 + 257 - 258
    assert_consistent()


def test_it_returns_a_single_cent_beyond_the_card_to_the_credit_balance(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 16, 12)
    actions.change_plan(account=owner, cameras={garden.id: "free"}, actor=owner)  # 399 x 15.5/31 -> 200
    at(2027, 4, 1)
    renewal = Order.objects.get(account=owner, purpose="renewal")
    assert (renewal.amount, renewal.credit_used) == (199, 200)  # plus 399: 200 of credit, 199 by card
    at(2027, 4, 16)
    cancel = actions.cancel_subscription(account=owner, actor=owner)
    # 399 x 15/30 = 199.5 -> 200, but the card paid only 199 of April: 199 back to it and
    # exactly 1 cent to the credit balance (the March charge is another period's).
    assert [line["amount"] for line in cancel.lines] == [200]
    assert (cancel.refund, cancel.credit_added, cancel.net) == (199, 1, -200)
    assert [(o.kind, o.amount) for o in cancel.orders] == [("refund", 199), ("credit", 1)]
    assert refunds_by_charge(owner) == {renewal.order_id: 199}
    credit = cancel.orders[1]
    assert (credit.amount, credit.status) == (1, "succeeded")
    # The ledger agrees: 200 added Mar 16, 200 used Apr 1, 1 added by the cancel.
    assert [entry["amount"] for entry in selectors.credit_history(owner)] == [1, -200, 200]
    assert selectors.credit_balance(owner) == 1
    assert sandbox_refunds_by_charge(renewal) == [[199]]
    assert SandboxRefund.objects.count() == 1
    assert_consistent()


def test_it_takes_only_the_cent_support_left_on_the_newest_charge(owner, cameras, card, at, staff):
    first, second = two_plus_charges(owner, cameras, at)
    actions.issue_support_refund(charge=second, amount=256, reason="goodwill", actor=staff,
                                 request_key="support-refund-256")
    at(2027, 3, 22)
    cancel = actions.cancel_subscription(account=owner, actor=owner)
    # 258 to pay back: the newest charge has 1 cent left (257 - 256), the Mar 1 charge the
    # other 257; a refund capped at the charge's amount instead of what is left of it would
    # ask the gateway for 257 of the newest charge again.
    assert (cancel.refund, cancel.credit_added) == (258, 0)
    assert [(o.amount, o.refers_to.order_id) for o in cancel.orders] == [(1, second.order_id), (257, first.order_id)]
    assert sandbox_refunds_by_charge(second, first) == [[1, 256], [257]]
    assert (selectors.refundable_of(second), selectors.refundable_of(first)) == (0, 142)
    assert selectors.credit_balance(owner) == 0
    assert_consistent()
