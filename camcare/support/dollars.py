"""Amounts typed by staff in dollars ("12.34", "$12.34", "12", "1,234.50"), read exactly
into integer cents: digits are parsed as a Decimal, never a float, and anything that is
not plainly an amount is refused with the reason, never guessed at.

Pure Python: the form field around it is in forms.py."""

from __future__ import annotations

import re
from decimal import Decimal

# ASCII digits only ([0-9], not \d: "١٢" is a digit to Python, not an amount to staff).
# Thousands separators only every three digits from the dot; at most two decimals.
_AMOUNT = re.compile(r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.(?P<cents>[0-9]{1,2}))?")
MAX_TYPED = 24  # characters: room for any amount staff may move, with its separators
MINUS_SIGNS = ("-", "\u2212", "\u2012", "\u2013")  # hyphen-minus, minus, figure and en dash


class AmountError(ValueError):
    """What is wrong with the typed amount, in words for the form."""


def parse_dollars(typed: str) -> int:
    """The typed dollar amount in cents, an int > 0 (the form sets the upper bound)."""
    text = typed.strip()
    if not text:
        raise AmountError("Type an amount in dollars, like 12.34.")
    if len(text) > MAX_TYPED:
        raise AmountError("That is too long for an amount: type it like 12.34.")
    text = _without_dollar_sign(text)
    if text.startswith(MINUS_SIGNS):
        raise AmountError("Type the amount without a minus sign: it is always more than $0.00.")
    match = _AMOUNT.fullmatch(text)
    if match is None or not (match["whole"] or match["cents"]):
        raise AmountError(_why_not_an_amount(text))
    whole = (match["whole"] or "0").replace(",", "")
    cents = int(Decimal(f"{whole}.{match['cents'] or '0'}").scaleb(2))  # exact: at most 2 decimals
    if cents <= 0:
        raise AmountError("The amount must be more than $0.00.")
    return cents


def _without_dollar_sign(text: str) -> str:
    """"$12.34", "$ 12.34" and "-$5" read without their "$" (the minus is refused after)."""
    for sign in ("", *MINUS_SIGNS):
        if text.startswith(sign + "$"):
            return sign + text[len(sign) + 1:].lstrip()
    return text


def _why_not_an_amount(text: str) -> str:
    """The clearest reason a text that is not an amount is not one."""
    if re.fullmatch(r"[0-9,]*\.[0-9]{3,}", text):
        return "Type at most 2 decimals (cents), like 12.34."
    if re.fullmatch(r"[0-9]+,[0-9]{1,2}", text):
        return "Use a dot before the cents (12.34); a comma only separates thousands (1,234.56)."
    if "," in text and re.fullmatch(r"[0-9,.]+", text):
        return "A comma only separates thousands, every three digits: 1,234.56."
    return "Type the amount with digits and at most one dot, like 12.34 or $12.34."

