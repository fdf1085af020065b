"""A renewal paid partly by credit: credit used + card = the price, to the cent, in every
book (POLICY.md sections 5 and 8; worked example 4 of section 11).

tests/billing/test_worked_examples.py pins the order (80 with 319 of credit); these pin
what the gateway was asked for, the ledger's posting and what the new line counts as paid,
where a renewal that charges the price, posts only the card part, or records the card part
as the line's payment would still show the right order.
"""

from camcare.billing import actions
from camcare.billing.models import LedgerEntry, Order, SandboxCharge, SubscriptionLine
from tests.billing.helpers import assert_consistent


def renewed_with_319_of_credit(owner, cameras, at) -> Order:
    """Worked examples 1 to 4: on Apr 1 one camera on plus (399) and 319 of credit."""
    porch, garden = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    at(2027, 3, 11)
    actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    at(2027, 3, 21)
    actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "free"}, actor=owner)
    at(2027, 4, 1)
    return Order.objects.get(account=owner, purpose="renewal")


def test_it_asks_the_gateway_for_the_card_part_only(owner, cameras, card, at):
    renewal = renewed_with_319_of_credit(owner, cameras, at)
    charge = SandboxCharge.objects.get(id=renewal.gateway_ref)
    assert (charge.amount, charge.succeeded) == (80, True)  # 399 - 319, never the 399
    assert sorted(SandboxCharge.objects.values_list("amount", flat=True)) == [80, 340, 798]
    assert_consistent()


def test_it_posts_the_credit_and_the_card_against_the_whole_price(owner, cameras, card, at):
    renewal = renewed_with_319_of_credit(owner, cameras, at)
    entries = sorted((e.book, e.amount) for e in LedgerEntry.objects.filter(order=renewal))
    # Sales earns the whole 399: 80 from the card and 319 out of the customer's credit.
    assert entries == [("customer_credit", 319), ("gateway", 80), ("sales", -399)]


def test_it_counts_the_renewed_line_as_paid_in_full(owner, cameras, card, at):
    porch, _ = cameras
    renewed_with_319_of_credit(owner, cameras, at)
    [line] = SubscriptionLine.objects.filter(subscription__account=owner, ended_at__isnull=True)
    # Paid by credit and card together: 399, so a cancel can credit up to 399 (not just 80).
    assert (line.plan, line.camera_key, line.unit_price, line.paid, line.credited) == ("plus", porch.id, 399, 399, 0)
