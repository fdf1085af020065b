"""What the fast pricing path stands on (issue 10) gives exactly what the rules say: the
catalog's tables computed once, proration in integers (POLICY.md section 4: exact, halves
up, once per line), and a snapshot without card payments wherever no refund can happen."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camcare.domain.catalog import Catalog
from camcare.domain.money import round_half_up, round_half_up_ratio
from camcare.domain.periods import Cycle, Period, add_months
from camcare.domain.pricing import (
    CardPayment,
    ChangeRefused,
    HeldLine,
    LineKey,
    PlanState,
    Snapshot,
    Status,
    can_refund,
    history_days,
    lines_of,
    price_change,
    prorated,
    seconds_left,
    state_price,
    validate_state,
)
from tests.domain.catalog_texts import FREE, PLUS

CATALOG = Catalog.load(Path(__file__).resolve().parents[2] / "catalog.toml")
M, A = Cycle.MONTHLY, Cycle.ANNUAL
MARCH = Period(datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))

# An account-scope plan sold only yearly (0 a month), and a second account-scope plan with a
# small limit: the shapes the shipped catalog does not have.
FAMILY = """
[[plan]]
code = "family"
name = "Family"
scope = "account"
max_cameras = 2
history_days = 7
currency = "USD"
prices = { monthly = 0, annual = 5000 }
"""
PREMIUM = """
[[plan]]
code = "premium"
name = "Premium"
scope = "account"
max_cameras = 3
history_days = 30
currency = "USD"
prices = { monthly = 1299, annual = 12999 }
"""
WIDE = Catalog.from_toml(FREE + PLUS + PREMIUM + FAMILY)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---- the catalog's tables


def test_it_tabulates_each_paid_plan_with_its_price_and_scope_per_cycle():
    assert dict(CATALOG.paid_lines(M)) == {"plus": (399, True), "premium": (1299, False)}
    assert dict(CATALOG.paid_lines(A)) == {"plus": (3999, True), "premium": (12999, False)}
    # A plan free on one cycle is still a paid plan there: the same plans on every cycle.
    assert dict(WIDE.paid_lines(M))["family"] == (0, False)
    assert set(WIDE.paid_lines(M)) == set(WIDE.paid_lines(A)) == {"plus", "premium", "family"}


def test_it_tabulates_history_days_codes_and_the_limits_of_account_plans():
    assert dict(CATALOG.history_days) == {"free": 2, "plus": 14, "premium": 30}
    assert CATALOG.codes == frozenset({"free", "plus", "premium"})
    assert dict(CATALOG.camera_limits) == {"premium": 10}
    assert dict(WIDE.camera_limits) == {"premium": 3, "family": 2}


# ---- integer proration


@given(st.integers(-10**12, 10**12), st.integers(1, 10**7), st.integers(1, 50))
def test_it_rounds_a_ratio_exactly_like_the_reduced_fraction(numerator, denominator, factor):
    expected = round_half_up(Fraction(numerator, denominator))
    assert round_half_up_ratio(numerator, denominator) == expected
    assert round_half_up_ratio(numerator * factor, denominator * factor) == expected  # not reduced


@pytest.mark.parametrize(("numerator", "denominator", "expected"), [
    (1995, 10, 200), (-1, 2, -1), (1, 2, 1), (0, 7, 0), (49999, 100000, 0), (-3, 2, -2), (7, 1, 7)])
def test_it_rounds_ratios_halves_away_from_zero(numerator, denominator, expected):
    rounded = round_half_up_ratio(numerator, denominator)
    assert (rounded, type(rounded)) == (expected, int)


def test_it_gives_the_seconds_left_and_the_period_length_unreduced():
    assert seconds_left(MARCH, utc(2027, 3, 16, 12)) == (15 * 86400 + 12 * 3600, 31 * 86400)
    assert seconds_left(MARCH, MARCH.start) == (31 * 86400, 31 * 86400)
    assert seconds_left(MARCH, MARCH.end - timedelta(seconds=1)) == (1, 31 * 86400)
    with pytest.raises(ValueError, match="outside the current period"):
        seconds_left(MARCH, MARCH.end)
    with pytest.raises(ValueError, match="outside the current period"):
        seconds_left(MARCH, MARCH.start - timedelta(seconds=1))


def test_it_prorates_the_worked_examples_in_integers():
    day = 86400
    assert prorated(399, 21 * day, 31 * day) == 270
    assert prorated(1299, 21 * day, 31 * day) == 880
    assert prorated(399, 31 * day // 2, 31 * day) == 200  # 199.5, halves up
    assert prorated(3999, 325 * day, 365 * day) == 3561
    assert prorated(3999, 265 * day, 365 * day) == 2903


# ---- the state functions on the tables


def test_it_raises_key_error_naming_a_plan_the_catalog_does_not_have():
    with pytest.raises(KeyError) as missing:
        lines_of(PlanState(M, {"c1": "plus", "c2": "gold"}), CATALOG)
    assert missing.value.args == ("gold",)
    with pytest.raises(KeyError):
        state_price(PlanState(M, {"c1": "gold"}), CATALOG)


def test_it_prices_a_plan_that_is_free_on_this_cycle_as_a_line_of_zero():
    state = PlanState(M, {"c2": "family", "c1": "free", "c3": "family"})
    assert lines_of(state, WIDE) == {LineKey("family", None, M): 0}
    assert state_price(state.with_cycle(A), WIDE) == 5000


def test_it_reads_a_cameras_history_days_from_its_plan_or_free():
    state = PlanState(M, {"c1": "plus", "c2": "premium"})
    assert [history_days(state, CATALOG, camera) for camera in ("c1", "c2", "new")] == [14, 30, 2]


def test_it_names_the_first_account_plan_over_its_limit_in_camera_order():
    # Both plans are over their limits; Premium's camera comes first.
    cameras = {"a": "premium", "b": "family", "c": "family", "d": "family", **{f"p{i}": "premium" for i in range(3)}}
    with pytest.raises(ChangeRefused) as refused:
        validate_state(PlanState(M, cameras), WIDE)
    assert refused.value.message == "Premium covers at most 3 cameras; 4 chosen. Put the others on another plan."
    with pytest.raises(ChangeRefused) as refused:
        validate_state(PlanState(M, {"z": "family", **cameras}), WIDE)
    assert refused.value.message == "Family covers at most 2 cameras; 4 chosen. Put the others on another plan."


def test_it_names_the_first_unknown_plan_in_camera_order():
    with pytest.raises(ChangeRefused) as refused:
        validate_state(PlanState(M, {"c1": "plus", "c2": "gold", "c3": "silver"}), CATALOG)
    assert (refused.value.code, refused.value.message) == ("unknown_plan", "There is no plan 'gold'.")


# ---- card payments are read only when a refund can happen


def test_it_says_only_a_target_without_a_paid_line_can_refund():
    assert can_refund({}, CATALOG)
    assert can_refund({"c1": "free", "c2": "free"}, CATALOG)
    assert not can_refund({"c1": "free", "c2": "plus"}, CATALOG)
    assert not can_refund({"c1": "premium"}, CATALOG)
    assert not can_refund({"c1": "family"}, WIDE)  # paid on one cycle only


plans = st.sampled_from(["free", "plus", "premium", "family"])
cameras_of = ["c1", "c2", "c3"]


@st.composite
def held_states(draw):
    cycle = draw(st.sampled_from([M, A]))
    start = utc(2027, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
    period = Period(start, add_months(start, cycle.months))
    state = PlanState(cycle, {camera: draw(plans) for camera in cameras_of})
    lines = []
    for key, price in lines_of(state, WIDE).items():
        paid = draw(st.integers(0, price))
        lines.append(HeldLine(key, price, paid, draw(st.integers(0, paid))))
    status = draw(st.sampled_from([Status.ACTIVE, Status.PAST_DUE])) if lines else Status.NONE
    payments = tuple(CardPayment(f"ORD-{i:010d}", draw(st.integers(1, 20000))) for i in range(draw(st.integers(1, 3))))
    snapshot = Snapshot(state, status, start if lines else None, period if lines else None, tuple(lines),
                        draw(st.integers(0, 5000)), payments, draw(st.sampled_from([None, M])))
    at = start + timedelta(seconds=draw(st.integers(0, period.seconds - 1)))
    target = {camera: draw(plans) for camera in cameras_of}
    return snapshot, target, draw(st.sampled_from([None, M, A])), at


def priced(snapshot, target, cycle, at):
    try:
        return price_change(snapshot, target, cycle, at, WIDE)
    except ChangeRefused as refused:
        return refused.code


@given(held_states())
def test_it_prices_without_card_payments_the_same_unless_the_target_can_refund(scenario):
    snapshot, target, cycle, at = scenario
    if not can_refund(target, WIDE):
        assert priced(replace(snapshot, card_payments=()), target, cycle, at) == priced(snapshot, target, cycle, at)
