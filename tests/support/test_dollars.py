"""Amounts typed in dollars, read exactly into integer cents: "12.34", "$12.34" and "12" are
amounts; anything else is refused with what to type instead, never guessed at."""

from __future__ import annotations

import re

import pytest

from camcare.support.dollars import AmountError, parse_dollars
from camcare.support.forms import CreditForm
from tests.support.pages import sent_from_page

ACCEPTED = {
    "12.34": 1234,
    "$12.34": 1234,
    "12": 1200,
    "$12": 1200,
    "$ 12.34": 1234,
    " 12.34 ": 1234,
    "12.3": 1230,
    "0.01": 1,
    ".50": 50,
    "1,234.56": 123456,
    "$1,234": 123400,
    "10,000.00": 1000000,
    "0.29": 29,  # 0.29 * 100 is 28.999999999999996 as a float: Decimal reads it exactly
    "19.99": 1999,
    "4.35": 435,  # 434.99999999999994 as a float
    "007": 700,
}


@pytest.mark.parametrize(("typed", "cents"), ACCEPTED.items(), ids=ACCEPTED.keys())
def test_it_reads_a_dollar_amount_into_exact_cents(typed, cents):
    assert parse_dollars(typed) == cents
    assert type(parse_dollars(typed)) is int


REFUSED = {
    "more than 2 decimals": ("12.345", "at most 2 decimals"),
    "3 decimals of zeros": ("12.000", "at most 2 decimals"),
    "negative": ("-5", "without a minus sign"),
    "negative with a dollar sign": ("-$5.00", "without a minus sign"),
    "dollar sign then minus": ("$-5", "without a minus sign"),
    "a unicode minus": ("\u22125", "without a minus sign"),
    "zero": ("0", "more than $0.00"),
    "zero cents": ("0.00", "more than $0.00"),
    "an exponent": ("1e3", "digits and at most one dot"),
    "a comma for the cents": ("12,34", "Use a dot before the cents"),
    "a comma for one cent digit": ("12,3", "Use a dot before the cents"),
    "a comma not every three digits": ("1,23,456", "every three digits"),
    "a comma after the dot": ("1.234,56", "every three digits"),
    "a comma with four digits": ("1,2345", "every three digits"),
    "empty": ("", "Type an amount"),
    "blank": ("   ", "Type an amount"),
    "a dot alone": (".", "digits and at most one dot"),
    "a trailing dot": ("12.", "digits and at most one dot"),
    "two dots": ("1.2.3", "digits and at most one dot"),
    "words": ("ten", "digits and at most one dot"),
    "a currency code": ("12 USD", "digits and at most one dot"),
    "another currency": ("€12", "digits and at most one dot"),
    "infinity": ("inf", "digits and at most one dot"),
    "not a number": ("NaN", "digits and at most one dot"),
    "Arabic-Indic digits": ("١٢", "digits and at most one dot"),
    "full-width digits": ("１２", "digits and at most one dot"),
    "a plus sign": ("+12", "digits and at most one dot"),
    "an underscore": ("1_000", "digits and at most one dot"),
    "a space inside": ("12 34", "digits and at most one dot"),
    "far too long": ("9" * 5000, "too long"),
}


@pytest.mark.parametrize(("typed", "says"), REFUSED.values(), ids=REFUSED.keys())
def test_it_refuses_what_is_not_plainly_an_amount(typed, says):
    with pytest.raises(AmountError, match=re.escape(says)):
        parse_dollars(typed)


def test_it_caps_one_action_at_ten_thousand_dollars():
    assert CreditForm({"amount": "10,000", "reason": "r", "request_key": "a" * 32}).is_valid()
    form = CreditForm({"amount": "10,000.01", "reason": "r", "request_key": "a" * 32})
    assert form.errors["amount"] == ["One action moves at most $10,000.00."]


def test_it_shows_the_refusal_on_the_page_and_moves_nothing(admin_client, owner):
    data = sent_from_page(admin_client, owner, "credit", amount="12.345", reason="Outage")
    response = admin_client.post(f"/support/accounts/{owner.pk}/credit/", data)
    assert response.status_code == 200
    assert "Type at most 2 decimals (cents), like 12.34." in response.content.decode()
    assert not owner.orders.exists()


def test_it_shows_amounts_in_dollars_on_the_account_page(admin_client, paid_owner):
    body = admin_client.get(f"/support/accounts/{paid_owner.pk}/").content.decode()
    assert '<td class="num amount" data-label="Amount">$3.99</td>' in body
    assert "Amount (USD)" in body and "Amount (cents)" not in body
