"""The pricing case table of POLICY.md section 4, on the pure domain core."""

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camcare.domain.catalog import Catalog
from camcare.domain.periods import Cycle, Period, add_months
from camcare.domain.pricing import (
    CardPayment,
    Case,
    ChangeRefused,
    HeldLine,
    LineKey,
    PlanState,
    Snapshot,
    Status,
    fraction_left,
    lines_of,
    price_change,
    state_price,
)

CATALOG = Catalog.load(Path(__file__).resolve().parents[2] / "catalog.toml")
M, A = Cycle.MONTHLY, Cycle.ANNUAL
MARCH = Period(datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def held(plan, camera, cycle=M, paid=None, credited=0) -> HeldLine:
    price = CATALOG[plan].price(cycle)
    return HeldLine(LineKey(plan, camera, cycle), price, price if paid is None else paid, credited)


def active(cameras, lines, *, cycle=M, period=MARCH, balance=0, payments=(), status=Status.ACTIVE,
           scheduled=None) -> Snapshot:
    return Snapshot(PlanState(cycle, cameras), status, period.start, period, tuple(lines), balance,
                    tuple(payments), scheduled)


def none(cameras, balance=0) -> Snapshot:
    return Snapshot(PlanState(M, cameras), Status.NONE, None, None, (), balance, ())


def money(outcome) -> tuple:
    return (outcome.net, outcome.charge_now, outcome.credit_used, outcome.credit_added, outcome.refund)


def lines(outcome) -> list:
    return sorted((line.kind, line.key.plan, line.key.camera, line.amount) for line in outcome.lines)


TWO_PLUS = active({"c1": "plus", "c2": "plus"}, [held("plus", "c1"), held("plus", "c2")],
                  payments=[CardPayment("ORD-FIRST00000", 798)])


def test_it_subscribes_at_the_full_price_from_a_new_anchor():
    outcome = price_change(none({"c1": "free", "c2": "free"}), {"c1": "plus", "c2": "plus"}, None,
                           utc(2027, 3, 1), CATALOG)
    assert outcome.case is Case.SUBSCRIBE
    assert money(outcome) == (798, 798, 0, 0, 0)
    assert outcome.period == MARCH and outcome.anchor == utc(2027, 3, 1)
    assert [(h.key.camera, h.paid) for h in outcome.new_lines] == [("c1", 399), ("c2", 399)]
    assert outcome.next_bill == (utc(2027, 4, 1), 798)


def test_it_uses_the_credit_balance_first_when_subscribing():
    outcome = price_change(none({"c1": "free"}, balance=150), {"c1": "plus"}, A, utc(2027, 1, 10), CATALOG)
    assert money(outcome) == (3999, 3849, 150, 0, 0)
    assert outcome.period == Period(utc(2027, 1, 10), utc(2028, 1, 10))


def test_it_upgrades_both_plus_cameras_to_premium():
    outcome = price_change(TWO_PLUS, {"c1": "premium", "c2": "premium"}, None, utc(2027, 3, 11), CATALOG)
    assert outcome.case is Case.UPGRADE
    assert lines(outcome) == [("charge", "premium", None, 880), ("credit", "plus", "c1", 270),
                              ("credit", "plus", "c2", 270)]
    assert money(outcome) == (340, 340, 0, 0, 0)
    assert outcome.period == MARCH and outcome.anchor == MARCH.start
    assert [(h.key.plan, h.paid) for h in outcome.new_lines] == [("premium", 880)]
    assert outcome.next_bill == (utc(2027, 4, 1), 1299)


def test_it_pays_an_upgrade_from_the_credit_balance_first():
    snapshot = active({"c1": "plus"}, [held("plus", "c1")], balance=100)
    outcome = price_change(snapshot, {"c1": "premium"}, None, utc(2027, 3, 11), CATALOG)
    assert money(outcome) == (880 - 270, 510, 100, 0, 0)
    assert outcome.next_bill == (utc(2027, 4, 1), 1299)


def test_it_credits_a_downgrade_to_the_balance():
    snapshot = active({"c1": "premium", "c2": "premium"}, [held("premium", None, paid=880)])
    outcome = price_change(snapshot, {"c1": "plus", "c2": "free"}, None, utc(2027, 3, 21), CATALOG)
    assert outcome.case is Case.DOWNGRADE
    assert lines(outcome) == [("charge", "plus", "c1", 142), ("credit", "premium", None, 461)]
    assert money(outcome) == (-319, 0, 0, 319, 0)
    assert [s.camera for s in outcome.shrinks] == ["c1", "c2"]
    assert [s.cutoff for s in outcome.shrinks] == [utc(2027, 3, 7), utc(2027, 3, 19)]
    # Next bill: plus 399 less the 319 credit the downgrade adds.
    assert outcome.next_bill == (utc(2027, 4, 1), 80)


def test_it_cancels_with_a_refund_newest_charge_first():
    snapshot = active({"c1": "plus", "c2": "plus"}, [held("plus", "c1", A), held("plus", "c2", A, paid=3561)],
                      cycle=A, period=Period(utc(2027, 1, 10), utc(2028, 1, 10)),
                      payments=[CardPayment("ORD-SECOND0000", 3561), CardPayment("ORD-FIRST00000", 3999)])
    outcome = price_change(snapshot, {"c1": "free", "c2": "free"}, None, utc(2027, 4, 20), CATALOG)
    assert outcome.case is Case.CANCEL
    assert lines(outcome) == [("credit", "plus", "c1", 2903), ("credit", "plus", "c2", 2903)]
    assert money(outcome) == (-5806, 0, 0, 0, 5806)
    assert outcome.refunds == (("ORD-SECOND0000", 3561), ("ORD-FIRST00000", 2245))
    assert outcome.period is None and outcome.next_bill is None and outcome.new_lines == ()
    assert set(outcome.state.cameras.values()) == {"free"}


def test_it_returns_to_the_balance_what_the_card_did_not_pay():
    snapshot = active({"c1": "plus"}, [held("plus", "c1")], period=Period(utc(2027, 4, 1), utc(2027, 5, 1)),
                      payments=[CardPayment("ORD-RENEWAL000", 80)])
    outcome = price_change(snapshot, {"c1": "free"}, None, utc(2027, 4, 11), CATALOG)
    assert money(outcome) == (-266, 0, 0, 186, 80)
    assert outcome.refunds == (("ORD-RENEWAL000", 80),)


def test_it_schedules_annual_to_monthly_with_no_money_now():
    year = Period(utc(2027, 1, 10), utc(2028, 1, 10))
    snapshot = active({"c1": "plus"}, [held("plus", "c1", A)], cycle=A, period=year)
    outcome = price_change(snapshot, {"c1": "plus"}, M, utc(2027, 6, 1), CATALOG)
    assert outcome.case is Case.SCHEDULE_ONLY
    assert outcome.lines == () and money(outcome) == (0, 0, 0, 0, 0)
    assert outcome.scheduled_cycle is M
    assert outcome.state.cycle is A and outcome.period == year
    assert outcome.next_bill == (utc(2028, 1, 10), 399)  # the next bill is monthly
    assert outcome.changes_anything


def test_it_keeps_a_scheduled_switch_when_the_cycle_is_not_named():
    year = Period(utc(2027, 1, 10), utc(2028, 1, 10))
    snapshot = active({"c1": "plus", "c2": "free"}, [held("plus", "c1", A)], cycle=A, period=year, scheduled=M)
    outcome = price_change(snapshot, {"c1": "plus", "c2": "plus"}, None, utc(2027, 7, 10), CATALOG)
    assert outcome.case is Case.UPGRADE
    assert lines(outcome) == [("charge", "plus", "c2", 2016)]  # 3999 x 184/365 = 2015.99
    assert outcome.scheduled_cycle is M
    assert outcome.next_bill == (utc(2028, 1, 10), 798)


def test_it_applies_camera_changes_now_and_the_monthly_switch_later():
    year = Period(utc(2027, 1, 10), utc(2028, 1, 10))
    snapshot = active({"c1": "plus", "c2": "free"}, [held("plus", "c1", A)], cycle=A, period=year)
    outcome = price_change(snapshot, {"c1": "plus", "c2": "plus"}, M, utc(2027, 7, 10), CATALOG)
    assert lines(outcome) == [("charge", "plus", "c2", 2016)]  # at the annual price, this period
    assert outcome.state.cycle is A and outcome.scheduled_cycle is M


def test_it_restarts_the_period_when_switching_to_annual():
    snapshot = active({"c1": "plus"}, [held("plus", "c1")])
    outcome = price_change(snapshot, {"c1": "plus"}, A, utc(2027, 3, 11), CATALOG)
    assert outcome.case is Case.TO_ANNUAL
    assert lines(outcome) == [("charge", "plus", "c1", 3999), ("credit", "plus", "c1", 270)]
    assert money(outcome) == (3729, 3729, 0, 0, 0)
    assert outcome.anchor == utc(2027, 3, 11)
    assert outcome.period == Period(utc(2027, 3, 11), utc(2028, 3, 11))
    assert outcome.next_bill == (utc(2028, 3, 11), 3999)


def test_it_credits_a_switch_to_annual_worth_less_than_the_unused_months():
    cameras = {f"c{i}": "plus" for i in range(12)}
    snapshot = active(cameras, [held("plus", c) for c in cameras])
    target = {**dict.fromkeys(cameras, "free"), "c0": "plus"}
    outcome = price_change(snapshot, target, A, utc(2027, 3, 2), CATALOG)
    credits = 12 * 386  # 399 x 30/31 = 386.13
    assert money(outcome) == (3999 - credits, 0, 0, credits - 3999, 0)


def test_it_changes_nothing_for_the_same_state():
    outcome = price_change(TWO_PLUS, {"c1": "plus", "c2": "plus"}, M, utc(2027, 3, 20), CATALOG)
    assert outcome.case is Case.NOTHING
    assert outcome.lines == () and money(outcome) == (0, 0, 0, 0, 0)
    assert not outcome.changes_anything


def test_it_counts_a_free_camera_joining_premium_as_a_change_of_no_money():
    snapshot = active({"c1": "premium", "c2": "free"}, [held("premium", None)])
    outcome = price_change(snapshot, {"c1": "premium", "c2": "premium"}, None, utc(2027, 3, 20), CATALOG)
    assert outcome.lines == () and money(outcome) == (0, 0, 0, 0, 0)
    assert dict(outcome.state.cameras) == {"c1": "premium", "c2": "premium"}
    assert outcome.changes_anything  # the camera's plan changes, so the change is applied


def test_it_rounds_a_removed_plus_line_half_up():
    outcome = price_change(TWO_PLUS, {"c1": "plus", "c2": "free"}, None, utc(2027, 3, 16, 12), CATALOG)
    assert fraction_left(MARCH, utc(2027, 3, 16, 12)) == Fraction(31, 62)  # 15.5 / 31
    assert lines(outcome) == [("credit", "plus", "c2", 200)]
    assert money(outcome) == (-200, 0, 0, 200, 0)


def test_it_never_credits_more_than_the_line_paid_net_of_credits():
    snapshot = active({"c1": "plus"}, [held("plus", "c1", paid=142, credited=100)],
                      payments=[CardPayment("ORD-X000000000", 500)])
    outcome = price_change(snapshot, {"c1": "free"}, None, utc(2027, 3, 2), CATALOG)
    assert lines(outcome) == [("credit", "plus", "c1", 42)]
    assert outcome.refund == 42


def test_it_credits_nothing_and_voids_when_cancelling_an_unpaid_period():
    snapshot = active({"c1": "plus"}, [held("plus", "c1", paid=0)], status=Status.PAST_DUE)
    outcome = price_change(snapshot, {"c1": "free"}, None, utc(2027, 3, 3), CATALOG)
    assert outcome.case is Case.CANCEL and outcome.voids_unpaid_period
    assert money(outcome) == (0, 0, 0, 0, 0)


@pytest.mark.parametrize(("target", "cycle"), [
    ({"c1": "premium"}, None), ({"c1": "free", "c2": "plus"}, None), ({"c1": "plus"}, A)])
def test_it_refuses_priced_changes_while_past_due(target, cycle):
    snapshot = active({"c1": "plus", "c2": "free"}, [held("plus", "c1", paid=0)], status=Status.PAST_DUE)
    with pytest.raises(ChangeRefused) as refused:
        price_change(snapshot, {"c1": "plus", "c2": "free", **target}, cycle, utc(2027, 3, 3), CATALOG)
    assert refused.value.code == "past_due"


def test_it_refuses_eleven_premium_cameras_and_unknown_plans():
    cameras = {f"c{i}": "premium" for i in range(11)}
    with pytest.raises(ChangeRefused) as refused:
        price_change(none(dict.fromkeys(cameras, "free")), cameras, None, utc(2027, 3, 1), CATALOG)
    assert refused.value.code == "too_many_premium_cameras"
    with pytest.raises(ChangeRefused) as refused:
        price_change(none({"c1": "free"}), {"c1": "gold"}, None, utc(2027, 3, 1), CATALOG)
    assert refused.value.code == "unknown_plan"


def test_it_prices_ten_premium_cameras_as_one_line():
    cameras = {f"c{i}": "premium" for i in range(10)}
    state = PlanState(M, cameras)
    assert list(lines_of(state, CATALOG).values()) == [1299]
    assert state_price(PlanState(A, {**cameras, "p": "plus"}), CATALOG) == 12999 + 3999


# ---- the invariants of every outcome, over random snapshots, targets and instants

plans = st.sampled_from(["free", "plus", "premium"])
camera_ids = ["c1", "c2", "c3", "c4"]


@st.composite
def scenarios(draw):
    cycle = draw(st.sampled_from([M, A]))
    start = utc(2027, 1, 1) + timedelta(days=draw(st.integers(0, 800)))
    period = Period(start, add_months(start, cycle.months))
    cameras = {camera: draw(plans) for camera in camera_ids}
    state = PlanState(cycle, cameras)
    held_lines = []
    for key, price in lines_of(state, CATALOG).items():
        paid = draw(st.integers(0, price))
        held_lines.append(HeldLine(key, price, paid, draw(st.integers(0, paid))))
    payments = tuple(CardPayment(f"ORD-{i:010d}", draw(st.integers(1, 20000)))
                     for i in range(draw(st.integers(0, 3))))
    status = Status.ACTIVE if held_lines else Status.NONE
    snapshot = Snapshot(state, status, start if held_lines else None, period if held_lines else None,
                        tuple(held_lines), draw(st.integers(0, 5000)), payments)
    t = start + timedelta(seconds=draw(st.integers(0, period.seconds - 1)))
    target = {camera: draw(plans) for camera in camera_ids}
    return snapshot, target, draw(st.sampled_from([None, M, A])), t


@given(scenarios())
def test_it_keeps_the_money_identities_for_any_change(scenario):
    snapshot, target, cycle, t = scenario
    try:
        outcome = price_change(snapshot, target, cycle, t, CATALOG)
    except ChangeRefused as refused:
        assert refused.code == "too_many_premium_cameras"
        return
    assert outcome.net == outcome.charge_now + outcome.credit_used - outcome.credit_added - outcome.refund
    signed = sum(line.amount if line.kind == "charge" else -line.amount for line in outcome.lines)
    assert outcome.net == signed
    assert all(line.amount >= 0 for line in outcome.lines)
    assert min(outcome.charge_now, outcome.credit_used, outcome.credit_added, outcome.refund) >= 0
    assert outcome.credit_used <= snapshot.credit_balance
    held = {line.key: line for line in snapshot.lines}
    for line in outcome.lines:
        if line.kind == "credit":
            assert line.amount <= held[line.key].creditable
    refundable = {p.order_id: p.refundable for p in snapshot.card_payments}
    assert all(amount <= refundable[order] for order, amount in outcome.refunds)
    assert outcome.refund == sum(amount for _, amount in outcome.refunds)
    if outcome.refund:
        assert outcome.case is Case.CANCEL
    if outcome.period is not None:
        assert outcome.period.contains(t)
