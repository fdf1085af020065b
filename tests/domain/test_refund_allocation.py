"""Where a cancel's refund goes (POLICY.md section 4, "Refund on cancel"): back to the card
up to what the card paid this period, the period's card payments newest first, each capped
at what is still refundable of it; the rest returns to the credit balance."""

from datetime import UTC, datetime
from pathlib import Path

from camcare.domain.catalog import Catalog
from camcare.domain.periods import Cycle, Period
from camcare.domain.pricing import (
    CardPayment,
    Case,
    HeldLine,
    LineKey,
    PlanState,
    Snapshot,
    Status,
    price_change,
)

CATALOG = Catalog.load(Path(__file__).resolve().parents[2] / "catalog.toml")
MARCH = Period(datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))


def cancel_plus_paid(paid: int, payments: list[tuple[str, int]]):
    """Cancel, at the first instant of March, one plus camera whose line paid `paid`: its
    credit is the whole of `paid` (fraction 1, capped at what it paid)."""
    line = HeldLine(LineKey("plus", "c1", Cycle.MONTHLY), 399, paid)
    snapshot = Snapshot(PlanState(Cycle.MONTHLY, {"c1": "plus"}), Status.ACTIVE, MARCH.start, MARCH,
                        (line,), 0, tuple(CardPayment(order, amount) for order, amount in payments))
    outcome = price_change(snapshot, {"c1": "free"}, None, MARCH.start, CATALOG)
    assert outcome.case is Case.CANCEL
    return outcome


def test_it_refunds_the_newest_payment_and_leaves_the_older_one_alone():
    outcome = cancel_plus_paid(80, [("ORD-NEWEST0000", 80), ("ORD-OLDEST0000", 319)])
    assert outcome.refunds == (("ORD-NEWEST0000", 80),)
    assert (outcome.refund, outcome.credit_added, outcome.net) == (80, 0, -80)


def test_it_refunds_a_last_cent_from_the_older_payment():
    outcome = cancel_plus_paid(81, [("ORD-NEWEST0000", 80), ("ORD-OLDEST0000", 319)])
    assert outcome.refunds == (("ORD-NEWEST0000", 80), ("ORD-OLDEST0000", 1))
    assert (outcome.refund, outcome.credit_added) == (81, 0)


def test_it_skips_a_payment_that_was_refunded_already():
    outcome = cancel_plus_paid(100, [("ORD-REFUNDED00", 0), ("ORD-OLDEST0000", 399)])
    assert outcome.refunds == (("ORD-OLDEST0000", 100),)


def test_it_refunds_a_payment_with_one_cent_left():
    outcome = cancel_plus_paid(100, [("ORD-ONECENT000", 1), ("ORD-OLDEST0000", 399)])
    assert outcome.refunds == (("ORD-ONECENT000", 1), ("ORD-OLDEST0000", 99))
    assert (outcome.refund, outcome.credit_added) == (100, 0)


def test_it_returns_to_the_balance_what_no_payment_can_take_back():
    outcome = cancel_plus_paid(399, [("ORD-NEWEST0000", 80), ("ORD-OLDEST0000", 19)])
    assert outcome.refunds == (("ORD-NEWEST0000", 80), ("ORD-OLDEST0000", 19))
    assert (outcome.refund, outcome.credit_added, outcome.net) == (99, 300, -399)


def test_it_refunds_nothing_without_a_card_payment():
    outcome = cancel_plus_paid(399, [])
    assert outcome.refunds == ()
    assert (outcome.refund, outcome.credit_added) == (0, 399)
