"""The edges of the pricing table (POLICY.md sections 2, 4, 5 and 13) on the pure domain
core: the exact outcome of each case, field by field, and the boundaries between cases
(net 0 and 1 cent, 10 and 11 Premium cameras, a camera new to the account)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from camcare.domain.catalog import Catalog
from camcare.domain.periods import Cycle, Period
from camcare.domain.pricing import (
    CardPayment,
    Case,
    HeldLine,
    LineKey,
    PlanState,
    Shrink,
    Snapshot,
    Status,
    price_change,
    unchanged,
)

CATALOG = Catalog.load(Path(__file__).resolve().parents[2] / "catalog.toml")
M, A = Cycle.MONTHLY, Cycle.ANNUAL
MARCH = Period(datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
YEAR = Period(datetime(2027, 1, 10, tzinfo=UTC), datetime(2028, 1, 10, tzinfo=UTC))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def line(plan, camera, cycle=M, unit_price=None, paid=None) -> HeldLine:
    price = CATALOG[plan].price(cycle) if unit_price is None else unit_price
    return HeldLine(LineKey(plan, camera, cycle), price, price if paid is None else paid)


def active(cameras, lines, *, cycle=M, period=MARCH, status=Status.ACTIVE, scheduled=None, balance=0,
           payments=()) -> Snapshot:
    return Snapshot(PlanState(cycle, cameras), status, period.start, period, tuple(lines), balance,
                    tuple(payments), scheduled)


def no_subscription(cameras, balance=0) -> Snapshot:
    return Snapshot(PlanState(M, cameras), Status.NONE, None, None, (), balance, ())


def money(outcome) -> tuple:
    return (outcome.net, outcome.charge_now, outcome.credit_used, outcome.credit_added, outcome.refund)


def priced(outcome) -> list:
    return [(str(p.kind), p.key, p.amount) for p in outcome.lines]


def test_it_describes_a_new_subscription_line_by_line():
    at = utc(2027, 3, 1, 9, 30)
    outcome = price_change(no_subscription({"c1": "free", "c2": "free"}), {"c1": "plus", "c2": "premium"}, None,
                           at, CATALOG)
    assert (outcome.case, outcome.at, outcome.currency) == (Case.SUBSCRIBE, at, "USD")
    assert priced(outcome) == [("charge", LineKey("plus", "c1", M), 399), ("charge", LineKey("premium", None, M), 1299)]
    assert outcome.new_lines == (HeldLine(LineKey("plus", "c1", M), 399, 399),
                                 HeldLine(LineKey("premium", None, M), 1299, 1299))
    assert (outcome.anchor, outcome.period) == (at, Period(at, utc(2027, 4, 1, 9, 30)))
    assert (outcome.scheduled_cycle, outcome.voids_unpaid_period, outcome.shrinks) == (None, False, ())


def test_it_subscribes_from_a_subscription_row_that_holds_no_line():
    # A subscription row exists before its first change (ARCHITECTURE.md): with no paid line
    # it is priced as a new subscription, whatever its status says.
    snapshot = Snapshot(PlanState(M, {"c1": "free"}), Status.ACTIVE, None, None, (), 0, ())
    outcome = price_change(snapshot, {"c1": "plus"}, None, utc(2027, 3, 1), CATALOG)
    assert outcome.case is Case.SUBSCRIBE
    assert money(outcome) == (399, 399, 0, 0, 0)
    assert outcome.period == MARCH


def test_it_describes_a_free_to_free_move_as_nothing_at_its_instant():
    at = utc(2027, 3, 5, 8)
    outcome = price_change(no_subscription({"c1": "free"}), {"c1": "free", "c2": "free"}, None, at, CATALOG)
    assert (outcome.case, outcome.at, outcome.currency) == (Case.NOTHING, at, "USD")
    assert (outcome.lines, outcome.new_lines, outcome.period, outcome.next_bill) == ((), (), None, None)
    assert money(outcome) == (0, 0, 0, 0, 0)
    assert not outcome.voids_unpaid_period


def test_it_answers_a_call_that_changes_no_priced_line_with_no_bill():
    at = utc(2027, 3, 5)
    outcome = unchanged(PlanState(M, {"c1": "plus", "c2": "free"}), at, CATALOG)
    assert (outcome.case, outcome.at, outcome.currency) == (Case.NOTHING, at, "USD")
    assert (outcome.lines, outcome.period, outcome.next_bill, outcome.shrinks) == ((), None, None, ())
    assert money(outcome) == (0, 0, 0, 0, 0)
    assert not outcome.changes_anything


def test_it_prices_a_camera_new_to_the_account_from_free():
    # c3 was registered after the snapshot's state was read: it counts as on free.
    snapshot = active({"c1": "plus"}, [line("plus", "c1")])
    outcome = price_change(snapshot, {"c1": "plus", "c3": "plus"}, None, utc(2027, 3, 11), CATALOG)
    assert priced(outcome) == [("charge", LineKey("plus", "c3", M), 270)]
    assert outcome.shrinks == ()


def test_it_lists_each_shrinking_window_with_both_lengths_and_the_cut_off():
    at = utc(2027, 3, 21)
    snapshot = active({"c1": "premium", "c2": "premium", "c3": "plus"},
                      [line("premium", None, paid=880), line("plus", "c3")])
    outcome = price_change(snapshot, {"c1": "plus", "c2": "free", "c3": "free"}, None, at, CATALOG)
    assert outcome.shrinks == (
        Shrink("c1", 30, 14, at - timedelta(days=14)),
        Shrink("c2", 30, 2, at - timedelta(days=2)),
        Shrink("c3", 14, 2, at - timedelta(days=2)),
    )


def test_it_accepts_ten_premium_cameras():
    cameras = {f"c{i}": "premium" for i in range(10)}
    outcome = price_change(no_subscription(dict.fromkeys(cameras, "free")), cameras, None, utc(2027, 3, 1), CATALOG)
    assert priced(outcome) == [("charge", LineKey("premium", None, M), 1299)]


def test_it_accepts_one_premium_camera():
    outcome = price_change(no_subscription({"c1": "free"}), {"c1": "premium"}, None, utc(2027, 3, 1), CATALOG)
    assert money(outcome) == (1299, 1299, 0, 0, 0)


def test_it_charges_an_upgrade_of_one_cent_to_the_card():
    # Camera 1's plus line was billed at 3.98 (an older price); moving the plan to camera 2
    # at the period's first instant credits 398 and charges 399.
    snapshot = active({"c1": "plus", "c2": "free"}, [line("plus", "c1", unit_price=398)])
    outcome = price_change(snapshot, {"c1": "free", "c2": "plus"}, None, MARCH.start, CATALOG)
    assert outcome.case is Case.UPGRADE
    assert money(outcome) == (1, 1, 0, 0, 0)
    assert outcome.new_lines == (HeldLine(LineKey("plus", "c2", M), 399, 399),)


def test_it_counts_a_change_of_net_zero_as_a_downgrade():
    snapshot = active({"c1": "plus", "c2": "free"}, [line("plus", "c1")], balance=50)
    outcome = price_change(snapshot, {"c1": "free", "c2": "plus"}, None, MARCH.start, CATALOG)
    assert outcome.case is Case.DOWNGRADE
    assert priced(outcome) == [("credit", LineKey("plus", "c1", M), 399), ("charge", LineKey("plus", "c2", M), 399)]
    assert money(outcome) == (0, 0, 0, 0, 0)  # the balance is left alone
    assert outcome.next_bill == (MARCH.end, 349)


def test_it_keeps_the_lines_that_stay_as_they_were_billed():
    kept = line("plus", "c1", unit_price=349, paid=349)
    snapshot = active({"c1": "plus", "c2": "free"}, [kept])
    outcome = price_change(snapshot, {"c1": "plus", "c2": "plus"}, None, utc(2027, 3, 11), CATALOG)
    assert outcome.new_lines == (kept, HeldLine(LineKey("plus", "c2", M), 399, 270))
    assert (outcome.at, outcome.currency, outcome.voids_unpaid_period) == (utc(2027, 3, 11), "USD", False)


def test_it_holds_the_new_annual_lines_at_their_full_price_after_a_switch():
    snapshot = active({"c1": "plus", "c2": "premium"}, [line("plus", "c1"), line("premium", None)])
    at = utc(2027, 3, 11)
    outcome = price_change(snapshot, {"c1": "plus", "c2": "premium"}, A, at, CATALOG)
    assert outcome.case is Case.TO_ANNUAL
    assert outcome.new_lines == (HeldLine(LineKey("plus", "c1", A), 3999, 3999),
                                 HeldLine(LineKey("premium", None, A), 12999, 12999))
    assert (outcome.at, outcome.currency, outcome.voids_unpaid_period) == (at, "USD", False)


def test_it_drops_a_scheduled_monthly_switch_when_annual_is_asked_for():
    snapshot = active({"c1": "plus"}, [line("plus", "c1", A)], cycle=A, period=YEAR, scheduled=M)
    outcome = price_change(snapshot, {"c1": "plus"}, A, utc(2027, 6, 1), CATALOG)
    assert outcome.case is Case.SCHEDULE_ONLY
    assert (outcome.scheduled_cycle, outcome.lines) == (None, ())
    assert outcome.next_bill == (YEAR.end, 3999)


def test_it_accepts_a_camera_joining_free_while_past_due():
    snapshot = active({"c1": "plus"}, [line("plus", "c1", paid=0)], status=Status.PAST_DUE)
    outcome = price_change(snapshot, {"c1": "plus", "c3": "free"}, None, utc(2027, 3, 3), CATALOG)
    assert outcome.case is Case.NOTHING
    assert money(outcome) == (0, 0, 0, 0, 0)


def test_it_voids_only_an_unpaid_period_on_cancel():
    paid = active({"c1": "plus"}, [line("plus", "c1")], payments=[CardPayment("ORD-PAID000000", 399)])
    outcome = price_change(paid, {"c1": "free"}, None, utc(2027, 3, 11), CATALOG)
    assert (outcome.case, outcome.voids_unpaid_period, outcome.at, outcome.currency) == (
        Case.CANCEL, False, utc(2027, 3, 11), "USD")
