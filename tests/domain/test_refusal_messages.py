"""What a refusal says, word for word: the API and the portal show these messages to the
owner (ChangeRefused), and the others are what an operator reads in a log or a traceback
when the catalog, an amount or an instant is wrong (POLICY.md sections 1, 3 and 4)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from camcare.domain.catalog import Catalog
from camcare.domain.money import Money
from camcare.domain.periods import Cycle, Period, period_at, whole_seconds
from camcare.domain.pricing import (
    ChangeRefused,
    HeldLine,
    LineKey,
    PlanState,
    Snapshot,
    Status,
    fraction_left,
    price_change,
)
from tests.domain.catalog_texts import FREE

CATALOG = Catalog.load(Path(__file__).resolve().parents[2] / "catalog.toml")
MARCH = Period(datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
AT = datetime(2027, 3, 11, tzinfo=UTC)


def refusal(snapshot: Snapshot, target: dict, cycle: Cycle | None = None) -> ChangeRefused:
    with pytest.raises(ChangeRefused) as refused:
        price_change(snapshot, target, cycle, AT, CATALOG)
    return refused.value


def no_subscription(cameras: dict) -> Snapshot:
    return Snapshot(PlanState(Cycle.MONTHLY, cameras), Status.NONE, None, None, (), 0, ())


def past_due_plus() -> Snapshot:
    line = HeldLine(LineKey("plus", "c1", Cycle.MONTHLY), 399, 0)
    return Snapshot(PlanState(Cycle.MONTHLY, {"c1": "plus", "c2": "free"}), Status.PAST_DUE,
                    MARCH.start, MARCH, (line,), 0, ())


def catalog_error(text: str) -> str:
    with pytest.raises(ValueError) as refused:
        Catalog.from_toml(text)
    return str(refused.value)


def test_it_names_the_unknown_plan():
    refused = refusal(no_subscription({"c1": "free"}), {"c1": "gold"})
    assert (refused.code, refused.message, str(refused)) == (
        "unknown_plan", "There is no plan 'gold'.", "There is no plan 'gold'.")


def test_it_says_how_many_cameras_premium_covers_and_what_to_do():
    cameras = {f"c{i}": "premium" for i in range(11)}
    refused = refusal(no_subscription(dict.fromkeys(cameras, "free")), cameras)
    expected = "Premium covers at most 10 cameras; 11 chosen. Put the others on another plan."
    assert (refused.code, refused.message, str(refused)) == ("too_many_premium_cameras", expected, expected)


def test_it_tells_a_past_due_owner_to_pay_or_cancel():
    refused = refusal(past_due_plus(), {"c1": "premium", "c2": "free"})
    expected = ("The last bill is unpaid: update your card to pay it, or cancel. "
                "Other plan changes wait until it is paid.")
    assert (refused.code, refused.message, str(refused)) == ("past_due", expected, expected)


def test_it_refuses_a_change_instant_outside_the_period():
    with pytest.raises(ValueError) as refused:
        fraction_left(MARCH, MARCH.end)
    assert str(refused.value) == "the change instant is outside the current period"


def test_it_refuses_an_instant_before_the_anchor_in_words():
    with pytest.raises(ValueError) as refused:
        period_at(MARCH.start, Cycle.MONTHLY, datetime(2027, 2, 28, tzinfo=UTC))
    assert str(refused.value) == "an instant before the anchor has no period"


def test_it_refuses_a_naive_datetime_in_words():
    with pytest.raises(ValueError) as refused:
        whole_seconds(datetime(2027, 3, 11))
    assert str(refused.value) == "naive datetimes are not instants; use UTC-aware datetimes"


@pytest.mark.parametrize(("amount", "kind"), [(3.99, "float"), ("399", "str"), (None, "NoneType")])
def test_it_names_the_type_of_an_amount_that_is_not_cents(amount, kind):
    with pytest.raises(TypeError) as refused:
        Money(amount, "USD")
    assert str(refused.value) == f"Money amount must be an int of minor units, not {kind}"


def test_it_quotes_a_currency_that_is_not_a_code():
    with pytest.raises(ValueError) as refused:
        Money(100, "usd")
    assert str(refused.value) == "not an ISO currency code: 'usd'"


@pytest.mark.parametrize("other", [1, "1.00 USD", None])
def test_it_says_money_only_adds_to_money(other):
    with pytest.raises(TypeError) as refused:
        Money(100, "USD") + other
    assert str(refused.value) == "Money only adds to Money"


def test_it_names_the_currencies_it_will_not_mix():
    with pytest.raises(ValueError) as refused:
        Money(100, "USD") - Money(100, "EUR")
    assert str(refused.value) == "currency mismatch: USD vs EUR"


def test_it_says_the_catalog_needs_a_free_plan():
    plus_only = FREE.replace('"free"', '"plus"').replace("monthly = 0", "monthly = 399")
    assert catalog_error(plus_only) == "the catalog needs a 'free' plan"


def test_it_says_the_free_plan_must_cost_nothing():
    assert catalog_error(FREE.replace("annual = 0", "annual = 1")) == "the 'free' plan must cost 0"


def test_it_says_the_catalog_needs_plan_entries():
    assert catalog_error("title = 'plans'\n") == "the catalog needs [[plan]] entries"


def test_it_says_each_plan_must_be_a_table():
    assert catalog_error("plan = ['free']\n") == "each [[plan]] must be a table"


def test_it_names_the_plan_and_the_key_of_a_field_of_the_wrong_type():
    assert catalog_error(FREE.replace("history_days = 2", 'history_days = "2"')) == (
        "plan 'free': 'history_days' must be int")
