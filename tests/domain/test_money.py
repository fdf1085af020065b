"""Money in integer minor units and the one rounding rule (POLICY.md sections 1 and 4)."""

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camcare.domain.money import Money, round_half_up


def test_it_adds_and_subtracts_cents_of_one_currency():
    assert Money(399, "USD") + Money(880, "USD") == Money(1279, "USD")
    assert Money(399, "USD") - Money(880, "USD") == Money(-481, "USD")
    assert -Money(270, "USD") == Money(-270, "USD")
    assert Money.zero("EUR") == Money(0, "EUR")


@pytest.mark.parametrize("amount", [3.99, Decimal("3.99"), "399", True, None, Fraction(399)])
def test_it_refuses_anything_but_an_int_of_cents(amount):
    with pytest.raises(TypeError):
        Money(amount, "USD")


@pytest.mark.parametrize("currency", ["usd", "US", "USDD", "", "U$D"])
def test_it_refuses_a_code_that_is_not_iso(currency):
    with pytest.raises(ValueError):
        Money(100, currency)


def test_it_refuses_to_mix_currencies():
    with pytest.raises(ValueError, match="currency mismatch"):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(ValueError, match="currency mismatch"):
        Money(100, "USD") - Money(100, "EUR")


def test_it_refuses_to_add_a_bare_number():
    with pytest.raises(TypeError):
        Money(100, "USD") + 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(1995, 10), 200),  # 199.5: POLICY.md section 11, halves up
        (Fraction(6495, 10), 650),  # 649.5
        (Fraction(27029, 100), 270),
        (Fraction(87997, 100), 880),
        (Fraction(1, 2), 1),
        (Fraction(-1, 2), -1),  # away from zero, like Decimal's ROUND_HALF_UP
        (Fraction(49999, 100000), 0),
        (Fraction(3, 1), 3),
        (Fraction(0), 0),
    ],
)
def test_it_rounds_exact_halves_up(value, expected):
    assert round_half_up(value) == expected


def test_it_rounds_the_worked_example_fractions():
    assert round_half_up(Fraction(399 * 21, 31)) == 270
    assert round_half_up(Fraction(1299 * 21, 31)) == 880
    assert round_half_up(Fraction(3999 * 325, 365)) == 3561
    assert round_half_up(Fraction(3999 * 265, 365)) == 2903


@given(st.integers(-10**12, 10**12), st.integers(1, 10**7))
def test_it_rounds_like_decimal_round_half_up(numerator, denominator):
    # 40 digits: n/d is never closer to a half than 1/(2d) unless it is one, so the Decimal
    # quotient is exact enough to land on the same side of every tie.
    with localcontext() as context:
        context.prec = 40
        quotient = Decimal(numerator) / Decimal(denominator)
        expected = int(quotient.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    rounded = round_half_up(Fraction(numerator, denominator))
    assert type(rounded) is int
    assert rounded == expected
