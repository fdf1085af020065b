"""Money in integer minor units (cents) with its ISO currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


def is_currency_code(code: object) -> bool:
    """Three upper-case ASCII letters, the shape of an ISO 4217 code ("USD")."""
    return isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()


@dataclass(frozen=True, slots=True, order=True)
class Money:
    amount: int  # minor units (cents); may be negative for signed sums
    currency: str  # ISO 4217 code, e.g. "USD"

    def __post_init__(self) -> None:
        if type(self.amount) is not int:
            raise TypeError(f"Money amount must be an int of minor units, not {type(self.amount).__name__}")
        if not is_currency_code(self.currency):
            raise ValueError(f"not an ISO currency code: {self.currency!r}")

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money only adds to Money")
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)


def round_half_up(value: Fraction) -> int:
    """Round an exact fraction to the nearest integer, halves away from zero.

    POLICY.md section 4: rounding is to the nearest minor unit, halves up, computed
    exactly. Amounts rounded here are never negative, so "up" and "away from zero" agree.
    """
    return round_half_up_ratio(value.numerator, value.denominator)


def round_half_up_ratio(numerator: int, denominator: int) -> int:
    """round_half_up(Fraction(numerator, denominator)) in integers alone, for a denominator
    > 0: floor(n/d + 1/2) is the same number whether or not n/d is in lowest terms, so
    there is no gcd to take (the proration of every priced line comes through here)."""
    if numerator < 0:
        return -round_half_up_ratio(-numerator, denominator)
    return (numerator * 2 + denominator) // (denominator * 2)
